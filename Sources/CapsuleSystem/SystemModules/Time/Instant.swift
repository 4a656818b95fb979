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
