#if canImport(Glibc)
import Glibc
#endif

/// Finding scalars in a string without walking it from the start, and one-scalar strings
/// without allocating.
///
/// A string's length and indices count Unicode scalars; its bytes are UTF-8. An ASCII string
/// maps scalar `n` to byte `n`. A longer non-ASCII string gets a side table on its first
/// index or slice (`ObjString.offsets`): the byte offset of every `indexStride`-th scalar, and
/// the last scalar looked up with its offset. A lookup starts from whichever of the two is
/// nearer below the target and walks at most `indexStride - 1` scalars; a forward scan
/// (`s[i]`, then `s[i + 1]`) walks one. A scalar starts at every byte that is not a UTF-8
/// continuation byte (`10xxxxxx`), the same rule `finishString` counts scalars by.
extension Runtime {
    /// Byte offset of scalar `n` of `s`, for `0 <= n <= scalarCount` (`count` at the end).
    @inline(__always)
    func byteOffset(_ s: UnsafeMutablePointer<ObjString>, scalar n: Int) -> Int {
        // Scalar 0 is byte 0 of any string: `find(sub)` and `s[0:k]` build no side table.
        if s.isASCII || n == 0 { return n }
        return byteOffsetSlow(s, scalar: n)
    }

    @inline(never)
    func byteOffsetSlow(_ s: UnsafeMutablePointer<ObjString>, scalar n: Int) -> Int {
        let count = s.pointee.count
        if n >= s.pointee.scalarCount { return count }
        let b = s.bytes
        var scalar = 0, i = 0
        // Without the table (the system refused its memory) the walk below is still right.
        if count > ObjString.indexMinBytes, let t = s.pointee.offsets ?? buildOffsets(s) {
            scalar = n & ~(ObjString.indexStride - 1)
            i = t[2 + n / ObjString.indexStride]
            if t[0] <= n && t[0] > scalar { scalar = t[0]; i = t[1] }
            t[0] = n
            // NOTE: n < scalarCount, so scalar n starts before the NUL at `count`, and each
            // inner walk stops at the latest at that NUL (not a continuation byte).
            while scalar < n {
                i += 1
                while b[i] & 0xC0 == 0x80 { i += 1 }
                scalar += 1
            }
            t[1] = i
            return i
        }
        while scalar < n {
            i += 1
            while b[i] & 0xC0 == 0x80 { i += 1 }
            scalar += 1
        }
        return i
    }

    /// Builds the side table of a non-ASCII string (one pass over its bytes); nil when the
    /// system refuses the memory (indexing then walks from the start, never traps).
    private func buildOffsets(_ s: UnsafeMutablePointer<ObjString>) -> UnsafeMutablePointer<Int>? {
        let scalars = s.pointee.scalarCount
        let size = ObjString.offsetsSize(scalarCount: scalars)
        guard let raw = malloc(size) else { return nil }
        // Counted like a list's items: past the heap limit this signals `out of memory` at
        // the interpreter's next check.
        accountExternal(size)
        let t = raw.assumingMemoryBound(to: Int.self)
        t[0] = 0
        t[1] = 0
        let b = s.bytes, count = s.pointee.count
        var scalar = 0
        for i in 0..<count where b[i] & 0xC0 != 0x80 {
            if scalar % ObjString.indexStride == 0 { t[2 + scalar / ObjString.indexStride] = i }
            scalar += 1
        }
        s.pointee.offsets = t
        return t
    }

    /// The string of the one scalar whose UTF-8 bytes are `p[0..<n]`: a shared interned
    /// string for U+0000–U+00FF, else a new string.
    @inline(__always)
    func oneScalarString(_ p: UnsafePointer<UInt8>, count n: Int) -> Value {
        var code = -1
        if n == 1 && p[0] < 0x80 {
            code = Int(p[0])
        } else if n == 2 && (p[0] == 0xC2 || p[0] == 0xC3) && p[1] & 0xC0 == 0x80 {
            code = Int(p[0] & 0x1F) << 6 | Int(p[1] & 0x3F)
        }
        if code >= 0 {
            let v = charStrings[code]
            if !v.isNil { return v }
        }
        return makeOneScalarString(p, count: n, code: code)
    }

    @inline(never)
    private func makeOneScalarString(_ p: UnsafePointer<UInt8>, count n: Int, code: Int) -> Value {
        if code < 0 { return Value(makeString(UnsafeBufferPointer(start: p, count: n))) }
        // Copied first: `p` may point into a string that interning's collection could free.
        var bytes: (UInt8, UInt8) = (p[0], n == 2 ? p[1] : 0)
        let s = withUnsafeBytes(of: &bytes) { intern(UnsafeBufferPointer(rebasing: $0.bindMemory(to: UInt8.self).prefix(n))) }
        let v = Value(s)
        charStrings[code] = v
        return v
    }

    /// The one-scalar string of scalar `code` (a valid Unicode scalar).
    func oneScalarString(code: UInt32) -> Value {
        var utf8: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &utf8) { buf in
            if code < 0x80 {
                buf[0] = UInt8(code); n = 1
            } else if code < 0x800 {
                buf[0] = UInt8(0xC0 | (code >> 6)); buf[1] = UInt8(0x80 | (code & 0x3F)); n = 2
            } else if code < 0x10000 {
                buf[0] = UInt8(0xE0 | (code >> 12)); buf[1] = UInt8(0x80 | ((code >> 6) & 0x3F))
                buf[2] = UInt8(0x80 | (code & 0x3F)); n = 3
            } else {
                buf[0] = UInt8(0xF0 | (code >> 18)); buf[1] = UInt8(0x80 | ((code >> 12) & 0x3F))
                buf[2] = UInt8(0x80 | ((code >> 6) & 0x3F)); buf[3] = UInt8(0x80 | (code & 0x3F)); n = 4
            }
        }
        // NOTE: the buffer of a 4-byte tuple is never empty, so it has a base address.
        return withUnsafeBytes(of: &utf8) { oneScalarString($0.bindMemory(to: UInt8.self).baseAddress!, count: n) }
    }
}
