import CEventPoll
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where other threads hand work back to a VM's thread: completions of host calls that
/// parked a fiber (a plugin's completion token, a call run on the blocking pool, a Swift
/// host function that finished elsewhere). One epoll instance, made on first need, holds the
/// descriptors fibers wait on and an eventfd that a completion writes to, so the scheduler
/// sleeps in one `epoll_wait` for timers, descriptors and completions alike, as Go's
/// netpoller does.
final class EventPort: Sendable {
    struct Posted: Sendable {
        /// The fiber's address (a pointer is not Sendable; it is only used on the VM thread).
        let fiber: UInt
        let generation: Int
        /// Runs on the VM thread: makes the value the fiber resumes with.
        let produce: @Sendable (NativeCall) -> Value
    }

    private let posted = Mutex<[Posted]>([])
    /// Set by `post`, cleared by `take`: one relaxed load tells the scheduler whether to look.
    let pending = Atomic<Bool>(false)
    /// -1 until `open`.
    let epollFD = Atomic<Int32>(-1)
    let wakeFD = Atomic<Int32>(-1)

    init() {}

    deinit {
        let e = epollFD.load(ordering: .relaxed), w = wakeFD.load(ordering: .relaxed)
        if e >= 0 { close(e) }
        if w >= 0 { close(w) }
    }

    /// Makes the epoll instance and the wake-up eventfd (VM thread). False when the system
    /// refuses (out of descriptors).
    func open() -> Bool {
        if epollFD.load(ordering: .relaxed) >= 0 { return true }
        let e = ceventpoll_create()
        guard e >= 0 else { return false }
        let w = ceventpoll_eventfd()
        guard w >= 0 else { close(e); return false }
        guard ceventpoll_control(e, 0, w, CEVENTPOLL_IN) == 0 else { close(e); close(w); return false }
        wakeFD.store(w, ordering: .releasing)
        epollFD.store(e, ordering: .releasing)
        return true
    }

    /// From any thread: queues a completion and wakes the VM's thread if it sleeps.
    func post(_ p: Posted) {
        posted.withLock { $0.append(p) }
        pending.store(true, ordering: .releasing)
        let w = wakeFD.load(ordering: .acquiring)
        if w >= 0 {
            var one: UInt64 = 1
            _ = write(w, &one, 8)
        }
    }

    /// The completions posted so far (VM thread).
    func take() -> [Posted] {
        pending.store(false, ordering: .relaxed)
        return posted.withLock { p in
            let all = p
            p.removeAll(keepingCapacity: true)
            return all
        }
    }

    /// Empties the eventfd after a wake-up (VM thread).
    func drainWake() {
        let w = wakeFD.load(ordering: .relaxed)
        guard w >= 0 else { return }
        var n: UInt64 = 0
        _ = read(w, &n, 8)
    }
}

/// A promise to resume one parked fiber, kept by host code that finishes its work on
/// another thread (`NativeCall.parkForCompletion`). `complete` may be called from any
/// thread, once; later calls are ignored. The value is made on the VM's thread, by the
/// closure given to `complete`, so no script value crosses threads.
package final class CompletionToken: Sendable {
    let port: EventPort
    let fiber: UInt
    let generation: Int
    private let completed = Atomic<Bool>(false)

    init(port: EventPort, fiber: UInt, generation: Int) {
        self.port = port
        self.fiber = fiber
        self.generation = generation
    }

    /// Resumes the fiber with what `produce` returns on the VM thread (a value, or
    /// `NativeCall.failure` after raising, which the fiber then raises). False when the
    /// token was completed before.
    @discardableResult
    package func complete(_ produce: @escaping @Sendable (NativeCall) -> Value) -> Bool {
        guard !completed.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        port.post(EventPort.Posted(fiber: fiber, generation: generation, produce: produce))
        return true
    }

    package var isCompleted: Bool { completed.load(ordering: .acquiring) }
}
