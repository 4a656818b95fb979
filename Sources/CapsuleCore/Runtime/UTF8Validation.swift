/// Checks that bytes are well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates,
/// nothing above U+10FFFF), for `makeString`, the chokepoint every string built from bytes
/// passes.
enum UTF8Validation {
    /// True when `bytes` is well-formed UTF-8. ASCII runs cost one comparison per byte.
    static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let p = bytes.baseAddress else { return true }
        let n = bytes.count
        var i = 0
        while i < n {
            let b0 = p[i]
            if b0 < 0x80 { i += 1; continue }
            @inline(__always) func continuation(_ k: Int) -> Bool { i + k < n && p[i + k] & 0xC0 == 0x80 }
            switch b0 {
            case 0xC2...0xDF:
                guard continuation(1) else { return false }
                i += 2
            case 0xE0...0xEF:
                guard continuation(1), continuation(2) else { return false }
                let b1 = p[i + 1]
                if b0 == 0xE0 && b1 < 0xA0 { return false }     // overlong
                if b0 == 0xED && b1 > 0x9F { return false }     // surrogates
                i += 3
            case 0xF0...0xF4:
                guard continuation(1), continuation(2), continuation(3) else { return false }
                let b1 = p[i + 1]
                if b0 == 0xF0 && b1 < 0x90 { return false }     // overlong
                if b0 == 0xF4 && b1 > 0x8F { return false }     // above U+10FFFF
                i += 4
            default:
                return false                                     // 0x80–0xC1, 0xF5–0xFF
            }
        }
        return true
    }
}
