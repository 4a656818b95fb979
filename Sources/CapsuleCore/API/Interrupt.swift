import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Interrupting a running script from another thread: the REPL's Ctrl-C. The run ends with
/// the error `interrupted`, which `try`/`catch` cannot catch (like a timeout, and unlike
/// Python's `KeyboardInterrupt`, so a `catch` around a loop cannot swallow Ctrl-C); the
/// VM's state (module variables, loaded modules) stays as the script left it.
///
/// The request is seen where the interpreter checks its limits (loop back-edges and calls,
/// Runtime/Limits.swift), with no new check in the dispatch loop: a VM that accepts
/// interrupts runs its countdown in slices of `Runtime.fuelSlice` counted instructions, as
/// with a timeout, and each slice's check reads one atomic flag. A VM that does not accept
/// them (the default, and `capsule run`) keeps its countdown at `Int.max`.
///
/// Host functions that wait (`time.sleep`, reading standard input, `proc.run`, `net`) end
/// their wait early when the VM has a wake-up signal (`acceptInterrupts(wakeSignal:)`): each
/// request sends it to the VM's thread, so the wait's system call ends with `EINTR` and the
/// wait sees the request (`RunDeadline.interrupted`). Other waits end when they would have,
/// and the interrupt is raised at the script's next back-edge or call.
@usableFromInline package final class InterruptRequest: Sendable {
    @usableFromInline let requested = Atomic<Bool>(false)
    /// Sent to the VM's thread with each request; 0: none.
    let wakeSignal = Atomic<Int32>(0)

    init() {}

    /// Whether an interrupt is waiting: one relaxed atomic load.
    @inlinable var isRequested: Bool { requested.load(ordering: .relaxed) }

    func request() { requested.store(true, ordering: .releasing) }

    /// Takes the request: true if one was waiting.
    func take() -> Bool { requested.exchange(false, ordering: .acquiringAndReleasing) }
}

extension VM {
    /// Makes this VM's runs stop at `interrupt()`. Costs a limit check every
    /// `Runtime.fuelSlice` counted instructions while code runs. `wakeSignal`, when given,
    /// is sent to the VM's thread with each interrupt so that a host function blocked in a
    /// wait wakes with `EINTR`: the host installs a handler for it without `SA_RESTART`
    /// (SIGURG, ignored by default, is a good choice). It is unblocked on the VM's thread here.
    package func acceptInterrupts(wakeSignal: Int32? = nil) {
        rt.interruptRequest.wakeSignal.store(wakeSignal ?? 0, ordering: .releasing)
        onVMThread {
            self.rt.interruptible = true
            // The thread inherited the mask of the thread that started it (a dispatch worker
            // blocks nearly everything).
            if let wakeSignal {
                var set = sigset_t()
                sigemptyset(&set)
                sigaddset(&set, wakeSignal)
                pthread_sigmask(SIG_UNBLOCK, &set, nil)
            }
        }
    }

    /// Ends the script this VM is running with the uncatchable error `interrupted` at its
    /// next back-edge or call; callable from any thread (not from a signal handler). A
    /// request made while nothing runs is dropped when the next call into the VM starts.
    package func interrupt() {
        rt.interruptRequest.request()
        let signal = rt.interruptRequest.wakeSignal.load(ordering: .acquiring)
        if signal != 0 { thread.signal(signal) }
    }
}

extension Runtime {
    /// Ends the run with `interrupted` if an interrupt is waiting (from `checkLimits` and
    /// host waits). False after raising.
    @inline(never)
    func checkInterrupt() -> Bool {
        guard interruptible && interruptRequest.take() else { return true }
        haltForInterrupt()
        return false
    }
}

extension NativeCall {
    /// Whether an interrupt is waiting: for a host function's wait loop to test when the
    /// wait ends early (`EINTR`).
    package var interruptRequested: Bool { rt.interruptible && rt.interruptRequest.isRequested }

    /// Ends the run with the uncatchable `interrupted`; return its result.
    package func raiseInterrupt() -> Value {
        _ = rt.interruptRequest.take()
        rt.haltForInterrupt()
        return Runtime.failure
    }
}
