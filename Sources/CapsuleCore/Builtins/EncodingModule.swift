#if canImport(Glibc)
import Glibc
#endif

/// `import "encoding"`: bytes as text and back. Base64 (RFC 4648, standard and URL-safe
/// alphabets) and hex. Encoders take bytes or a string (its UTF-8) and return a string;
/// decoders take a string and return bytes, and name the offset (in characters) of the
/// first thing wrong. Text encodings of strings are methods: `s.encode(e)`, `b.decode(e)`.
extension Runtime {
    func makeEncodingModule() -> Value {
        let m = newModule(name: "encoding", sourceName: "<encoding>", directory: nil)
        pushRoot(Value(m))
        defer { popRoot() }
        func define(_ name: String, _ body: @escaping NativeBody) {
            setModuleVariable(m, name, newNative(name: name, arity: 1, body))
        }
        define("base64_encode") { rt, a, _ in rt.base64Encode(a[0], "base64_encode", url: false) ?? Runtime.failure }
        define("base64url_encode") { rt, a, _ in rt.base64Encode(a[0], "base64url_encode", url: true) ?? Runtime.failure }
        define("base64_decode") { rt, a, _ in rt.base64Decode(a[0], "base64_decode", url: false) ?? Runtime.failure }
        define("base64url_decode") { rt, a, _ in rt.base64Decode(a[0], "base64url_decode", url: true) ?? Runtime.failure }
        define("hex_encode") { rt, a, _ in
            guard let (p, n) = rt.expectData(a[0], "hex_encode") else { return Runtime.failure }
            return rt.hexEncode(p, n) ?? Runtime.failure
        }
        define("hex_decode") { rt, a, _ in rt.hexDecode(a[0]) ?? Runtime.failure }
        return Value(m)
    }

    /// The bytes of a bytes or string argument. Raises and returns nil for anything else.
    func expectData(_ v: Value, _ function: String) -> (UnsafePointer<UInt8>?, Int)? {
        if v.isString { return (UnsafePointer(v.obj(ObjString.self).bytes), v.obj(ObjString.self).pointee.count) }
        if v.isObject(.bytes) {
            let b = v.obj(ObjBytes.self)
            return (b.pointee.data.map { UnsafePointer($0) }, b.pointee.count)
        }
        raise("\(function) argument must be bytes or a string, got \(typeName(v))")
        return nil
    }

    /// A new ASCII string of `count` bytes that `fill` writes. Nil after raising.
    private func asciiString(count: Int, _ fill: (UnsafeMutablePointer<UInt8>) -> Void) -> Value? {
        if count > (1 << 31) { raise("string is too long"); return nil }
        guard reserveHeap(MemoryLayout<ObjString>.stride + count + 1) else { return nil }
        let r = allocateString(count: count)
        fill(r.bytes)
        finishString(r, scalarCount: count, ascii: true)
        return Value(r)
    }

    /// `b.hex()` and `encoding.hex_encode(data)`: two lowercase digits per byte.
    func hexEncode(_ p: UnsafePointer<UInt8>?, _ n: Int) -> Value? {
        let (size, overflow) = n.multipliedReportingOverflow(by: 2)
        if overflow { raise("string is too long"); return nil }
        // NOTE: `p` points into a rooted argument; `out` has room for 2n bytes.
        return asciiString(count: size) { out in
            guard let p else { return }
            let digits: StaticString = "0123456789abcdef"
            let d = digits.utf8Start
            for j in 0..<n {
                out[2 * j] = d[Int(p[j] >> 4)]
                out[2 * j + 1] = d[Int(p[j] & 15)]
            }
        }
    }

