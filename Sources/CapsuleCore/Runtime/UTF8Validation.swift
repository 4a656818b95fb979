/// Checks that bytes are well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates,
/// nothing above U+10FFFF), for `makeString`, the chokepoint every string built from bytes
/// passes.
enum UTF8Validation {
    /// True when `bytes` is well-formed UTF-8. ASCII runs cost one comparison per byte.
    static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool { firstInvalid(bytes) == nil }

    /// Byte offset of the first sequence that is not well-formed UTF-8, or nil when all are
    /// (`bytes.decode()` names it in its error).
    static func firstInvalid(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let p = bytes.baseAddress else { return nil }
        let n = bytes.count
        var i = 0
        while i < n {
            let b0 = p[i]
            if b0 < 0x80 { i += 1; continue }
            @inline(__always) func continuation(_ k: Int) -> Bool { i + k < n && p[i + k] & 0xC0 == 0x80 }
            switch b0 {
            case 0xC2...0xDF:
                guard continuation(1) else { return i }
                i += 2
            case 0xE0...0xEF:
                guard continuation(1), continuation(2) else { return i }
                let b1 = p[i + 1]
                if b0 == 0xE0 && b1 < 0xA0 { return i }     // overlong
                if b0 == 0xED && b1 > 0x9F { return i }     // surrogates
                i += 3
            case 0xF0...0xF4:
                guard continuation(1), continuation(2), continuation(3) else { return i }
                let b1 = p[i + 1]
                if b0 == 0xF0 && b1 < 0x90 { return i }     // overlong
                if b0 == 0xF4 && b1 > 0x8F { return i }     // above U+10FFFF
                i += 4
            default:
                return i                                     // 0x80–0xC1, 0xF5–0xFF
            }
        }
        return nil
    }
}
