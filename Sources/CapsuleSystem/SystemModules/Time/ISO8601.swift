/// `time.iso` and `time.parse_iso`: RFC 3339 text, the profile of ISO 8601 that logs, JSON
/// and HTTP APIs use. glibc has neither fractions of a second nor `+hh:mm` in `strftime`,
/// so both directions are written here.
enum ISO8601 {
    /// `2024-03-05T14:07:09Z`, `…09.250Z`, `…09.123456+05:30`. `digits` nil: none for a
    /// whole second, else 3 when the fraction is whole milliseconds, else 6. Extra digits
    /// are cut off, never rounded up, as `%f` does.
    static func format(_ time: CivilTime, digits: Int?) -> String {
        let f = time.fields
        var text = CivilTime.dateText(f.year, f.month, f.day) + "T" + twoDigits(f.hour) + ":" + twoDigits(f.minute) + ":" + twoDigits(f.second)
        let ns = f.nanosecond
        let n = digits ?? (ns == 0 ? 0 : ns % 1_000_000 == 0 ? 3 : 6)
        if n > 0 {
            var scale = 1
            for _ in n..<9 { scale *= 10 }
            let part = "\(ns / scale)"
            text += "." + String(repeating: "0", count: n - part.count) + part
        }
        text += time.offset == 0 && time.zoneName == "UTC" ? "Z" : Zone.offsetText(time.offset)
        return text
    }

    /// `YYYY-MM-DD`, optionally followed by `T` (or `t` or a space), `hh:mm`, `:ss`, a
    /// fraction after `.` or `,`, and `Z` or an offset. Text with no offset is read in `zone`.
    static func parse(_ text: UnsafeBufferPointer<UInt8>, zone: Zone) throws(TimeError) -> Instant {
        var r = TextReader(text)
        var f = CivilFields()
        f.year = try r.digits(4, 4, "expected a 4-digit year")
        guard r.take(UInt8(ascii: "-")) else { throw r.fail("expected \"-\" after the year") }
        f.month = try r.digits(2, 2, "expected a 2-digit month")
        guard r.take(UInt8(ascii: "-")) else { throw r.fail("expected \"-\" after the month") }
        f.day = try r.digits(2, 2, "expected a 2-digit day")
        var offset: Int? = nil
        if !r.atEnd {
            guard r.take(UInt8(ascii: "T")) || r.take(32) else { throw r.fail("expected \"T\" or a space after the date") }
            f.hour = try r.digits(2, 2, "expected a 2-digit hour")
            guard r.take(UInt8(ascii: ":")) else { throw r.fail("expected \":\" after the hour") }
            f.minute = try r.digits(2, 2, "expected 2-digit minutes")
            if r.take(UInt8(ascii: ":")) {
                f.second = try r.digits(2, 2, "expected 2-digit seconds")
                if r.take(UInt8(ascii: ".")) || r.take(UInt8(ascii: ",")) {
                    f.nanosecond = try r.fraction("expected digits after the decimal point")
                }
            }
            if !r.atEnd { offset = try r.offsetFromUTC("expected Z or an offset like +05:30 after the time") }
            if !r.atEnd { throw r.fail("unexpected text after the date and time") }
        }
        return try f.instant(in: offset.map { .fixed($0) } ?? zone)
    }
}
