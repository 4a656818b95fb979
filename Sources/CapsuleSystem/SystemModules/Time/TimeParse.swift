import CapsuleSyntax

/// What a pattern read from the text, before the fields are checked and combined.
struct ParsedTime {
    var fields = CivilFields()
    var hour12: Int? = nil
    var pm: Bool? = nil
    var hour24 = false
    var yearday: Int? = nil
    var weekday: Int? = nil
    var sawMonthOrDay = false
    var sawOther = false
    var epoch: Int64? = nil
    /// `%s` had a minus sign (`-0.5` is before the epoch although its whole part is 0).
    var epochNegative = false
    var offset: Int? = nil

    /// The instant, with `zone` for text that names no offset.
    func instant(zone: Zone) throws(TimeError) -> Instant {
        if let epoch {
            if sawOther || sawMonthOrDay || yearday != nil || weekday != nil || hour12 != nil {
                throw .message("%s cannot be combined with other date or time directives (only %f)")
            }
            // `-1.5` is 1.5 seconds before the epoch: -2 seconds and 0.5 after.
            let (seconds, ns) = epochNegative && fields.nanosecond > 0
                ? (epoch - 1, 1_000_000_000 - fields.nanosecond) : (epoch, fields.nanosecond)
            return try Instant(checked: seconds, nanosecond: ns, "timestamp \(epoch)")
        }
        var f = fields
        if let h = hour12, !hour24 {
            guard (1...12).contains(h) else { throw .message("hour \(h) is out of range for %I (1 to 12)") }
            f.hour = h % 12 + (pm == true ? 12 : 0)
        }
        if let yd = yearday {
            let days = CivilFields.isLeap(f.year) ? 366 : 365
            guard (1...days).contains(yd) else { throw .message("day of the year \(yd) is out of range for \(f.year) (1 to \(days))") }
            if sawMonthOrDay {
                try f.check()
                var before = 0
                for m in 1..<f.month { before += CivilFields.daysIn(month: m, year: f.year) }
                if before + f.day != yd {
                    throw .message("day of the year \(yd) does not match \(CivilTime.dateText(f.year, f.month, f.day)) (day \(before + f.day))")
                }
            } else {
                var rest = yd
                var m = 1
                while rest > CivilFields.daysIn(month: m, year: f.year) { rest -= CivilFields.daysIn(month: m, year: f.year); m += 1 }
                f.month = m
                f.day = rest
            }
        }
        let z: Zone = offset.map { .fixed($0) } ?? zone
        let instant = try f.instant(in: z)
        if let wd = weekday {
            let civil = try CivilTime(instant, in: z)
            if civil.weekday != wd {
                throw .message("\(CivilFields.weekdayNames[wd - 1]) does not match \(CivilTime.dateText(f.year, f.month, f.day)), a \(CivilFields.weekdayNames[civil.weekday - 1])")
            }
        }
        return instant
    }
}

/// `time.parse`: text read with a `strptime` pattern.
enum TimeParse {
    static let supported = "%Y %y %m %d %e %j %H %I %p %M %S %f %z %Z %s %b %B %h %a %A %T %D %F %R %n %t %%"

    static func parse(_ text: UnsafeBufferPointer<UInt8>, _ pattern: UnsafeBufferPointer<UInt8>) throws(TimeError) -> ParsedTime {
        var r = TextReader(text)
        var p = ParsedTime()
        try read(pattern, into: &p, &r, inside: nil)
        if !r.atEnd { throw r.fail("the pattern ended but the text goes on") }
        return p
    }

    /// Reads `pattern` from `r`. `inside` is the composite directive (`%T`) being expanded.
    static let months = CivilFields.monthNames.map { Array($0.utf8) }
    static let weekdays = CivilFields.weekdayNames.map { Array($0.utf8) }
    static let meridiems = [Array("AM".utf8), Array("PM".utf8)]
    static let utcNames = [Array("UTC".utf8), Array("GMT".utf8), Array("Z".utf8)]
    static let composites: [UInt8: (String, [UInt8])] = [
        UInt8(ascii: "T"): ("%T", Array("%H:%M:%S".utf8)), UInt8(ascii: "D"): ("%D", Array("%m/%d/%y".utf8)),
        UInt8(ascii: "F"): ("%F", Array("%Y-%m-%d".utf8)), UInt8(ascii: "R"): ("%R", Array("%H:%M".utf8)),
    ]

