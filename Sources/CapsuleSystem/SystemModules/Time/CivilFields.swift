#if canImport(Glibc)
import Glibc
#endif

/// The calendar fields a script gives or a parse finds, before they are checked.
struct CivilFields {
    var year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, nanosecond = 0

    static let monthNames = ["January", "February", "March", "April", "May", "June", "July",
                             "August", "September", "October", "November", "December"]
    static let weekdayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Throws the first field out of its range. `timegm` and `mktime` would quietly roll
    /// February 30 over to March 2; a script gets an error instead.
    func check() throws(TimeError) {
        func range(_ name: String, _ v: Int, _ r: ClosedRange<Int>, _ note: String = "") throws(TimeError) {
            if !r.contains(v) { throw .message("\(name) \(v) is out of range (\(r.lowerBound) to \(r.upperBound)\(note))") }
        }
        try range("year", year, 0...9999)
        try range("month", month, 1...12)
        let days = Self.daysIn(month: month, year: year)
        if !(1...days).contains(day) {
            throw .message("day \(day) is out of range for \(Self.monthNames[month - 1]) \(year) (1 to \(days))")
        }
        try range("hour", hour, 0...23)
        try range("minute", minute, 0...59)
        try range("second", second, 0...59, "; leap seconds are not supported")
        try range("nanosecond", nanosecond, 0...999_999_999)
    }

    /// A `struct tm` with these fields (checked first, so every one fits an `Int32`).
    var tm: Glibc.tm {
        var t = Glibc.tm()
        // NOTE: `check()` ran, so each field is small: the conversions cannot trap.
        t.tm_year = Int32(year - 1900)
        t.tm_mon = Int32(month - 1)
        t.tm_mday = Int32(day)
        t.tm_hour = Int32(hour)
        t.tm_min = Int32(minute)
        t.tm_sec = Int32(second)
        return t
    }

    /// The instant these fields name in `zone`. A local time that a daylight-saving change
    /// skips is an error; one it repeats is the earlier of the two (before the clocks went
    /// back).
    func instant(in zone: Zone) throws(TimeError) -> Instant {
        try check()
        var t = tm
        switch zone {
        case .utc:
            return Instant(seconds: Int64(timegm(&t)), nanosecond: nanosecond)
        case .fixed(let offset):
            return try Instant(checked: Int64(timegm(&t)) - Int64(offset), nanosecond: nanosecond,
                               "\(CivilTime.dateText(year, month, day))T\(twoDigits(hour)):\(twoDigits(minute)):\(twoDigits(second))\(Zone.offsetText(offset))")
        case .local:
            // Each reading of the wall clock (summer time, winter time, and mktime's own
            // guess for zones whose offset changed without one) is tried and kept when it
            // reads back as the same wall clock. None: the clocks skipped this time. Two:
            // they repeated it; the earlier instant is taken (Python's `fold=0`), whatever
            // mktime's process-wide guess from earlier calls would have picked.
            loadTimeZone()
            var found: Int64? = nil
            for isdst: Int32 in [1, 0, -1] {
                var u = tm
                u.tm_isdst = isdst
                var s = mktime(&u)
                var back = Glibc.tm()
                guard localtime_r(&s, &back) != nil, back.tm_year == t.tm_year, back.tm_mon == t.tm_mon,
                      back.tm_mday == t.tm_mday, back.tm_hour == t.tm_hour, back.tm_min == t.tm_min,
                      back.tm_sec == t.tm_sec else { continue }
                found = min(found ?? Int64(s), Int64(s))
            }
            let shown = "\(CivilTime.dateText(year, month, day)) \(twoDigits(hour)):\(twoDigits(minute)):\(twoDigits(second))"
            guard let seconds = found else {
                throw .message("\(shown) does not exist in the local time zone (skipped by a daylight saving change)")
            }
            return try Instant(checked: seconds, nanosecond: nanosecond, "\(shown) local time")
        }
    }
}
