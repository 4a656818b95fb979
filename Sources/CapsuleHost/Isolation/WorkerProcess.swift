#if canImport(Glibc)
import Glibc
#endif
import CapsuleCore
import CapsuleSystem
import CapsuleIsolation
import CapsuleSupervisor

/// One running `capsule-worker` and the channel to it: the sealed shared memory
/// (`capsule_iso_shared`, then the data area) and a socketpair (capsule_isolation.h).
///
/// Started with `posix_spawn`, never `fork`: the host is multithreaded, and a forked copy of
/// it would hold other threads' locks. The worker gets fd 3 (shared memory), fd 4 (socket),
/// stdin from /dev/null, stdout and stderr on the host's stderr, and an environment holding
/// only the granted variables (and SWIFT_BACKTRACE=enable=no).
///
/// Everything the worker writes is hostile: the host reads each response field once, checks
/// it, and copies payloads out before using them.
///
/// While it loads, the worker's executable file mappings wait for the host's supervisor
/// (capsule_supervisor.h), started by `superviseLoading`; the first request the host sends
/// ends loading, and from then on the supervisor refuses every executable mapping.
final class WorkerProcess {
    /// Why waiting for a response ended without one.
    enum Failure: Error {
        /// The worker exited or was killed by a signal (a `waitpid` status).
        case died(Int32)
        /// The call ran past its deadline (seconds); the worker was killed.
        case deadline(Double)
        /// The running VM's `--timeout` deadline came first (RunDeadline); the worker was
        /// killed. The caller ends the run with the timeout error.
        case vmDeadline
        /// The worker broke the protocol (the reason); it was killed.
        case brokeProtocol(String)
    }

    let pid: pid_t
    private let socket: Int32
    private let mapping: UnsafeMutableRawPointer
    private let mappingSize: Int
    let shared: UnsafeMutablePointer<capsule_iso_shared>
    /// The data area: request payloads, then response payloads.
    let data: UnsafeMutableRawPointer
    let dataSize: Int
    private let requestSeq: UnsafeMutablePointer<UInt32>
    private let workerIdle: UnsafeMutablePointer<UInt32>
    private let responseSeq: UnsafeMutablePointer<UInt32>
    private let hostWaiting: UnsafeMutablePointer<UInt32>
    /// The sequence number of the request in flight (or last answered).
    private(set) var seq: UInt32 = 1
    private var reaped = false
    /// The supervisor of its executable mappings, from `superviseLoading` until `terminate`.
    private var supervisor: OpaquePointer?
    /// True once a request was sent: the supervisor refuses every executable mapping.
    private var loadingEnded = false
    /// True when the worker handed over its seccomp listener and a supervisor answers it.
    var isSupervised: Bool { supervisor != nil }

    /// How long the host spins (then spins yielding) for a response before it sleeps in poll().
    static let spinNanoseconds: UInt64 = 100_000
    /// Spins with only a pause instruction before yielding (~2 µs).
    static let pureSpins = 512

    private init(pid: pid_t, socket: Int32, mapping: UnsafeMutableRawPointer, mappingSize: Int, dataSize: Int) {
        self.pid = pid
        self.socket = socket
        self.mapping = mapping
        self.mappingSize = mappingSize
        shared = mapping.assumingMemoryBound(to: capsule_iso_shared.self)
        data = mapping + MemoryLayout<capsule_iso_shared>.size
        self.dataSize = dataSize
        func field(_ offset: Int?) -> UnsafeMutablePointer<UInt32> { (mapping + offset!).assumingMemoryBound(to: UInt32.self) }
        requestSeq = field(MemoryLayout<capsule_iso_shared>.offset(of: \.request_seq))
        workerIdle = field(MemoryLayout<capsule_iso_shared>.offset(of: \.worker_idle))
        responseSeq = field(MemoryLayout<capsule_iso_shared>.offset(of: \.response_seq))
        hostWaiting = field(MemoryLayout<capsule_iso_shared>.offset(of: \.host_waiting))
    }

