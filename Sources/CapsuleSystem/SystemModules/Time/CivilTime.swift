#if canImport(Glibc)
import Glibc
#endif

/// Why a `time` function refused its input: the message after `time.NAME: `, or a
/// capability denial shown as the enforcer words it.
enum TimeError: Error {
    case message(String)
    case denied(String)
}

/// A moment: whole seconds since 1970-01-01T00:00:00Z (rounded down) and the nanoseconds
/// after them. Every `time` function works on instants from year 0000 to 9999.
struct Instant: Equatable {
    var seconds: Int64
    /// 0 ..< 1_000_000_000.
    var nanosecond: Int

    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z. A wall clock must be in years 0000
    /// to 9999 too (`CivilTime.init` checks), so both the instant and its text are.
    static let earliest: Int64 = -62_167_219_200
    static let latest: Int64 = 253_402_300_799

    static let rangeMessage = "is out of range (years 0000 to 9999)"

    /// An int timestamp, exact.
    init(int seconds: Int64) throws(TimeError) {
        guard seconds >= Self.earliest && seconds <= Self.latest else {
            throw .message("timestamp \(seconds) \(Self.rangeMessage)")
        }
        self.seconds = seconds
        self.nanosecond = 0
    }

    /// A float timestamp, rounded to the nearest microsecond: a double near today's
    /// timestamps holds about a quarter of a microsecond, so finer digits would be noise
    /// (Python's `datetime.fromtimestamp` rounds the same way).
    init(double d: Double) throws(TimeError) {
        // NOTE: nan, inf and 1e300 stop here, before any conversion to an integer.
        guard d.isFinite, d >= Double(Self.earliest), d < Double(Self.latest + 1) else {
            throw .message("timestamp \(d.isNaN ? "nan" : "\(d)") \(Self.rangeMessage)")
        }
        let whole = d.rounded(.down)
        // NOTE: in range, so both conversions are exact (`?? 0` is never taken).
        var seconds = Int64(exactly: whole) ?? 0
        var micro = Int(exactly: ((d - whole) * 1e6).rounded()) ?? 0
        if micro >= 1_000_000 { seconds += 1; micro -= 1_000_000 }
        if seconds > Self.latest { throw .message("timestamp \(d) \(Self.rangeMessage)") }
        self.seconds = seconds
        self.nanosecond = micro * 1000
    }

    init(seconds: Int64, nanosecond: Int) { self.seconds = seconds; self.nanosecond = nanosecond }

    /// An instant computed from a wall clock and an offset, which may leave the range by
    /// up to a day (9999-12-31T23:00-01:00); `shown` describes it in the message.
    init(checked seconds: Int64, nanosecond: Int, _ shown: @autoclosure () -> String) throws(TimeError) {
        guard seconds >= Self.earliest && seconds <= Self.latest else {
            throw .message("\(shown()) is out of range (years 0000 to 9999)")
        }
        self.seconds = seconds
        self.nanosecond = nanosecond
    }
}

/// Where wall-clock time is read: UTC, a fixed offset east of UTC in seconds, or the
/// system's time zone (`TZ`, else /etc/localtime).
enum Zone: Equatable {
    case utc
    case fixed(Int)
    case local

    /// Offsets are less than a day either way (RFC 3339 allows up to ±23:59).
    static let offsetLimit = 86_399

    /// `+05:30`, `-08:00`, `+00:00`; seconds shown only when there are some (`+00:00:30`).
    static func offsetText(_ offset: Int, colon: Bool = true) -> String {
        let sign = offset < 0 ? "-" : "+"
        let a = offset.magnitude
        let sep = colon ? ":" : ""
        var text = sign + twoDigits(Int(a / 3600)) + sep + twoDigits(Int(a / 60 % 60))
        if a % 60 != 0 { text += sep + twoDigits(Int(a % 60)) }
        return text
    }
}

func twoDigits(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

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

/// Brings glibc's zone up to date with `TZ` before each local conversion. `mktime` does
/// so itself on every call but `localtime_r` only on its first, so without this a script's
/// `env.set("TZ", …)` would reach `from_parts` and not `parts`. When `TZ` has not changed,
/// `tzset` only compares it with the last value. glibc guards its zone state with a lock,
/// so this and the `_r` functions are safe from any thread.
func loadTimeZone() { tzset() }

/// An instant as a wall clock shows it in one zone.
struct CivilTime {
    var fields: CivilFields
    /// 1 = Monday … 7 = Sunday (ISO 8601).
    var weekday: Int
    /// 1 … 366.
    var yearday: Int
    /// Seconds east of UTC.
    var offset: Int
    /// "UTC", "+05:30", or the local zone's abbreviation ("IST", "CET").
    var zoneName: String
    var dst: Bool
    /// What `strftime` is given.
    var tm: Glibc.tm
    /// The instant, for `%s`.
    var instant: Instant

    init(_ instant: Instant, in zone: Zone) throws(TimeError) {
        // NOTE: `Instant` is within a day of years 0000–9999 and an offset is under a day,
        // so `time_t` arithmetic cannot overflow.
        var t = time_t(instant.seconds)
        var tm = Glibc.tm()
        switch zone {
        case .utc:
            guard gmtime_r(&t, &tm) != nil else { throw .message("timestamp \(instant.seconds) \(Instant.rangeMessage)") }
            offset = 0
            zoneName = "UTC"
            dst = false
        case .fixed(let o):
            t += time_t(o)
            guard gmtime_r(&t, &tm) != nil else { throw .message("timestamp \(instant.seconds) \(Instant.rangeMessage)") }
            tm.tm_gmtoff = o
            offset = o
            zoneName = Zone.offsetText(o)
            dst = false
        case .local:
            loadTimeZone()
            guard localtime_r(&t, &tm) != nil else { throw .message("timestamp \(instant.seconds) \(Instant.rangeMessage)") }
            offset = tm.tm_gmtoff
            zoneName = tm.tm_zone.map { String(cString: $0) } ?? Zone.offsetText(offset)
            dst = tm.tm_isdst > 0
        }
        let year = Int(tm.tm_year) + 1900
        guard (0...9999).contains(year) else {
            throw .message("timestamp \(instant.seconds) \(Instant.rangeMessage)")
        }
        fields = CivilFields(year: year, month: Int(tm.tm_mon) + 1, day: Int(tm.tm_mday), hour: Int(tm.tm_hour),
                             minute: Int(tm.tm_min), second: Int(tm.tm_sec), nanosecond: instant.nanosecond)
        weekday = tm.tm_wday == 0 ? 7 : Int(tm.tm_wday)
        yearday = Int(tm.tm_yday) + 1
        self.tm = tm
        self.instant = instant
    }

    static func dateText(_ year: Int, _ month: Int, _ day: Int) -> String {
        let y = "\(year)"
        return String(repeating: "0", count: max(0, 4 - y.count)) + y + "-" + twoDigits(month) + "-" + twoDigits(day)
    }
}
