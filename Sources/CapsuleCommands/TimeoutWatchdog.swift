import CapsuleCore
import Glibc
import Synchronization

/// The backstop of `--timeout` for `capsule run`. Every wait in the VM and the host honours
/// the run's deadline itself (RunDeadline, docs/limits.md); what no wait can bound is native
/// code that never returns to the VM: an in-process plugin whose constructor, init or export
/// spins, or a read that blocks in the kernel. If the run is still going `grace` after the
/// deadline, this thread writes the timeout error, flushes standard output and ends the
/// process with exit code 70, the code the VM's own timeout error gives.
enum TimeoutWatchdog {
    /// How long past the deadline the VM gets to end the run itself.
    static let grace: Duration = .seconds(1)

    /// Set when the run returned: the watchdog then does nothing.
    // NOTE: an atomic shared by the VM's caller and the watchdog thread; never reset.
    private static let finished = Atomic<Bool>(false)

    /// Starts the watchdog for a run that begins now and may last `timeout`.
    static func start(timeout: Duration) {
        let deadline = RunDeadline.now() &+ RunDeadline.nanoseconds(seconds(timeout + grace))
        let message = "error: timeout of \(LimitText.duration(timeout)) exceeded (a native call did not return)\n"
        let box = UnsafeMutablePointer<(Int, String)>.allocate(capacity: 1)
        box.initialize(to: (deadline, message))
        var thread = pthread_t()
        guard pthread_create(&thread, nil, { arg in
            // NOTE: `arg` is the box allocated above, handed over to this thread alone.
            let box = arg!.assumingMemoryBound(to: (Int, String).self)
            let (deadline, message) = box.pointee
            box.deinitialize(count: 1)
            box.deallocate()
            var at = timespec(tv_sec: deadline / 1_000_000_000, tv_nsec: deadline % 1_000_000_000)
            while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nil) == EINTR {}
            if TimeoutWatchdog.finished.load(ordering: .acquiring) { return nil }
            // The VM's thread may be inside a write holding stdout's lock: flush only if free.
            if ftrylockfile(stdout) == 0 {
                fflush_unlocked(stdout)
                funlockfile(stdout)
            }
            var text = message
            text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
            _exit(70)
        }, box) == 0 else {
            box.deinitialize(count: 1)
            box.deallocate()
            return
        }
        pthread_detach(thread)
    }

    /// The run returned: the VM reports its own outcome.
    static func stop() {
        finished.store(true, ordering: .releasing)
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