    /// The value of a hex digit, or nil.
    @inline(__always)
    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }

    /// `encoding.hex_decode(text)`: pairs of hex digits (either case), nothing else.
    func hexDecode(_ v: Value) -> Value? {
        guard let s = expectString(v, "hex_decode argument") else { return nil }
        let n = s.pointee.count, b = s.bytes
        for i in 0..<n where Runtime.hexValue(b[i]) == nil {
            raise("hex_decode: invalid hex digit \(Runtime.scalarName(Runtime.decodeScalar(b + i).0)) at offset \(scalarIndex(s, byte: i))")
            return nil
        }
        if n % 2 != 0 { raise("hex_decode: odd number of digits (\(n))"); return nil }
        guard reserveHeap(MemoryLayout<ObjBytes>.stride + n / 2) else { return nil }
        let r = newBytes(count: n / 2)
        guard let out = r.pointee.data else { return Value(r) }
        for j in 0..<(n / 2) {
            // NOTE: every byte was checked to be a hex digit above.
            out[j] = (Runtime.hexValue(b[2 * j]) ?? 0) << 4 | (Runtime.hexValue(b[2 * j + 1]) ?? 0)
        }
        return Value(r)
    }

    private static let base64Standard: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    private static let base64URL: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

    /// Base64 of the data with `=` padding (both alphabets).
    func base64Encode(_ v: Value, _ function: String, url: Bool) -> Value? {
        guard let (p, n) = expectData(v, function) else { return nil }
        let groups = n / 3 + (n % 3 == 0 ? 0 : 1)
        let (size, overflow) = groups.multipliedReportingOverflow(by: 4)
        if overflow { raise("string is too long"); return nil }
        let alphabet = (url ? Runtime.base64URL : Runtime.base64Standard).utf8Start
        // NOTE: `p` points into a rooted argument; `out` has room for 4 bytes per 3 (or
        // fewer) of its n bytes.
        return asciiString(count: size) { out in
            guard let p else { return }
            var i = 0, o = 0
            while i + 3 <= n {
                let w = UInt32(p[i]) << 16 | UInt32(p[i + 1]) << 8 | UInt32(p[i + 2])
                out[o] = alphabet[Int(w >> 18)]
                out[o + 1] = alphabet[Int(w >> 12 & 63)]
                out[o + 2] = alphabet[Int(w >> 6 & 63)]
                out[o + 3] = alphabet[Int(w & 63)]
                i += 3
                o += 4
            }
            if i < n {
                let w = UInt32(p[i]) << 16 | (i + 1 < n ? UInt32(p[i + 1]) << 8 : 0)
                out[o] = alphabet[Int(w >> 18)]
                out[o + 1] = alphabet[Int(w >> 12 & 63)]
                out[o + 2] = i + 1 < n ? alphabet[Int(w >> 6 & 63)] : 0x3D
                out[o + 3] = 0x3D
            }
        }
    }

    /// The 6-bit value of a base64 character, or nil.
    @inline(__always)
    private static func base64Value(_ c: UInt8, url: Bool) -> UInt32? {
        switch c {
        case 0x41...0x5A: return UInt32(c - 0x41)
        case 0x61...0x7A: return UInt32(c - 0x61 + 26)
        case 0x30...0x39: return UInt32(c - 0x30 + 52)
        case 0x2B where !url: return 62
        case 0x2F where !url: return 63
        case 0x2D where url: return 62
        case 0x5F where url: return 63
        default: return nil
        }
    }

    /// Decodes base64: the standard alphabet needs its `=` padding, the URL-safe one may
    /// leave it out; no whitespace. Errors name the offset of the first wrong character.
    func base64Decode(_ v: Value, _ function: String, url: Bool) -> Value? {
        guard let s = expectString(v, "\(function) argument") else { return nil }
        let b = s.bytes
        var n = s.pointee.count
        // Padding: at most two `=`, only at the end of the last group of four.
        var pad = 0
        while pad < n && pad < 3 && b[n - 1 - pad] == 0x3D { pad += 1 }
        let data = n - pad
        for i in 0..<data where Runtime.base64Value(b[i], url: url) == nil {
            let what = b[i] == 0x3D ? "unexpected padding" : "invalid character \(Runtime.scalarName(Runtime.decodeScalar(b + i).0))"
            raise("\(function): \(what) at offset \(scalarIndex(s, byte: i))")
            return nil
        }
        if pad == 3 || (pad > 0 && n % 4 != 0) {
            raise("\(function): wrong padding at offset \(data)")
            return nil
        }
        if data % 4 == 1 {
            raise("\(function): truncated input: a lone character at offset \(data - 1)")
            return nil
        }
        if pad == 0 && data % 4 != 0 && !url {
            raise("\(function): missing padding at offset \(n)")
            return nil
        }
        n = data
        let size = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1)
        guard reserveHeap(MemoryLayout<ObjBytes>.stride + size) else { return nil }
        let r = newBytes(count: size)
        guard let out = r.pointee.data else { return Value(r) }
        var w: UInt32 = 0, bits = 0, o = 0
        // NOTE: every character was checked above; `size` counts the whole bytes that n
        // characters of 6 bits hold, and only whole bytes are written.
        for i in 0..<n {
            w = w << 6 | (Runtime.base64Value(b[i], url: url) ?? 0)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out[o] = UInt8(truncatingIfNeeded: w >> UInt32(bits))
                o += 1
            }
        }
        return Value(r)
    }
}
