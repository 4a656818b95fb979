#if canImport(Glibc)
import Glibc
#endif

/// The running VM's `--timeout` deadline, for every wait that host code does on the VM's
/// thread: sleeps, child processes, sockets, isolated-plugin calls and plugin loading
/// (docs/limits.md, "Timeout"). One mechanism instead of a parameter threaded through every
/// layer: the VM publishes its deadline (an absolute `CLOCK_MONOTONIC` time in nanoseconds)
/// in a thread-local slot while a call into it runs, and a wait reads `RunDeadline.current`
/// and ends there. Code that has a `NativeCall` then ends the run with `raiseTimeout()`;
/// code that has none (plugin loading, reload) just fails, and the VM turns any error raised
/// past the deadline into the uncatchable timeout error (`Runtime.unwindToHandler`).
package enum RunDeadline {
    /// NOTE: a pthread key is created once and never changes; the slot it names is per
    /// thread, so no thread sees another's deadline.
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// The deadline of the VM running on this thread, in `CLOCK_MONOTONIC` nanoseconds; nil
    /// when no VM with a timeout is running here.
    package static var current: Int? {
        guard let p = pthread_getspecific(key) else { return nil }
        return Int(bitPattern: p)
    }

    /// Publishes `deadline` (0: none) for this thread while `body` runs.
    static func with<T>(_ deadline: Int, _ body: () -> T) -> T {
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: deadline))
        defer { pthread_setspecific(key, previous) }
        return body()
    }

    /// NOTE: as `key`: created once; the slot is per thread. It holds the running VM's
    /// `InterruptRequest` unretained: the VM's runtime owns it and outlives the entry that
    /// published it (`with` takes it down before returning).
    private static let interruptKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Whether the VM running on this thread accepts interrupts and one is waiting (Ctrl-C in
    /// the REPL, API/Interrupt.swift): for a wait that ended early with `EINTR`, to end its
    /// operation instead of waiting again. The request stays pending: the VM raises
    /// `interrupted` in its place (`NativeCall.raiseInterrupt`, or whatever error the wait's
    /// caller raises becomes it, `Runtime.unwindToHandler`).
    package static var interrupted: Bool {
        guard let p = pthread_getspecific(interruptKey) else { return false }
        return Unmanaged<InterruptRequest>.fromOpaque(p).takeUnretainedValue().isRequested
    }

    /// Publishes `interrupt` (nil: the VM does not accept interrupts) for this thread while
    /// `body` runs.
    static func with<T>(interrupt: InterruptRequest?, _ body: () -> T) -> T {
        let previous = pthread_getspecific(interruptKey)
        pthread_setspecific(interruptKey, interrupt.map { UnsafeRawPointer(Unmanaged.passUnretained($0).toOpaque()) })
        defer { pthread_setspecific(interruptKey, previous) }
        return body()
    }

    /// `CLOCK_MONOTONIC` in nanoseconds, the clock of every deadline.
    package static func now() -> Int { Runtime.preciseNow() }

    /// The earlier of `deadline` and the running VM's.
    package static func earliest(_ deadline: Int?) -> Int? {
        switch (deadline, current) {
        case let (a?, b?): return min(a, b)
        case let (a, b): return a ?? b
        }
    }

    /// `seconds` from `now` as a deadline, saturating: a huge `seconds` (1e300) gives a
    /// deadline far in the future instead of trapping; NaN or a negative gives `now`.
    package static func after(seconds: Double, from now: Int) -> Int {
        now &+ nanoseconds(seconds)
    }

    /// `seconds` in nanoseconds, clamped to [0, 2^62] (about 146 years); NaN gives 0.
    package static func nanoseconds(_ seconds: Double) -> Int {
        let ns = seconds * 1e9
        guard ns > 0 else { return 0 }
        return ns >= 4.6e18 ? 1 << 62 : Int(ns)
    }
}