    private static func read(_ pattern: UnsafeBufferPointer<UInt8>, into p: inout ParsedTime, _ r: inout TextReader, inside: String?) throws(TimeError) {
        var j = 0
        while j < pattern.count {
            let c = pattern[j]
            if TextReader.isSpace(c) || (c == 37 && j + 1 < pattern.count && (pattern[j + 1] == UInt8(ascii: "n") || pattern[j + 1] == UInt8(ascii: "t"))) {
                // A run of white space (and %n %t) matches one or more white-space characters.
                while j < pattern.count {
                    if TextReader.isSpace(pattern[j]) { j += 1 }
                    else if pattern[j] == 37, j + 1 < pattern.count, pattern[j + 1] == UInt8(ascii: "n") || pattern[j + 1] == UInt8(ascii: "t") { j += 2 }
                    else { break }
                }
                guard let s = r.peek, TextReader.isSpace(s) else { throw r.fail("expected white space") }
                while let s = r.peek, TextReader.isSpace(s) { r.i += 1 }
                continue
            }
            if c != 37 {
                // A literal character: the same one (ASCII letters in either case).
                var end = j + 1
                while end < pattern.count, pattern[end] & 0xC0 == 0x80 { end += 1 }
                let start = r.i
                for k in j..<end where !r.take(pattern[k]) {
                    r.i = start
                    let literal = String(decoding: pattern[j..<end], as: UTF8.self)
                    throw r.fail("expected \(quoted(literal))\(inside.map { " (in \($0))" } ?? "")")
                }
                j = end
                continue
            }
            let start = j
            j += 1
            // Padding flags, as a `time.format` pattern may have them, change nothing here.
            while j < pattern.count, TimeFormat.flags.contains(pattern[j]) { j += 1 }
            guard j < pattern.count else {
                throw .message("the pattern ends in the middle of a directive at offset \(start) (write %% for a percent sign)")
            }
            let d = pattern[j]
            j += 1
            // A non-ASCII character after % is shown whole in the message.
            while j < pattern.count, pattern[j] & 0xC0 == 0x80 { j += 1 }
            // Built only for a message.
            var name: String { "%" + String(decoding: [d], as: UTF8.self) + (inside.map { " (in \($0))" } ?? "") }
            switch d {
            case UInt8(ascii: "Y"): p.fields.year = try r.digits(4, 4, "\(name) expects a 4-digit year"); p.sawOther = true
            case UInt8(ascii: "y"):
                let y = try r.digits(2, 2, "\(name) expects a 2-digit year")
                p.fields.year = y < 69 ? 2000 + y : 1900 + y
                p.sawOther = true
            case UInt8(ascii: "m"): p.fields.month = try r.digits(1, 2, "\(name) expects a month number"); p.sawMonthOrDay = true
            case UInt8(ascii: "d"): p.fields.day = try r.digits(1, 2, "\(name) expects a day of the month"); p.sawMonthOrDay = true
            case UInt8(ascii: "e"):
                _ = r.take(32)
                p.fields.day = try r.digits(1, 2, "\(name) expects a day of the month"); p.sawMonthOrDay = true
            case UInt8(ascii: "j"): p.yearday = try r.digits(1, 3, "\(name) expects a day of the year")
            case UInt8(ascii: "H"): p.fields.hour = try r.digits(1, 2, "\(name) expects an hour"); p.hour24 = true; p.sawOther = true
            case UInt8(ascii: "I"): p.hour12 = try r.digits(1, 2, "\(name) expects an hour (1 to 12)")
            case UInt8(ascii: "p"):
                let k = try r.name(meridiems, "\(name) expects AM or PM")
                p.pm = k == 1
            case UInt8(ascii: "M"): p.fields.minute = try r.digits(1, 2, "\(name) expects minutes"); p.sawOther = true
            case UInt8(ascii: "S"): p.fields.second = try r.digits(1, 2, "\(name) expects seconds"); p.sawOther = true
            case UInt8(ascii: "f"): p.fields.nanosecond = try r.fraction("\(name) expects digits of a fraction of a second")
            case UInt8(ascii: "z"): p.offset = try r.offsetFromUTC("\(name) expects an offset from UTC (Z, +hh:mm, +hhmm or +hh)")
            case UInt8(ascii: "Z"):
                _ = try r.name(utcNames, "\(name) expects UTC, GMT or Z (time zone names are not read)")
                p.offset = 0
            case UInt8(ascii: "s"):
                let negative = r.take(UInt8(ascii: "-"))
                var n: Int64 = 0, count = 0
                while let c = r.peek, TextReader.isDigit(c) {
                    // NOTE: overflow-reporting arithmetic: a script's 30-digit number is an error.
                    let (m, o1) = n.multipliedReportingOverflow(by: 10)
                    let (a, o2) = m.addingReportingOverflow(Int64(c - 48))
                    if o1 || o2 { throw .message("timestamp in %s \(Instant.rangeMessage)") }
                    n = a; count += 1; r.i += 1
                }
                if count == 0 { if negative { r.i -= 1 }; throw r.fail("\(name) expects seconds since the epoch") }
                p.epoch = negative ? -n : n
                p.epochNegative = negative
            case UInt8(ascii: "b"), UInt8(ascii: "B"), UInt8(ascii: "h"):
                p.fields.month = try r.name(months, "\(name) expects a month name") + 1
                p.sawMonthOrDay = true
            case UInt8(ascii: "a"), UInt8(ascii: "A"):
                p.weekday = try r.name(weekdays, "\(name) expects a weekday name") + 1
            case UInt8(ascii: "T"), UInt8(ascii: "D"), UInt8(ascii: "F"), UInt8(ascii: "R"):
                if let (label, expansion) = composites[d] {
                    try expansion.withUnsafeBufferPointer { (e) throws(TimeError) in try read(e, into: &p, &r, inside: label) }
                }
            case UInt8(ascii: "%"):
                guard r.take(37) else { throw r.fail("expected \"%\"") }
            default:
                let shown = String(decoding: pattern[start..<j], as: UTF8.self)
                if TimeFormat.glibcDirectives.contains(d) {
                    throw .message("\(shown) at offset \(start) of the pattern cannot be parsed (time.parse reads \(supported))")
                }
                throw .message("unknown directive \(shown) at offset \(start) of the pattern")
            }
        }
    }
}
