#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One long-lived thread that starts every worker process.
///
/// A worker asks the kernel to kill it when its parent dies (`PR_SET_PDEATHSIG`), and Linux
/// counts the *thread* that forked it as the parent: a worker started on a VM's own thread
/// (`ExecutionThread`, which ends with its VM) would be killed when that VM goes away, and one
/// started on an embedder's short-lived thread when that thread returns. Spawning from this
/// thread, which never exits, ties the worker to the host process instead.
///
/// NOTE: process-wide, like the registry: it mirrors the kernel's per-thread parent rule.
enum SpawnerThread {
    /// NOTE: `@unchecked` because its fields are guarded by its own pthread mutex (a condition
    /// variable needs one), which every access below holds; `work` is handed to the spawner
    /// thread while its caller waits for `done`, so the closure never runs on two threads.
    private final class State: @unchecked Sendable {
        var mutex = pthread_mutex_t()
        var condition = pthread_cond_t()
        var work: (() -> Void)?
        var done = false
        init() {
            pthread_mutex_init(&mutex, nil)
            pthread_cond_init(&condition, nil)
        }
    }

    private static let state: State = {
        let state = State()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { _ in
            let s = SpawnerThread.state
            pthread_mutex_lock(&s.mutex)
            while true {
                while s.work == nil { pthread_cond_wait(&s.condition, &s.mutex) }
                s.work?()
                s.work = nil
                s.done = true
                pthread_cond_broadcast(&s.condition)
            }
        }, nil)
        if rc == 0 { pthread_detach(thread) }
        return state
    }()

    /// Serialises callers; held for the whole of one `run`.
    private static let callers = Mutex(())

    /// Runs `body` on the spawner thread and waits for it.
    static func run(_ body: @escaping () -> Void) {
        callers.withLock { _ in runAlone(body) }
    }

    /// `run` once it holds `callers`.
    private static func runAlone(_ body: @escaping () -> Void) {
        let s = state
        pthread_mutex_lock(&s.mutex)
        s.done = false
        s.work = body
        pthread_cond_broadcast(&s.condition)
        while !s.done { pthread_cond_wait(&s.condition, &s.mutex) }
        pthread_mutex_unlock(&s.mutex)
    }
}
