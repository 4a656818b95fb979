#if canImport(Glibc)
import Glibc
#endif

/// The encodings `s.encode(e)` and `b.decode(e)` know.
enum TextEncoding {
    case utf8, latin1, ascii

    var name: String {
        switch self {
        case .utf8: return "utf-8"
        case .latin1: return "latin-1"
        case .ascii: return "ascii"
        }
    }
}

/// `s.encode(encoding)` and `b.decode(encoding)`: UTF-8 (the default), Latin-1 (ISO 8859-1:
/// each byte is the scalar of the same number) and ASCII. Strict both ways: a scalar the
/// encoding cannot hold, or bytes that are not text in it, is an error that names the offset
/// (in scalars of the string, in bytes of the bytes).
extension Runtime {
    /// The encoding an argument names (case does not matter; `utf8`, `latin1`,
    /// `iso-8859-1` and `us-ascii` are accepted too). Raises and returns nil else.
    func expectEncoding(_ v: Value) -> TextEncoding? {
        guard let s = expectString(v, "encoding") else { return nil }
        switch s.string.lowercased() {
        case "utf-8", "utf8": return .utf8
        case "latin-1", "latin1", "iso-8859-1", "iso8859-1": return .latin1
        case "ascii", "us-ascii": return .ascii
        default:
            raise("unknown encoding \(describe(v, quoted: true)) (known: \"utf-8\", \"latin-1\", \"ascii\")")
            return nil
        }
    }

    /// The bytes of `s` in `encoding`. Nil after raising.
    func encode(_ s: UnsafeMutablePointer<ObjString>, _ encoding: TextEncoding) -> Value? {
        let n = s.pointee.count, b = s.bytes
        let size = encoding == .utf8 || s.isASCII ? n : s.pointee.scalarCount
        if encoding != .utf8 && !s.isASCII {
            // The first scalar the encoding cannot hold is an error.
            let highest: UInt32 = encoding == .latin1 ? 0xFF : 0x7F
            var i = 0, scalar = 0
            while i < n {
                let (code, k) = Runtime.decodeScalar(b + i)
                if code > highest {
                    raise("cannot encode \(Runtime.scalarName(code)) at offset \(scalar) in \(encoding.name)")
                    return nil
                }
                i += k
                scalar += 1
            }
        }
        guard reserveHeap(MemoryLayout<ObjBytes>.stride + size) else { return nil }
        let r = newBytes(count: size)
        guard let out = r.pointee.data else { return Value(r) }
        if size == n {
            // NOTE: `out` holds `size` == n bytes, `b` holds n.
            memcpy(out, b, n)
        } else {
            // Latin-1 of non-ASCII text: every scalar (all at most U+00FF, checked above)
            // becomes one byte.
            var i = 0, o = 0
            while i < n {
                let (code, k) = Runtime.decodeScalar(b + i)
                out[o] = UInt8(truncatingIfNeeded: code)
                i += k
                o += 1
            }
        }
        return Value(r)
    }

    /// `U+00E9 'é'` in error messages.
    static func scalarName(_ code: UInt32) -> String {
        let hex = String(code, radix: 16, uppercase: true)
        let padded = String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        guard let u = Unicode.Scalar(code), code >= 0x20, code != 0x7F else { return "U+\(padded)" }
        return "U+\(padded) '\(Character(u))'"
    }

    /// The string `b[0..<n]` encodes in `encoding`. Nil after raising.
    func decode(_ p: UnsafePointer<UInt8>?, _ n: Int, _ encoding: TextEncoding) -> Value? {
        guard let p, n > 0 else { return Value(emptyString()) }
        var size = n
        switch encoding {
        case .utf8:
            if let bad = UTF8Validation.firstInvalid(UnsafeBufferPointer(start: p, count: n)) {
                raise("bytes are not valid UTF-8 at offset \(bad)")
                return nil
            }
        case .ascii:
            for i in 0..<n where p[i] >= 0x80 {
                raise("byte 0x\(String(p[i], radix: 16, uppercase: true)) at offset \(i) is not ASCII")
                return nil
            }
        case .latin1:
            for i in 0..<n where p[i] >= 0x80 { size += 1 }
        }
        guard reserveHeap(MemoryLayout<ObjString>.stride + size + 1) else { return nil }
        // NOTE: `p` points into a bytes object the caller roots (the receiver), so the
        // collection `allocateString` may run leaves it in place.
        let r = allocateString(count: size)
        if size == n {
            memcpy(r.bytes, p, n)
            finishValidString(r, ascii: encoding == .ascii)
        } else {
            var o = 0
            for i in 0..<n { o += Runtime.encodeScalar(UInt32(p[i]), r.bytes + o) }
            finishString(r, scalarCount: n, ascii: false)
        }
        return Value(r)
    }

    /// A new empty string.
    func emptyString() -> UnsafeMutablePointer<ObjString> {
        let r = allocateString(count: 0)
        finishString(r, scalarCount: 0, ascii: true)
        return r
    }
}