    deinit {
        terminate()
        munmap(mapping, mappingSize)
        close(socket)
    }

    /// How handing over the worker's seccomp listener ended (`superviseLoading`).
    enum Supervision {
        /// The supervisor answers the worker's executable mappings.
        case started
        /// The worker's socket closed, or nothing came in time, before any listener: it
        /// failed before its lockdown (its response says why) or died. Waiting for the
        /// start's response tells which; a worker that says LOADED anyway is refused.
        case noListener
        /// The worker sent something else first; it was killed.
        case brokeProtocol(String)
    }

    /// Receives the seccomp listener the worker sends in stage 1 of its lockdown, before any
    /// plugin code runs, and starts the supervisor, which approves executable mappings of
    /// the `files` (the private copy and the libraries the host resolved) until the first
    /// request. Waits at most `deadline` seconds, and never past the VM's deadline.
    func superviseLoading(files: [String], deadline: Double) -> Supervision {
        var limit = RunDeadline.nanoseconds(deadline)
        if let vm = RunDeadline.current { limit = min(limit, max(0, vm &- Int(Self.now()))) }
        let listener = capsule_supervisor_receive_listener(socket, Int32(clamping: limit / 1_000_000 + 1))
        if listener == -2 {
            terminate()
            return .brokeProtocol("its first message was not its seccomp listener")
        }
        guard listener >= 0 else { return .noListener }
        var identities: [capsule_supervisor_file] = []
        for path in files {
            var info = stat()
            if stat(path, &info) == 0 {
                identities.append(capsule_supervisor_file(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)))
            }
        }
        // NOTE: the buffer is only read during the call; capsule_supervisor_start copies it.
        supervisor = identities.withUnsafeBufferPointer {
            capsule_supervisor_start(listener, pid, $0.baseAddress, UInt32($0.count))
        }
        return supervisor == nil ? .noListener : .started
    }

    /// Starts a worker. `configure` fills in the configuration and writes its strings into
    /// the data area (returning false if they do not fit) before the worker exists.
    static func spawn(executable: String, bufferSize: Int, environment: [String: String],
                      configure: (UnsafeMutablePointer<capsule_iso_shared>, UnsafeMutableRawPointer, Int) -> Bool) -> Result<WorkerProcess, IsolationError> {
        let headerSize = MemoryLayout<capsule_iso_shared>.size
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let size = (headerSize + bufferSize + pageSize - 1) / pageSize * pageSize
        let memfd = capsule_iso_memfd("capsule-isolation")
        guard memfd >= 0 else { return .failure(IsolationError("memfd_create: \(errorText())")) }
        defer { close(memfd) }
        guard ftruncate(memfd, off_t(size)) == 0 else { return .failure(IsolationError("ftruncate: \(errorText())")) }
        guard capsule_iso_seal(memfd) == 0 else { return .failure(IsolationError("sealing the shared memory: \(errorText())")) }
        guard let mapping = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0), mapping != MAP_FAILED else {
            return .failure(IsolationError("mmap: \(errorText())"))
        }
        let shared = mapping.assumingMemoryBound(to: capsule_iso_shared.self)
        shared.pointee.magic = CAPSULE_ISO_MAGIC
        shared.pointee.version = CAPSULE_ISO_VERSION
        shared.pointee.header_size = UInt32(headerSize)
        shared.pointee.data_offset = UInt64(headerSize)
        shared.pointee.data_size = UInt64(size - headerSize)
        shared.pointee.request_seq = 1  // the start itself is request 1, answered with LOADED
        shared.pointee.config.host_pid = getpid()
        guard configure(shared, mapping + headerSize, size - headerSize) else {
            munmap(mapping, size)
            return .failure(IsolationError("the worker's configuration does not fit in its shared buffer"))
        }

        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            munmap(mapping, size)
            return .failure(IsolationError("socketpair: \(errorText())"))
        }
        // Clear of 0-4, so the dup2s below cannot overwrite one another.
        let workerShared = capsule_iso_dup_high(memfd), workerSocket = capsule_iso_dup_high(pair[1])
        close(pair[1])
        defer { close(workerShared); close(workerSocket) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, 2, 1)
        posix_spawn_file_actions_adddup2(&actions, workerShared, CAPSULE_ISO_SHARED_FD)
        posix_spawn_file_actions_adddup2(&actions, workerSocket, CAPSULE_ISO_SOCKET_FD)
        // NOTE: SwiftPM links every executable, even a C one, against the Swift runtime, whose
        // crash handler would try to start swift-backtrace (blocked) and print noise; the
        // host reports the worker's crashes itself.
        var variables = environment
        variables["SWIFT_BACKTRACE"] = "enable=no"
        let assignments = variables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        var status: Int32 = 0
        // On the spawner thread: the worker's parent-death signal follows the thread that
        // started it (SpawnerThread.swift).
        PosixSpawn.withAttributes(ownProcessGroup: false) { attributes in
            PosixSpawn.withArgv(["capsule-worker"], environment: assignments) { argv, envp in
                withUnsafeMutablePointer(to: &actions) { actions in
                    withUnsafeMutablePointer(to: &pid) { pidPointer in
                        let (a, b, p) = (actions, attributes, pidPointer)
                        SpawnerThread.run { status = posix_spawn(p, executable, a, b, argv, envp) }
                    }
                }
            }
        }
        guard status == 0 else {
            close(pair[0])
            munmap(mapping, size)
            return .failure(IsolationError("cannot start \(executable): \(String(cString: strerror(status)))"))
        }
        return .success(WorkerProcess(pid: pid, socket: pair[0], mapping: mapping, mappingSize: size, dataSize: size - headerSize))
    }

    /// Sends the request written into the shared memory (op, index, args, payload). The
    /// first one ends loading: no executable mapping is approved from then on.
    func send() {
        if !loadingEnded {
            loadingEnded = true
            if let supervisor { capsule_supervisor_end_loading(supervisor) }
        }
        seq &+= 1
        capsule_iso_store(requestSeq, seq)
        if capsule_iso_load(workerIdle) != 0 { _ = capsule_iso_futex_wake(requestSeq) }
    }

    /// Waits until the worker answers the request in flight (request 1: the start), at most
    /// `deadline` seconds and never past the running VM's deadline (`RunDeadline.current`).
    /// On any failure the worker is killed and reaped.
    func wait(deadline: Double) -> Failure? {
        let vmDeadline = RunDeadline.current
        let expected = seq
        let start = Self.now()
        var spins = 0
        while true {
            let r = capsule_iso_load_acquire(responseSeq)
            if r == expected { return nil }
            if r != expected &- 1 { return fail(.brokeProtocol("it wrote response number \(r) while request \(expected) was in flight")) }
            spins &+= 1
            // NOTE: pure spinning catches a quick answer from a worker running on another
            // core; past ~2 µs, yielding lets a worker waiting for this core run (the
            // machine may have fewer free cores than runnable processes).
            if spins < Self.pureSpins {
                capsule_iso_pause()
            } else {
                sched_yield()
                if spins & 15 == 0 && Self.now() &- start > Self.spinNanoseconds { break }
            }
        }
        let own = start &+ UInt64(RunDeadline.nanoseconds(deadline))
        // NOTE: both clocks are CLOCK_MONOTONIC; a VM deadline already past stops at once.
        let vmLimit = vmDeadline.map { UInt64(max(0, $0)) }
        let limit = min(own, vmLimit ?? UInt64.max)
        while true {
            capsule_iso_store(hostWaiting, 1)
            let r = capsule_iso_load(responseSeq)
            if r == expected { capsule_iso_store(hostWaiting, 0); return nil }
            if r != expected &- 1 { return fail(.brokeProtocol("it wrote response number \(r) while request \(expected) was in flight")) }
            let now = Self.now()
            if now >= limit {
                capsule_iso_store(hostWaiting, 0)
                return fail(limit == own ? .deadline(deadline) : .vmDeadline)
            }
            // NOTE: sleep in slices: a worker that scribbles a bogus sequence number without
            // a wake-up is still noticed.
            var p = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let slice = Int32(min((limit - now) / 1_000_000 + 1, 20))
            let n = poll(&p, 1, slice)
            capsule_iso_store(hostWaiting, 0)
            if n < 0 && errno != EINTR { return fail(.brokeProtocol("poll: \(Self.errorText())")) }
            if n > 0 && p.revents & Int16(POLLIN) != 0 {
                var bytes = (UInt64(0), UInt64(0))
                let got = withUnsafeMutableBytes(of: &bytes) { recv(socket, $0.baseAddress, 16, Int32(MSG_DONTWAIT)) }
                if got > 0 {
                    let ok = withUnsafeBytes(of: &bytes) { $0.prefix(got).allSatisfy { $0 == UInt8(CAPSULE_ISO_WAKE) } }
                    if !ok { return fail(.brokeProtocol("it wrote unexpected data to its socket")) }
                } else if got == 0 {
                    return closedSocket()
                }
            } else if n > 0 && p.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 {
                return closedSocket()
            }
        }
    }

    /// The worker's socket closed: it died, or it closed the socket and lives on.
    private func closedSocket() -> Failure {
        // NOTE: a dying process closes its descriptors before it can be reaped; give it a
        // moment to become a zombie before deciding it is alive.
        for _ in 0..<50 {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                reaped = true
                return .died(status)
            }
            usleep(1000)
        }
        return fail(.brokeProtocol("it closed its socket"))
    }

    /// Kills the worker (if still running), reaps it, and returns `failure`.
    private func fail(_ failure: Failure) -> Failure {
        terminate()
        return failure
    }

    /// Kills and reaps the worker, then stops its supervisor; safe to call more than once.
    func terminate() {
        if !reaped {
            kill(pid, SIGKILL)
            PosixSpawn.reap(pid)
            reaped = true
        }
        if let supervisor {
            capsule_supervisor_stop(supervisor)
            self.supervisor = nil
        }
    }

    /// `MonotonicClock.now()`, unsigned.
    static func now() -> UInt64 { UInt64(MonotonicClock.now()) }

    static func errorText() -> String { String(cString: strerror(errno)) }
    private func errorText() -> String { Self.errorText() }

    /// How a `waitpid` status reads in messages: `died with SIGSEGV (segmentation fault)`,
    /// `exited with status 3`.
    static func describe(status: Int32) -> String {
        if capsule_iso_exited(status) != 0 { return "exited with status \(capsule_iso_exit_status(status))" }
        if capsule_iso_signaled(status) != 0 { return "died with \(signalName(capsule_iso_term_signal(status)))" }
        return "stopped (status \(status))"
    }

    /// `SIGSEGV (segmentation fault)`, `SIGSYS (blocked system call)`, or `signal N`.
    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGSEGV: "SIGSEGV (segmentation fault)"
        case SIGBUS: "SIGBUS (bus error)"
        case SIGABRT: "SIGABRT (abort)"
        case SIGSYS: "SIGSYS (blocked system call)"
        case SIGKILL: "SIGKILL (killed)"
        case SIGFPE: "SIGFPE (arithmetic error)"
        case SIGILL: "SIGILL (illegal instruction)"
        case SIGTRAP: "SIGTRAP (trap)"
        case SIGXCPU: "SIGXCPU (CPU time limit)"
        case SIGXFSZ: "SIGXFSZ (file size limit)"
        case SIGPIPE: "SIGPIPE (broken pipe)"
        case SIGTERM: "SIGTERM (terminated)"
        default: "signal \(signal)"
        }
    }
}
