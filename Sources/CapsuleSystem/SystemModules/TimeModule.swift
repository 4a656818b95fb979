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
                guard let seconds = call.double(0), seconds >= 0, seconds.isFinite else {
                    return call.raise("time.sleep: argument 1: expected a number of seconds >= 0, got \(call.typeName(0))")
                }
                if let denied = check(call) { return denied }
                var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
                var remaining = timespec()
                while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
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

    static func seconds(_ clock: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
