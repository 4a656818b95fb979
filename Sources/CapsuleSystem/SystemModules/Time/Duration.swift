import CapsuleSyntax

/// `time.parse_duration` and `time.format_duration`: Go's `time.ParseDuration` and
/// `Duration.String`, on a signed 64-bit count of nanoseconds (about ±292 years).
enum DurationText {
    static let units: [(String, UInt64)] = [
        ("ns", 1), ("us", 1_000), ("µs", 1_000), ("μs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
        ("m", 60_000_000_000), ("h", 3_600_000_000_000), ("d", 86_400_000_000_000),
    ]
    static let rangeMessage = "is out of range (about ±292 years)"

    /// `"1h30m"`, `"-1.5s"`, `"250ms"`, `"2d"`: nanoseconds. A sequence of decimal numbers,
    /// each with a unit; `"0"` alone needs none.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(TimeError) -> Int64 {
        // Built only for a message: the text may be long.
        var shown: String { quoted(String(decoding: bytes, as: UTF8.self)) }
        func invalid(_ why: String) -> TimeError { .message("invalid duration \(shown): \(why)") }
        var i = 0
        var negative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        if bytes.count - i == 1 && bytes[i] == UInt8(ascii: "0") { return 0 }
        if i == bytes.count { throw invalid("expected a number and a unit (like 1h30m or 250ms)") }
        // NOTE: all arithmetic below reports overflow; 2^63 is allowed until the sign is known.
        let limit: UInt64 = 1 << 63
        var total: UInt64 = 0
        while i < bytes.count {
            let c = bytes[i]
            guard c == UInt8(ascii: ".") || TextReader.isDigit(c) else { throw invalid("expected a number at offset \(i)") }
            var whole: UInt64 = 0
            var digits = 0
            while i < bytes.count, TextReader.isDigit(bytes[i]) {
                let (m, o1) = whole.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(UInt64(bytes[i] - 48))
                if o1 || o2 || a > limit { throw .message("duration \(shown) \(rangeMessage)") }
                whole = a; digits += 1; i += 1
            }
            var fraction: UInt64 = 0
            var scale: Double = 1
            var fractionDigits = 0
            var overflowed = false
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                while i < bytes.count, TextReader.isDigit(bytes[i]) {
                    fractionDigits += 1
                    if !overflowed {
                        let (m, o1) = fraction.multipliedReportingOverflow(by: 10)
                        let (a, o2) = m.addingReportingOverflow(UInt64(bytes[i] - 48))
                        if o1 || o2 || a > limit { overflowed = true } else { fraction = a; scale *= 10 }
                    }
                    i += 1
                }
            }
            if digits == 0 && fractionDigits == 0 { throw invalid("expected digits at offset \(i)") }
            let unitStart = i
            while i < bytes.count, bytes[i] != UInt8(ascii: "."), !TextReader.isDigit(bytes[i]) { i += 1 }
            if unitStart == i { throw invalid("missing unit after the number at offset \(unitStart) (ns, us, ms, s, m, h or d)") }
            let unitText = String(decoding: bytes[unitStart..<i], as: UTF8.self)
            guard let unit = units.first(where: { $0.0 == unitText })?.1 else {
                throw invalid("unknown unit \(quoted(unitText)) (ns, us, ms, s, m, h or d)")
            }
            let (v, o) = whole.multipliedReportingOverflow(by: unit)
            if o || v > limit { throw .message("duration \(shown) \(rangeMessage)") }
            var value = v
            if fraction > 0 {
                // NOTE: the product is below 2^63 * 1 (fraction < scale), so the conversion
                // back from Double is in range; `?? limit` cannot be taken.
                let part = (Double(fraction) * (Double(unit) / scale)).rounded(.towardZero)
                let (s, o2) = value.addingReportingOverflow(UInt64(exactly: part) ?? limit)
                if o2 || s > limit { throw .message("duration \(shown) \(rangeMessage)") }
                value = s
            }
            let (t, o3) = total.addingReportingOverflow(value)
            if o3 || t > limit { throw .message("duration \(shown) \(rangeMessage)") }
            total = t
        }
        if negative { return total == limit ? Int64.min : -Int64(total) }
        guard total < limit else { throw .message("duration \(shown) \(rangeMessage)") }
        return Int64(total)
    }

    /// Go's `Duration.String`: `1h30m0s`, `1.5s`, `250ms`, `1µs`, `0s`, `-2m3.5s`.
    static func format(_ d: Int64) -> String {
        var u = d.magnitude
        var text: String
        if u < 1_000_000_000 {
            if u == 0 { return "0s" }
            let (prec, unit): (Int, String) = u < 1_000 ? (0, "ns") : u < 1_000_000 ? (3, "µs") : (6, "ms")
            let frac = fractionText(&u, prec)
            text = "\(u)" + frac + unit
        } else {
            let frac = fractionText(&u, 9)
            text = "\(u % 60)" + frac + "s"
            u /= 60
            if u > 0 {
                text = "\(u % 60)m" + text
                u /= 60
                if u > 0 { text = "\(u)h" + text }
            }
        }
        return d < 0 ? "-" + text : text
    }

    /// The last `prec` decimal digits of `u` as `.ddd` without trailing zeros ("" when all
    /// are zero); `u` keeps the rest.
    private static func fractionText(_ u: inout UInt64, _ prec: Int) -> String {
        var digits: [Character] = []
        var printing = false
        for _ in 0..<prec {
            let digit = u % 10
            printing = printing || digit != 0
            if printing { digits.append(Character(Unicode.Scalar(UInt8(48 + digit)))) }
            u /= 10
        }
        return printing ? "." + String(digits.reversed()) : ""
    }
}
