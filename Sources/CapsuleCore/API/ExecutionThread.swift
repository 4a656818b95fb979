#if canImport(Glibc)
import Glibc
#endif

/// The thread a VM runs its interpreter on: one long-lived thread with a large stack, so deep
/// native recursion (the parser, the compiler, re-entrant calls) hits Capsule's own depth
/// limits long before the native stack runs out. It starts on the VM's first entry, serves
/// every later one, and ends when the VM goes away.
///
/// NOTE: one thread per VM, not one per entry. A fresh thread per `run`/`evaluate` cost a
/// thread creation on every embedding call, and with several VMs on several threads it
/// scattered each VM's allocations over glibc's malloc arenas (a new thread takes whichever
/// arena is free), so freed memory could not be returned: the threaded hot-reload soak grew
/// RSS with every reload although nothing leaked.
///
/// NOTE: `@unchecked Sendable` because `thread` and all of `State` are read and written only
/// with `state.mutex` held (a pthread mutex: the condition variable needs one) or in `deinit`,
/// when no caller is left; a job is handed to the thread while its caller waits for it to
/// finish, so no closure runs on two threads at once. `canStart` and `stackSize` never change.
final class ExecutionThread: @unchecked Sendable {
    /// Shared with the thread, which holds its own reference until it exits (through
    /// `Unmanaged`, so the checker never sees it cross; guarded as above).
    private final class State {
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        var job: (() -> Void)?
        /// Jobs handed over and jobs finished: a caller waits for its own number.
        var submitted = 0
        var finished = 0
        var stopping = false
        /// The caller running a job on its own thread because none could be started.
        var inlineOwner: pthread_t?

        init() {
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(condition, nil)
        }

        deinit {
            pthread_cond_destroy(condition)
            pthread_mutex_destroy(mutex)
            condition.deallocate()
            mutex.deallocate()
        }

        /// The thread's body: run jobs until told to stop.
        func serve() {
            pthread_mutex_lock(mutex)
            while true {
                while job == nil && !stopping { pthread_cond_wait(condition, mutex) }
                guard let work = job else { break }
                pthread_mutex_unlock(mutex)
                work()
                pthread_mutex_lock(mutex)
                job = nil
                finished += 1
                pthread_cond_broadcast(condition)
            }
            pthread_mutex_unlock(mutex)
        }
    }

    private let state = State()
    private var thread: pthread_t?
    private let stackSize: Int
    /// False only in tests: behave as if no thread could be started.
    private let canStart: Bool

    init(stackSize: Int, canStart: Bool = true) {
        self.stackSize = max(stackSize, 1 << 20)
        self.canStart = canStart
    }

    deinit {
        pthread_mutex_lock(state.mutex)
        state.stopping = true
        pthread_cond_broadcast(state.condition)
        pthread_mutex_unlock(state.mutex)
        guard let thread else { return }
        if pthread_equal(thread, pthread_self()) == 0 { pthread_join(thread, nil) } else { pthread_detach(thread) }
    }

    /// Runs `body` on the thread and waits for it. Called on the thread itself (a VM entered
    /// from its own host function), it runs in place. If no thread can be started (resource
    /// limits), it runs on the caller's, still one caller at a time.
    func run(_ body: @escaping () -> Void) {
        pthread_mutex_lock(state.mutex)
        let me = pthread_self()
        if let thread, pthread_equal(thread, me) != 0 {
            pthread_mutex_unlock(state.mutex)
            body()
            return
        }
        if let owner = state.inlineOwner, pthread_equal(owner, me) != 0 {
            // A call back from a job running on this caller's thread.
            pthread_mutex_unlock(state.mutex)
            body()
            return
        }
        // Callers from other threads take turns, on the thread or, without one, on their own.
        while state.finished < state.submitted || state.inlineOwner != nil { pthread_cond_wait(state.condition, state.mutex) }
        guard thread != nil || start() else {
            state.inlineOwner = me
            pthread_mutex_unlock(state.mutex)
            body()
            pthread_mutex_lock(state.mutex)
            state.inlineOwner = nil
            pthread_cond_broadcast(state.condition)
            pthread_mutex_unlock(state.mutex)
            return
        }
        state.job = body
        state.submitted += 1
        let ticket = state.submitted
        pthread_cond_broadcast(state.condition)
        while state.finished < ticket { pthread_cond_wait(state.condition, state.mutex) }
        pthread_mutex_unlock(state.mutex)
    }

    /// Sends `number` to the thread, if it was started (to wake a wait with `EINTR`).
    func signal(_ number: Int32) {
        pthread_mutex_lock(state.mutex)
        defer { pthread_mutex_unlock(state.mutex) }
        if let thread { pthread_kill(thread, number) }
    }

    /// Starts the thread; called with the mutex held.
    private func start() -> Bool {
        guard canStart else { return false }
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setstacksize(&attr, stackSize)
        let shared = Unmanaged.passRetained(state)
        var t = pthread_t()
        let rc = pthread_create(&t, &attr, { arg in
            let state = Unmanaged<State>.fromOpaque(arg!).takeRetainedValue()
            state.serve()
            return nil
        }, shared.toOpaque())
        guard rc == 0 else { shared.release(); return false }
        thread = t
        return true
    }
}
