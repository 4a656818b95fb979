#if canImport(Glibc)
import Glibc
#endif

/// `time.format`: a `strftime` pattern. glibc's `strftime_l` (in the C locale) writes each
/// standard directive; `%f`, `%s`, `%z`, `%:z` and `%Z` are written here because glibc has
/// no `%f`, takes `%s` from the local zone whatever the fields say, and does not pad `%Y`.
enum TimeFormat {
    /// Directives passed to `strftime_l` as they are (with any `-_0^#` flags).
    static let glibcDirectives: Set<UInt8> = Set("aAbBcCdDeFgGhHIjklmMnpPrRStTuUVwWxXyY".utf8)
    static let flags: Set<UInt8> = Set("-_0^#".utf8)

    /// The C locale's time names (`LC_TIME_MASK`, a macro Swift does not import), so `%a`,
    /// `%b`, `%c` and `%p` are English whatever an embedder's `setlocale` chose.
    // NOTE: `nonisolated(unsafe)`: written once by its lazy initialiser (which Swift runs
    // once, thread-safely) and only read afterwards; glibc's locale objects are immutable.
    nonisolated(unsafe) private static let cLocale: locale_t? = newlocale(1 << LC_TIME, "C", nil)

    /// The bytes of `pattern` with every directive replaced by its part of `time`.
    static func format(_ time: CivilTime, _ pattern: UnsafeBufferPointer<UInt8>) throws(TimeError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(pattern.count + 16)
        var tm = time.tm
        // One directive at a time goes to strftime: its text, and room for what it writes.
        var directive: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 128)
        var j = 0
        while j < pattern.count {
            let c = pattern[j]
            if c != UInt8(ascii: "%") { out.append(c); j += 1; continue }
            let start = j
            j += 1
            var flagBytes: [UInt8] = []
            while j < pattern.count, flags.contains(pattern[j]) { flagBytes.append(pattern[j]); j += 1 }
            var width: Int? = nil
            if j < pattern.count, pattern[j] >= UInt8(ascii: "1"), pattern[j] <= UInt8(ascii: "9") {
                width = Int(pattern[j] - UInt8(ascii: "0"))
                j += 1
            }
            var colon = false
            if j < pattern.count, pattern[j] == UInt8(ascii: ":") { colon = true; j += 1 }
            guard j < pattern.count else {
                throw .message("the pattern ends in the middle of a directive at offset \(start) (write %% for a percent sign)")
            }
            let d = pattern[j]
            j += 1
            // A non-ASCII character after % is shown whole in the message.
            while j < pattern.count, pattern[j] & 0xC0 == 0x80 { j += 1 }
            var shown: String { String(decoding: pattern[start..<j], as: UTF8.self) }  // for messages only
            if width != nil && d != UInt8(ascii: "f") {
                throw .message("a width is only allowed with %f (%1f to %9f), not in \(shown) at offset \(start) of the pattern")
            }
            if colon && d != UInt8(ascii: "z") {
                throw .message("':' is only allowed in %:z, not in \(shown) at offset \(start) of the pattern")
            }
            if !flagBytes.isEmpty && !glibcDirectives.contains(d) {
                throw .message("flags are not allowed in \(shown) at offset \(start) of the pattern (only in directives glibc writes)")
            }
            switch d {
            case UInt8(ascii: "%"): out.append(d)
            case UInt8(ascii: "f"):
                let digits = width ?? 6
                var scale = 1
                for _ in digits..<9 { scale *= 10 }
                let text = "\(time.fields.nanosecond / scale)"
                out += Array(repeating: UInt8(ascii: "0"), count: digits - text.utf8.count)
                out += Array(text.utf8)
            case UInt8(ascii: "s"): out += Array("\(time.instant.seconds)".utf8)
            case UInt8(ascii: "Y") where flagBytes.isEmpty:
                // glibc writes year 42 as "42"; years here are 0000 to 9999, always four digits.
                out += Array(CivilTime.dateText(time.fields.year, 1, 1).prefix(4).utf8)
            case UInt8(ascii: "z"): out += Array(Zone.offsetText(time.offset, colon: colon).utf8)
            case UInt8(ascii: "Z"): out += Array(time.zoneName.utf8)
            default:
                guard glibcDirectives.contains(d) else {
                    throw .message("unknown directive \(shown) at offset \(start) of the pattern")
                }
                directive.removeAll(keepingCapacity: true)
                directive.append(UInt8(ascii: "%"))
                directive += flagBytes
                directive.append(d)
                directive.append(0)
                let n = directive.withUnsafeBufferPointer { dp in
                    buffer.withUnsafeMutableBufferPointer { bp in
                        // NOTE: the buffer is far longer than any single C-locale directive
                        // (`%c` is 24 bytes); 0 means nothing was written.
                        dp.baseAddress.map { fmt in
                            fmt.withMemoryRebound(to: CChar.self, capacity: dp.count) { f in
                                bp.baseAddress.map { b in
                                    b.withMemoryRebound(to: CChar.self, capacity: bp.count) { s in
                                        Self.cLocale.map { strftime_l(s, bp.count, f, &tm, $0) } ?? strftime(s, bp.count, f, &tm)
                                    }
                                } ?? 0
                            }
                        } ?? 0
                    }
                }
                out += buffer[0..<min(n, buffer.count)]
            }
        }
        return out
    }
}
