#if canImport(Glibc)
import Glibc
#endif
import CapsuleCore

/// The `time` module. `now` (the wall clock) and `sleep` need the `clock` capability
/// (`--allow-clock`): the wall clock identifies when and where code runs and sleeping lets
/// code time others. `monotonic` is not gated, like the core `clock()` builtin it equals:
/// it only measures intervals (docs/security.md#clock).
///
/// ```
/// import "time"
/// let t0 = time.monotonic()
/// time.sleep(0.25)
/// print(time.now())    // seconds since 1970-01-01 UTC, as a float
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
                // NOTE: `seconds` may be huge (1e300): only `RunDeadline.nanoseconds`
                // converts it, saturating, never `Int(seconds)`.
                guard let seconds = call.double(0), seconds >= 0, seconds.isFinite else {
                    let shown = call.int(0).map { "\($0)" } ?? call.double(0).map { "\($0)" } ?? call.typeName(0)
                    return call.raise("time.sleep: argument 1: expected a finite number of seconds >= 0, got \(shown)")
                }
                if let denied = check(call) { return denied }
                let now = RunDeadline.now()
                let wake = RunDeadline.after(seconds: seconds, from: now)
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
        ])
    }

    /// Raises and returns the failure when `clock` is not granted.
    private func check(_ call: NativeCall) -> Value? {
        if case .failure(let d) = enforcer.check(Capability(.clock), by: .script) { return call.raise(d.message) }
        return nil
    }

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
