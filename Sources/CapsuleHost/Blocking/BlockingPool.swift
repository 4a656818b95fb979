#if canImport(Glibc)
import Glibc
#endif

/// A bounded pool of threads for native calls that block (exports flagged
/// `CAPSULE_EXPORT_BLOCKING`, raw FFI functions bound with `!blocking`, waits on an isolated
/// plugin's worker): the calling fiber parks, a pool thread makes the call, and a completion
/// hands the result back to the VM's thread (docs/plugins.md, "Blocking exports").
///
/// One pool per `PluginHost`, so per VM: a VM's blocking calls never wait behind another
/// VM's, and a VM that makes none starts no thread. Threads start on demand, up to
/// `Settings.threads`; further calls wait in a FIFO queue. A call still running after
/// `Settings.reportAfter` seconds is reported once (`Settings.report`, standard error by
/// default), naming the plugin and export, because nothing can interrupt C code safely: it
/// is waited for, not killed.
///
/// NOTE: `@unchecked Sendable` because every mutable field is read and written with `mutex`
/// held; the two condition variables are used with that mutex only.
package final class BlockingPool: @unchecked Sendable {
    package typealias Settings = BlockingPoolSettings

    private struct Job {
        let label: String
        let work: @Sendable () -> Void
    }

    /// What a thread is running, for the stuck-call report.
    private struct Running {
        let label: String
        let started: Int
        var reported = false
    }

    let settings: Settings
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Signalled when a job is queued or the pool shuts down (the workers wait on it).
    private let work: UnsafeMutablePointer<pthread_cond_t>
    /// Signalled when a job starts or the pool shuts down (the monitor waits on it).
    private let started: UnsafeMutablePointer<pthread_cond_t>
    private var queue: [Job] = []
    private var queueHead = 0
    private var threadCount = 0
    private var idleCount = 0
    private var monitorRunning = false
    private var shuttingDown = false
    private var running: [Int: Running] = [:]
    private var nextThreadID = 0
    /// Calls submitted and not finished (queued or running).
    private var outstanding = 0

    package init(_ settings: Settings = Settings()) {
        self.settings = settings
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        work = .allocate(capacity: 1)
        pthread_cond_init(work, nil)
        started = .allocate(capacity: 1)
        // The monitor's timed waits use CLOCK_MONOTONIC, as every deadline in the VM does.
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(started, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        // Only reached once every thread has exited: each holds a reference while it runs.
        pthread_cond_destroy(started)
        pthread_cond_destroy(work)
        pthread_mutex_destroy(mutex)
        started.deallocate()
        work.deallocate()
        mutex.deallocate()
    }

    /// Queues `work`, named `label` ("zlib.inflate") in reports, to run on a pool thread.
    /// False when the pool is shut down or no thread could be started and none runs: the
    /// caller then makes the call itself.
    package func submit(label: String, _ work: @escaping @Sendable () -> Void) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard !shuttingDown else { return false }
        queue.append(Job(label: label, work: work))
        outstanding += 1
        if queue.count - queueHead > idleCount && threadCount < settings.threads && startThread(monitor: false) {
            threadCount += 1
        }
        if !monitorRunning && startThread(monitor: true) { monitorRunning = true }
        if threadCount == 0 {
            // Not even one thread: take the job back.
            queue.removeLast()
            outstanding -= 1
            return false
        }
        pthread_cond_signal(self.work)
        return true
    }

    /// Calls queued or running.
    package var pending: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return outstanding
    }

    /// Lets the threads finish the calls queued and running, then exit. Returns at once.
    package func shutdown() {
        pthread_mutex_lock(mutex)
        shuttingDown = true
        pthread_cond_broadcast(work)
        pthread_cond_broadcast(started)
        pthread_mutex_unlock(mutex)
    }

    /// Starts a detached worker or monitor thread (mutex held).
    private func startThread(monitor: Bool) -> Bool {
        let id = nextThreadID
        nextThreadID += 1
        let start = ThreadStart(pool: self, id: id, monitor: monitor)
        let context = Unmanaged.passRetained(start).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            // NOTE: `raw` is the `ThreadStart` retained just above, taken back exactly once here.
            guard let raw else { return nil }
            let start = Unmanaged<ThreadStart>.fromOpaque(raw).takeRetainedValue()
            if start.monitor { start.pool.monitorLoop() } else { start.pool.workerLoop(id: start.id) }
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<ThreadStart>.fromOpaque(context).release()
            return false
        }
        pthread_detach(thread)
        return true
    }

    private func workerLoop(id: Int) {
        pthread_mutex_lock(mutex)
        while true {
            while queueHead == queue.count && !shuttingDown {
                idleCount += 1
                pthread_cond_wait(work, mutex)
                idleCount -= 1
            }
            if queueHead == queue.count {
                threadCount -= 1
                pthread_mutex_unlock(mutex)
                return
            }
            let job = queue[queueHead]
            queueHead += 1
            if queueHead == queue.count {
                queue.removeAll(keepingCapacity: true)
                queueHead = 0
            }
            running[id] = Running(label: job.label, started: Self.now())
            pthread_cond_signal(started)
            pthread_mutex_unlock(mutex)
            job.work()
            pthread_mutex_lock(mutex)
            running[id] = nil
            outstanding -= 1
        }
    }

    /// Sleeps while nothing runs; while calls run, wakes when the oldest unreported one
    /// reaches `reportAfter` and reports it.
    private func monitorLoop() {
        let limit = Int(min(max(settings.reportAfter, 0.001), 1e9) * 1e9)
        pthread_mutex_lock(mutex)
        while !shuttingDown {
            let now = Self.now()
            var lines: [String] = []
            var next = Int.max
            for (id, r) in running where !r.reported {
                if now - r.started >= limit {
                    running[id]?.reported = true
                    lines.append("capsule: blocking call \(r.label) has been running for \(Self.seconds(now - r.started)) on a pool thread; still waiting for it")
                } else {
                    next = min(next, r.started + limit)
                }
            }
            if !lines.isEmpty {
                pthread_mutex_unlock(mutex)
                for line in lines { settings.report(line) }
                pthread_mutex_lock(mutex)
                continue
            }
            if next == Int.max {
                pthread_cond_wait(started, mutex)
            } else {
                var deadline = timespec(tv_sec: next / 1_000_000_000, tv_nsec: next % 1_000_000_000)
                _ = pthread_cond_timedwait(started, mutex, &deadline)
            }
        }
        monitorRunning = false
        pthread_mutex_unlock(mutex)
    }

    /// CLOCK_MONOTONIC nanoseconds.
    static func now() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return t.tv_sec * 1_000_000_000 + t.tv_nsec
    }

    /// `10.0 s`.
    static func seconds(_ nanoseconds: Int) -> String {
        let tenths = nanoseconds / 100_000_000
        return "\(tenths / 10).\(tenths % 10) s"
    }

}

/// How a `PluginHost`'s blocking pool is sized and when it reports a stuck call
/// (`capsule run --blocking-threads N --blocking-report-after 10s`).
public struct BlockingPoolSettings: Sendable {
    /// The most threads running blocking calls at once (at least 1).
    public var threads: Int
    /// Seconds after which a call still running is reported, once.
    public var reportAfter: Double
    /// Where reports go: one line each, without a trailing newline.
    public var report: @Sendable (String) -> Void

    /// 4 threads; reports after 10 s, on standard error (`report` nil).
    public init(threads: Int = 4, reportAfter: Double = 10, report: (@Sendable (String) -> Void)? = nil) {
        self.threads = max(1, threads)
        self.reportAfter = reportAfter
        self.report = report ?? { HostAPI.writeLog($0) }
    }
}

/// What a new pool thread starts with.
private final class ThreadStart {
    let pool: BlockingPool
    let id: Int
    let monitor: Bool

    init(pool: BlockingPool, id: Int, monitor: Bool) {
        self.pool = pool
        self.id = id
        self.monitor = monitor
    }
}
