#if canImport(Glibc)
import Glibc
#endif

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
