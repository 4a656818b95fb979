#if canImport(Glibc)
import Glibc
#endif

/// Byte-level building blocks of the string methods (Builtins/StringMethods.swift): search,
/// scalar counting, and new strings cut from or assembled out of existing ones.
///
/// A string object always holds valid UTF-8, and a cut at scalar boundaries of valid UTF-8
/// is valid UTF-8 again, so nothing here validates, and nothing goes through Swift's
/// `String` or `Array` (each of those costs retains, releases and a copy). A string is ASCII
/// exactly when its scalar count equals its byte count, which gives a new string's ASCII
/// flag for free once its scalars are counted.
extension Runtime {
    /// Scalars in `p[0..<n]` of valid UTF-8: the bytes that are not continuation bytes
    /// (`10xxxxxx`), counted eight at a time.
    static func scalarCount(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        var continuations = 0
        var i = 0
        while i + 8 <= n {
            // NOTE: i + 8 <= n, so the eight bytes read are inside the buffer.
            let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
            // Bit 7 of each byte: set for 10xxxxxx (bit 7 set, bit 6 clear).
            continuations += (w & ~(w << 1) & 0x8080_8080_8080_8080).nonzeroBitCount
            i += 8
        }
        while i < n {
            if p[i] & 0xC0 == 0x80 { continuations += 1 }
            i += 1
        }
        return n - continuations
    }

    /// Byte offset of the first `needle[0..<k]` in `hay[from..<m]`, or -1. The empty needle
    /// is found at `from`. `memchr` finds each candidate first byte, `memcmp` checks the rest:
    /// O(m · k) at worst, O(m) for text. NOTE: every read is of `hay[i..<i + k]` with
    /// i <= m - k, inside the buffer.
    @inline(__always)
    static func search(_ hay: UnsafePointer<UInt8>, _ m: Int, from: Int, _ needle: UnsafePointer<UInt8>, _ k: Int) -> Int {
        if k == 0 { return from <= m ? from : -1 }
        let first = Int32(needle[0])
        var i = from
        while i <= m - k {
            // NOTE: `hay[i..<m - k + 1]` is inside the buffer (i <= m - k), and a match found
            // there has its k bytes inside `hay[0..<m]`.
            guard let hit = memchr(hay + i, first, m - k + 1 - i) else { return -1 }
            let j = UnsafeRawPointer(hay).distance(to: UnsafeRawPointer(hit))
            if k == 1 || memcmp(hay + j + 1, needle + 1, k - 1) == 0 { return j }
            i = j + 1
        }
        return -1
    }

    /// Byte offset of the last `needle[0..<k]` that ends at or before `end` in `hay`, or -1.
    /// The empty needle is found at `end`.
    @inline(__always)
    static func searchBack(_ hay: UnsafePointer<UInt8>, end: Int, _ needle: UnsafePointer<UInt8>, _ k: Int) -> Int {
        if k == 0 { return end }
        // NOTE: j <= end - k and end <= the haystack's length, so `hay[j..<j + k]` is inside.
        let first = needle[0]
        var j = end - k
        while j >= 0 {
            if hay[j] == first && (k == 1 || memcmp(hay + j + 1, needle + 1, k - 1) == 0) { return j }
            j -= 1
        }
        return -1
    }

    /// Byte length of the UTF-8 sequence that starts with `lead` (a valid lead byte).
    @inline(__always)
    static func sequenceLength(_ lead: UInt8) -> Int {
        lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
    }

    /// The scalar of the valid UTF-8 sequence at `p` and its length in bytes.
    /// NOTE: only for a scalar of a string object (valid UTF-8): a lead byte is followed by
    /// the continuation bytes it announces, so `p[1...3]` are read only when they exist.
    @inline(__always)
    static func decodeScalar(_ p: UnsafePointer<UInt8>) -> (UInt32, Int) {
        let b0 = UInt32(p[0])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(p[1] & 0x3F), 2) }
        if b0 < 0xF0 { return ((b0 & 0x0F) << 12 | UInt32(p[1] & 0x3F) << 6 | UInt32(p[2] & 0x3F), 3) }
        return ((b0 & 0x07) << 18 | UInt32(p[1] & 0x3F) << 12 | UInt32(p[2] & 0x3F) << 6 | UInt32(p[3] & 0x3F), 4)
    }

    /// Writes the UTF-8 of `code` (a valid scalar) at `p`; returns its length.
    @inline(__always)
    static func encodeScalar(_ code: UInt32, _ p: UnsafeMutablePointer<UInt8>) -> Int {
        if code < 0x80 { p[0] = UInt8(code); return 1 }
        if code < 0x800 {
            p[0] = UInt8(0xC0 | (code >> 6)); p[1] = UInt8(0x80 | (code & 0x3F)); return 2
        }
        if code < 0x10000 {
            p[0] = UInt8(0xE0 | (code >> 12)); p[1] = UInt8(0x80 | ((code >> 6) & 0x3F))
            p[2] = UInt8(0x80 | (code & 0x3F)); return 3
        }
        p[0] = UInt8(0xF0 | (code >> 18)); p[1] = UInt8(0x80 | ((code >> 12) & 0x3F))
        p[2] = UInt8(0x80 | ((code >> 6) & 0x3F)); p[3] = UInt8(0x80 | (code & 0x3F)); return 4
    }

    /// Scalar index of byte offset `byte` (a scalar boundary) in `s`.
    @inline(__always)
    func scalarIndex(_ s: UnsafeMutablePointer<ObjString>, byte: Int) -> Int {
        s.isASCII ? byte : Runtime.scalarCount(s.bytes, byte)
    }

    /// Sets the scalar count and ASCII flag of a new string whose bytes are filled in and
    /// known to be valid UTF-8; `ascii`: they were cut from ASCII text, so nothing is counted.
    @inline(__always)
    func finishValidString(_ r: UnsafeMutablePointer<ObjString>, ascii: Bool) {
        let n = r.pointee.count
        let scalars = ascii ? n : Runtime.scalarCount(r.bytes, n)
        finishString(r, scalarCount: scalars, ascii: scalars == n)
    }

    /// A new string of `p[0..<n]`: a cut at scalar boundaries of a string (so valid UTF-8).
    /// `ascii`: the string cut from is ASCII. A one-byte cut is the shared one-scalar string.
    /// `p` must point into a rooted string (this allocates, and may collect).
    @inline(__always)
    func cutString(_ p: UnsafePointer<UInt8>, _ n: Int, ascii: Bool) -> Value {
        if n == 1 { return oneScalarString(p, count: 1) }
        let r = allocateString(count: n)
        // NOTE: `p[0..<n]` lies in a live string (the caller roots it), `r` has room for n.
        if n > 0 { memcpy(r.bytes, p, n) }
        finishValidString(r, ascii: ascii)
        return Value(r)
    }

}
