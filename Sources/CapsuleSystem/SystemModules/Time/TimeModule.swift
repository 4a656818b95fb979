#if canImport(Glibc)
import Glibc
#endif
import CapsuleCore
import CapsuleSyntax

/// The `time` module: the clock, calendar dates, text in and out, durations
/// (docs/stdlib.md#time).
///
/// `now` (the wall clock), `sleep` and anything in the system's time zone (`zone: "local"`)
/// need the `clock` capability (`--allow-clock`): the wall clock and the zone say when and
/// where code runs, and sleeping lets code time others. `monotonic` is not gated, like the
/// core `clock()` builtin it equals: it only measures intervals (docs/security.md#clock).
/// Everything else is pure arithmetic on the numbers and text it is given.
///
/// ```
/// import "time"
/// let t = time.parse_iso("2024-03-05T14:07:09.25+05:30")
/// print(time.format(t, "%d %b %Y %H:%M:%S.%3f"))      // 05 Mar 2024 08:37:09.250
/// print(time.format_duration(5400.5))                    // 1h30m0.5s
/// ```
package final class TimeModule {
    let enforcer: CapabilityEnforcer

    package init(enforcer: CapabilityEnforcer) { self.enforcer = enforcer }

    package func moduleDefinition() -> NativeModuleDefinition {
        NativeModuleDefinition(name: "time", functions: [
            NativeFunctionDefinition(name: "now", arity: 0) { [unowned self] call in
                if let denied = check(call) { return denied }
                return call.doubleValue(Self.seconds(CLOCK_REALTIME))
            },
            NativeFunctionDefinition(name: "monotonic", arity: 0) { call in
                call.doubleValue(Self.seconds(CLOCK_MONOTONIC))
            },
            NativeFunctionDefinition(name: "sleep", arity: 1) { [unowned self] call in
                // A fiber that slept is called again when its timer fires.
                if call.takeResumption() != nil { return call.nilValue }
                // NOTE: `seconds` may be huge (1e300): only `RunDeadline.nanoseconds`
                // converts it, saturating, never `Int(seconds)`.
                guard let seconds = call.double(0), seconds >= 0, seconds.isFinite else {
                    let shown = call.int(0).map { "\($0)" } ?? call.double(0).map { "\($0)" } ?? call.typeName(0)
                    return call.raise("time.sleep: argument 1: expected a finite number of seconds >= 0, got \(shown)")
                }
                if let denied = check(call) { return denied }
                let now = RunDeadline.now()
                let wake = RunDeadline.after(seconds: seconds, from: now)
                // In a fiber the timer parks it and others run (the run's timeout still
                // ends the run, from the scheduler); elsewhere the thread sleeps.
                if call.canPark { return call.parkUntil(wake) }
                let vm = call.deadline
                // An interrupt (Ctrl-C in the REPL) wakes the sleep early.
                if let vm, vm <= wake {
                    if !Self.sleep(until: vm, stopping: { call.interruptRequested }) { return call.raiseInterrupt() }
                    return call.raiseTimeout()
                }
                if !Self.sleep(until: wake, stopping: { call.interruptRequested }) { return call.raiseInterrupt() }
                call.afterBlocking()
                return call.nilValue
            },
            NativeFunctionDefinition(name: "after", arity: 1) { [unowned self] call in
                guard let seconds = call.double(0), seconds >= 0, seconds.isFinite else {
                    let shown = call.int(0).map { "\($0)" } ?? call.double(0).map { "\($0)" } ?? call.typeName(0)
                    return call.raise("time.after: argument 1: expected a finite number of seconds >= 0, got \(shown)")
                }
                if let denied = check(call) { return denied }
                return call.timerChannel(deadline: RunDeadline.after(seconds: seconds, from: RunDeadline.now()))
            },
            NativeFunctionDefinition(name: "tick", arity: 1) { [unowned self] call in
                guard let seconds = call.double(0), seconds >= 0.001, seconds.isFinite else {
                    let shown = call.int(0).map { "\($0)" } ?? call.double(0).map { "\($0)" } ?? call.typeName(0)
                    return call.raise("time.tick: argument 1: expected a finite number of seconds >= 0.001, got \(shown)")
                }
                if let denied = check(call) { return denied }
                let now = RunDeadline.now()
                let first = RunDeadline.after(seconds: seconds, from: now)
                return call.tickerChannel(deadline: first, period: max(1, first - now))
            },
            NativeFunctionDefinition(name: "parts", arity: -1) { [unowned self] call in
                run(call, "parts", arguments: 1...2) { () throws(TimeError) in
                    let zone = try options(call, 1, known: ["zone"]).zone
                    return partsValue(call, try CivilTime(try instant(call, 0), in: zone))
                }
            },
            NativeFunctionDefinition(name: "from_parts", arity: -1) { [unowned self] call in
                run(call, "from_parts", arguments: 1...2) { () throws(TimeError) in
                    let o = try options(call, 1, known: ["zone"])
                    return timestampValue(call, try fromParts(call, zone: o.zone, zoneGiven: o.zoneGiven))
                }
            },
            NativeFunctionDefinition(name: "format", arity: -1) { [unowned self] call in
                run(call, "format", arguments: 2...3) { () throws(TimeError) in
                    let t = try instant(call, 0)
                    let pattern = try text(call, 1, "pattern")
                    let zone = try options(call, 2, known: ["zone"]).zone
                    let bytes = try TimeFormat.format(try CivilTime(t, in: zone), pattern)
                    return try stringValue(call, bytes)
                }
            },
            NativeFunctionDefinition(name: "parse", arity: -1) { [unowned self] call in
                run(call, "parse", arguments: 2...3) { () throws(TimeError) in
                    let input = try text(call, 0, "text")
                    let pattern = try text(call, 1, "pattern")
                    let zone = try options(call, 2, known: ["zone"]).zone
                    let parsed = try TimeParse.parse(input, pattern)
                    return timestampValue(call, try parsed.instant(zone: parsed.offset == nil && parsed.epoch == nil ? zone : .utc))
                }
            },
            NativeFunctionDefinition(name: "iso", arity: -1) { [unowned self] call in
                run(call, "iso", arguments: 1...2) { () throws(TimeError) in
                    let t = try instant(call, 0)
                    let o = try options(call, 1, known: ["zone", "digits"])
                    return call.stringValue(ISO8601.format(try CivilTime(t, in: o.zone), digits: o.digits))
                }
            },
            NativeFunctionDefinition(name: "parse_iso", arity: -1) { [unowned self] call in
                run(call, "parse_iso", arguments: 1...2) { () throws(TimeError) in
                    let input = try text(call, 0, "text")
                    let zone = try options(call, 1, known: ["zone"]).zone
                    return timestampValue(call, try ISO8601.parse(input, zone: zone))
                }
            },
            NativeFunctionDefinition(name: "parse_duration", arity: 1) { call in
                Self.run(call, "parse_duration", arguments: 1...1) { () throws(TimeError) in
                    let ns = try DurationText.parse(try Self.text(call, 0, "text"))
                    let (s, n) = ns.quotientAndRemainder(dividingBy: 1_000_000_000)
                    return n == 0 ? call.intValue(s) : call.doubleValue(Double(s) + Double(n) / 1e9)
                }
            },
            NativeFunctionDefinition(name: "format_duration", arity: 1) { call in
                Self.run(call, "format_duration", arguments: 1...1) { () throws(TimeError) in
                    call.stringValue(DurationText.format(try Self.nanoseconds(call, 0)))
                }
            },
        ])
    }

    /// Raises and returns the failure when `clock` is not granted.
    private func check(_ call: NativeCall) -> Value? {
        if case .failure(let d) = enforcer.check(Capability(.clock), by: .script) { return call.raise(d.message) }
        return nil
    }

    /// Runs `body`, turning its error into `time.NAME: message` (a denial as the enforcer
    /// words it, as `time.now` gives it).
    private static func run(_ call: NativeCall, _ name: String, arguments: ClosedRange<Int>,
                            _ body: () throws(TimeError) -> Value) -> Value {
        guard arguments.contains(call.count) else {
            let expected = arguments.count == 1 ? "\(arguments.lowerBound)" : "\(arguments.lowerBound) or \(arguments.upperBound)"
            return call.raise("time.\(name) expects \(expected) argument\(arguments.upperBound == 1 ? "" : "s"), got \(call.count)")
        }
        do { return try body() } catch {
            switch error {
            case .message(let m): return call.raise("time.\(name): \(m)")
            case .denied(let m): return call.raise(m)
            }
        }
    }

    private func run(_ call: NativeCall, _ name: String, arguments: ClosedRange<Int>,
                     _ body: () throws(TimeError) -> Value) -> Value {
        Self.run(call, name, arguments: arguments, body)
    }

    // MARK: arguments

    /// Argument `i` as a timestamp: seconds since 1970-01-01T00:00:00Z, an int or a float.
    private func instant(_ call: NativeCall, _ i: Int) throws(TimeError) -> Instant {
        if let n = call.int(i) { return try Instant(int: n) }
        if call.isFloat(i), let d = call.double(i) { return try Instant(double: d) }
        throw .message("argument \(i + 1): expected a timestamp (seconds since 1970 as an int or float), got \(call.typeName(i))")
    }

    /// Argument `i` as the bytes of a string.
    private static func text(_ call: NativeCall, _ i: Int, _ what: String) throws(TimeError) -> UnsafeBufferPointer<UInt8> {
        guard let s = call.string(i) else { throw .message("argument \(i + 1): the \(what) must be a string, got \(call.typeName(i))") }
        return s
    }
    private func text(_ call: NativeCall, _ i: Int, _ what: String) throws(TimeError) -> UnsafeBufferPointer<UInt8> {
        try Self.text(call, i, what)
    }

    /// A duration argument in seconds as nanoseconds.
    private static func nanoseconds(_ call: NativeCall, _ i: Int) throws(TimeError) -> Int64 {
        if let n = call.int(i) {
            let (v, o) = n.multipliedReportingOverflow(by: 1_000_000_000)
            if o { throw .message("\(n) seconds \(DurationText.rangeMessage)") }
            return v
        }
        if call.isFloat(i), let d = call.double(i) {
            // NOTE: checked against ±2^63 before the conversion; `rounded()` is integral, so
            // `Int64(exactly:)` succeeds for every value that passes.
            let ns = (d * 1e9).rounded()
            guard ns.isFinite, ns >= -9.223372036854775808e18, ns < 9.223372036854775808e18, let v = Int64(exactly: ns) else {
                throw .message("\(d) seconds \(DurationText.rangeMessage)")
            }
            return v
        }
        throw .message("argument \(i + 1): expected a number of seconds (an int or float), got \(call.typeName(i))")
    }

    struct Options {
        var zone: Zone = .utc
        /// Whether the map had a `zone` (not nil).
        var zoneGiven = false
        var digits: Int? = nil
    }

    /// The options map in argument `i` (absent or nil: the defaults).
    private func options(_ call: NativeCall, _ i: Int, known: [String]) throws(TimeError) -> Options {
        var o = Options()
        guard i < call.count, call.kind(of: call.value(i)) != .nil else { return o }
        guard let entries = call.mapEntries(i) else {
            throw .message("argument \(i + 1): options must be a map like {zone: \"local\"}, got \(call.typeName(i))")
        }
        for (key, value) in entries {
            guard let key else { throw .message("option names must be strings (known: \(known.joined(separator: ", ")))") }
            guard known.contains(key) else {
                throw .message("unknown option \(quoted(key)) (known: \(known.joined(separator: ", ")))")
            }
            if call.kind(of: value) == .nil { continue }
            switch key {
            case "zone": o.zone = try zone(call, value); o.zoneGiven = true
            default:
                guard let n = call.intOf(value), (0...9).contains(n) else {
                    let shown = call.intOf(value).map { "\($0)" } ?? call.typeName(of: value)
                    throw .message("option digits must be an int from 0 to 9, got \(shown)")
                }
                o.digits = Int(n)
            }
        }
        return o
    }

    /// `"UTC"`, `"local"` (needs `clock`), `"+05:30"` / `"-0800"` / `"+05"`, or seconds east of UTC.
    private func zone(_ call: NativeCall, _ value: Value) throws(TimeError) -> Zone {
        let usage = "zone must be \"UTC\", \"local\", an offset like \"+05:30\" or seconds east of UTC (an int)"
        if let n = call.intOf(value) {
            // NOTE: `magnitude`, not `abs`, which traps on Int64.min.
            guard n.magnitude <= UInt64(Zone.offsetLimit) else { throw .message("zone offset \(n) seconds is out of range (under a day either way)") }
            // NOTE: range-checked just above.
            return .fixed(Int(n))
        }
        guard let bytes = call.stringOf(value) else { throw .message("\(usage), got \(call.typeName(of: value))") }
        let name = String(decoding: bytes, as: UTF8.self)
        switch name.lowercased() {
        case "utc", "z": return .utc
        case "local":
            if case .failure(let d) = enforcer.check(Capability(.clock), by: .script) { throw .denied(d.message) }
            return .local
        default:
            var r = TextReader(bytes)
            if let c = r.peek, c == UInt8(ascii: "+") || c == UInt8(ascii: "-"),
               let offset = try? r.offsetFromUTC(""), r.atEnd {
                return .fixed(offset)
            }
            throw .message("\(usage), got \(quoted(name)) (time zone names other than UTC and local are not supported)")
        }
    }

    /// The map of `time.parts` read back (argument 0) as an instant.
    private func fromParts(_ call: NativeCall, zone: Zone, zoneGiven: Bool) throws(TimeError) -> Instant {
        guard let entries = call.mapEntries(0) else {
            throw .message("argument 1: expected a map of parts like {year: 2024, month: 3, day: 5}, got \(call.typeName(0))")
        }
        var f = CivilFields()
        var seen: Set<String> = []
        var offset: Int? = nil
        let fields = ["year", "month", "day", "hour", "minute", "second", "nanosecond", "offset"]
        let derived = ["weekday", "yearday", "zone", "dst"]
        for (key, value) in entries {
            guard let key else { throw .message("part names must be strings like \"year\"") }
            guard fields.contains(key) || derived.contains(key) else {
                throw .message("unknown part \(quoted(key)) (known: \(fields.joined(separator: ", ")); \(derived.joined(separator: ", ")) are ignored)")
            }
            if derived.contains(key) || call.kind(of: value) == .nil { continue }
            guard let n = call.intOf(value) else { throw .message("\(key) must be an int, got \(call.typeName(of: value))") }
            // NOTE: `Int` is 64 bits on every platform Capsule builds for, so `clamping` keeps
            // the value; `check()` then rejects anything out of its field's range.
            let v = Int(clamping: n)
            seen.insert(key)
            switch key {
            case "year": f.year = v
            case "month": f.month = v
            case "day": f.day = v
            case "hour": f.hour = v
            case "minute": f.minute = v
            case "second": f.second = v
            case "nanosecond": f.nanosecond = v
            default:
                // NOTE: `magnitude`, not `abs`, which traps on Int64.min.
                guard n.magnitude <= UInt64(Zone.offsetLimit) else { throw .message("offset \(n) seconds is out of range (under a day either way)") }
                offset = v
            }
        }
        for required in ["year", "month", "day"] where !seen.contains(required) {
            throw .message("the parts need a \(required)")
        }
        if let offset {
            if zoneGiven { throw .message("the parts have an offset, so the zone option cannot be given too") }
            return try f.instant(in: .fixed(offset))
        }
        return try f.instant(in: zone)
    }

    // MARK: results

    /// A timestamp as a script sees it: an int for a whole second, else a float.
    private func timestampValue(_ call: NativeCall, _ t: Instant) -> Value {
        t.nanosecond == 0 ? call.intValue(t.seconds) : call.doubleValue(Double(t.seconds) + Double(t.nanosecond) / 1e9)
    }

    private func partsValue(_ call: NativeCall, _ c: CivilTime) -> Value {
        let f = c.fields
        return call.recordValue([
            ("year", .int(Int64(f.year))), ("month", .int(Int64(f.month))), ("day", .int(Int64(f.day))),
            ("hour", .int(Int64(f.hour))), ("minute", .int(Int64(f.minute))), ("second", .int(Int64(f.second))),
            ("nanosecond", .int(Int64(f.nanosecond))), ("weekday", .int(Int64(c.weekday))),
            ("yearday", .int(Int64(c.yearday))), ("offset", .int(Int64(c.offset))), ("zone", .string(c.zoneName)),
            ("dst", .bool(c.dst)),
        ])
    }

    /// A new string of `bytes` (valid UTF-8: the pattern was, and glibc writes ASCII in the C locale).
    private func stringValue(_ call: NativeCall, _ bytes: [UInt8]) throws(TimeError) -> Value {
        if let short = call.heapShortfall(bytes.count) { throw .message(short) }
        return bytes.withUnsafeBufferPointer { call.stringValue($0) }
    }

    // MARK: the clock

    /// Sleeps until `deadline` (`CLOCK_MONOTONIC` nanoseconds), through signals unless
    /// `stopping` says so after one; false when it stopped early.
    static func sleep(until deadline: Int, stopping: () -> Bool = { false }) -> Bool {
        var at = timespec(tv_sec: deadline / 1_000_000_000, tv_nsec: deadline % 1_000_000_000)
        while true {
            if stopping() { return false }
            let r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nil)
            if r != EINTR { return true }
        }
    }

    static func seconds(_ clock: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
