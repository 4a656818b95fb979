#if canImport(Glibc)
import Glibc
#endif
import CapsuleCore
import CSpawn
import CEventPoll
import CapsuleIsolation

/// One program run to completion for the `proc` module: started with `posix_spawn` (never
/// `fork`: the host is multithreaded), in a process group of its own, with exactly the
/// descriptors and environment given; stdin written and stdout/stderr read by one loop that
/// serves whichever pipe is ready, so neither side can deadlock on a full pipe. The loop
/// either blocks the thread in `poll` (`run`) or stops when nothing is ready (`ChildRun.pump`
/// with `block: false`), for a fiber to park on `ChildRun.readiness` until something is.
///
/// When the program exits, whatever it left running in its process group is killed, and
/// output is read until the pipes close (at most `lingerNanoseconds` more, for descendants
/// that left the group and kept the pipes). A timeout, the VM's deadline or the output limit
/// kill the whole group. The child is always reaped before `run` returns.
package struct ChildProcess {
    /// The file to execute (absolute) and its argv (argv[0] included).
    var executable: String
    var arguments: [String]
    /// `NAME=VALUE` strings: the child's whole environment.
    var environment: [String]
    /// A directory descriptor to `fchdir` to in the child; nil: the host's directory.
    var directory: Int32?
    /// Written to stdin, which is then closed; nil: stdin is /dev/null (or the host's).
    var input: [UInt8]?
    /// The child reads the host's own standard input (fd 0) instead of /dev/null.
    var inheritStdin: Bool
    /// Most bytes kept from each of stdout and stderr.
    var outputLimit: Int
    /// `CLOCK_MONOTONIC` nanoseconds at which the child is killed (the script's timeout).
    var timeout: Int?
    /// The VM's deadline (`--timeout`), in the same clock.
    var vmDeadline: Int?

    package init(executable: String, arguments: [String], environment: [String], directory: Int32?,
                 input: [UInt8]?, inheritStdin: Bool = false, outputLimit: Int, timeout: Int?, vmDeadline: Int?) {
        self.inheritStdin = inheritStdin && input == nil
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.directory = directory
        self.input = input
        self.outputLimit = outputLimit
        self.timeout = timeout
        self.vmDeadline = vmDeadline
    }

    /// How long output is still read after the program exited.
    static let lingerNanoseconds = 500_000_000

    /// A finished run: the `waitpid` status and the captured output.
    package struct Finished {
        var status: Int32
        package var stdout: [UInt8]
        package var stderr: [UInt8]
        /// The exit code, nil when a signal ended it.
        package var code: Int32? { capsule_iso_exited(status) != 0 ? capsule_iso_exit_status(status) : nil }
        /// The signal that ended it, nil when it exited.
        package var signal: Int32? { capsule_iso_signaled(status) != 0 ? capsule_iso_term_signal(status) : nil }
    }

    /// Why a run produced no result. In every case the process group was killed and the
    /// child reaped.
    package enum Failure: Error, Equatable {
        /// posix_spawn failed (the errno: ENOENT, EACCES, ENOEXEC…).
        case spawn(Int32)
        /// A pipe, poll or read failed (the call and errno).
        case io(String, Int32)
        /// The script's timeout passed.
        case timedOut
        /// The VM's deadline passed.
        case vmDeadline
        /// The VM was interrupted (Ctrl-C in the REPL, `RunDeadline.interrupted`).
        case interrupted
        /// "stdout" or "stderr" passed `outputLimit`.
        case outputLimit(String)
    }

    /// Runs the program to completion, blocking the thread (see the type's summary).
    package func run() -> Result<Finished, Failure> {
        switch start() {
        case .failure(let f): return .failure(f)
        case .success(let running):
            while true {
                if case .done(let r) = running.pump(block: true) { return r }
            }
        }
    }

    /// Starts the program; `ChildRun.pump` then sees it to its end.
    func start() -> Result<ChildRun, Failure> {
        var stdinPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        func closeAll() { for fd in stdinPipe + outPipe + errPipe where fd >= 0 { close(fd) } }
        if input != nil, cspawn_pipe(&stdinPipe, O_CLOEXEC) != 0 { return .failure(.io("pipe", errno)) }
        guard cspawn_pipe(&outPipe, O_CLOEXEC) == 0 else { let e = errno; closeAll(); return .failure(.io("pipe", e)) }
        guard cspawn_pipe(&errPipe, O_CLOEXEC) == 0 else { let e = errno; closeAll(); return .failure(.io("pipe", e)) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if input != nil { posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0) }
        else if !inheritStdin { posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        if let directory { cspawn_add_fchdir(&actions, directory) }
        // Nothing of the host's leaks in: no audit log, plugin files, sockets or other pipes.
        cspawn_add_closefrom(&actions, 3)

        var pid: pid_t = 0
        // A child reading the host's terminal must stay in the terminal's foreground group (a
        // background group reading it is stopped by SIGTTIN); it is then killed alone.
        let ownGroup = !(inheritStdin && isatty(0) != 0)
        let status = PosixSpawn.withAttributes(ownProcessGroup: ownGroup) { attributes in
            PosixSpawn.withArgv(arguments, environment: environment) { argv, envp in
                posix_spawn(&pid, executable, &actions, attributes, argv, envp)
            }
        }
        // The child's ends belong to the child now (or to nobody).
        for fd in [stdinPipe[0], outPipe[1], errPipe[1]] where fd >= 0 { close(fd) }
        stdinPipe[0] = -1; outPipe[1] = -1; errPipe[1] = -1
        guard status == 0 else { closeAll(); return .failure(.spawn(status)) }
        return .success(ChildRun(spec: self, pid: pid, stdin: stdinPipe[1], stdout: outPipe[0], stderr: errPipe[0]))
    }
}

/// The parent's side of a started child: its pipes, what is left to write, what was read.
/// A class, so a fiber that parks while it runs finds it again when its call runs again
/// (ProcModule); dropping it kills what is left of the child and reaps it.
final class ChildRun {
    let spec: ChildProcess
    let pid: pid_t
    var stdin: Int32, stdout: Int32, stderr: Int32
    /// Readable when the child exits (pidfd_open, Linux 5.3+); -1 without: then the exit is
    /// looked for every 20 ms.
    var pidfd: Int32
    var written = 0
    var out: [UInt8] = [], err: [UInt8] = []
    var exited = false
    var reaped = false
    var status: Int32 = 0
    /// After the exit: when reading what is left in the pipes stops.
    var lingerEnd: Int? = nil
    /// An epoll instance holding the pipes and the pidfd, made on first need: readable when
    /// any of them is ready, the one descriptor a parked fiber waits on. -1 until then.
    private var interest: Int32 = -1
    private var watched: Set<Int32> = []

    init(spec: ChildProcess, pid: pid_t, stdin: Int32, stdout: Int32, stderr: Int32) {
        self.spec = spec
        self.pid = pid
        self.stdin = stdin; self.stdout = stdout; self.stderr = stderr
        pidfd = cspawn_pidfd_open(pid)
        for fd in [stdin, stdout, stderr] where fd >= 0 { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        if stdin >= 0 && (spec.input ?? []).isEmpty { closeStdin() }
    }

    deinit {
        finish()
        if interest >= 0 { close(interest) }
    }

    func closeStdin() { if stdin >= 0 { unwatch(stdin); close(stdin); stdin = -1 } }

    /// Kills the process group (and the child, should it have left the group).
    func killGroup() {
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
    }

    /// True once the child has exited (a zombie, not reaped: its pid and group stay ours).
    func pollExit() -> Bool {
        if exited { return true }
        var info = siginfo_t()
        // NOTE: with WNOHANG and nothing to report, waitid leaves si_signo 0 (info is zeroed).
        if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_signo == SIGCHLD {
            exited = true
        }
        return exited
    }

    /// Kills what is left and reaps the child; safe to call more than once.
    func finish() {
        closeStdin()
        for fd in [stdout, stderr, pidfd] where fd >= 0 { unwatch(fd); close(fd) }
        stdout = -1; stderr = -1; pidfd = -1
        guard !reaped else { return }
        killGroup()
        status = PosixSpawn.reap(pid)
        reaped = true
    }

    func fail(_ failure: ChildProcess.Failure) -> Step {
        finish()
        return .done(.failure(failure))
    }

    /// Where `pump` stopped: the run's result, or (not blocking) nothing ready yet, to be
    /// looked at again when `readiness` is readable or at `until` (a limit, the end of the
    /// linger, the next look for the exit without a pidfd), whichever comes first.
    enum Step {
        case done(Result<ChildProcess.Finished, ChildProcess.Failure>)
        case wait(until: Int?)
    }

    /// The epoll descriptor that is readable when a pipe or the pidfd `pump` waits on is
    /// ready, kept up to date with the descriptors still open; nil when the system refuses
    /// one (then wait with `pump(block: true)`).
    func readiness() -> Int32? {
        if interest < 0 {
            interest = ceventpoll_create()
            guard interest >= 0 else { return nil }
        }
        var wanted: [(Int32, UInt32)] = []
        if stdin >= 0 { wanted.append((stdin, CEVENTPOLL_OUT)) }
        if stdout >= 0 { wanted.append((stdout, CEVENTPOLL_IN)) }
        if stderr >= 0 { wanted.append((stderr, CEVENTPOLL_IN)) }
        // Once the child exited its pidfd stays readable: it is no longer waited on.
        if !exited && pidfd >= 0 { wanted.append((pidfd, CEVENTPOLL_IN)) }
        for fd in watched where !wanted.contains(where: { $0.0 == fd }) { unwatch(fd) }
        for (fd, events) in wanted where !watched.contains(fd) {
            guard ceventpoll_control(interest, 0, fd, events) == 0 else { return nil }
            watched.insert(fd)
        }
        return interest
    }

    func unwatch(_ fd: Int32) {
        guard watched.remove(fd) != nil else { return }
        _ = ceventpoll_control(interest, 2, fd, 0)
    }

    /// The loop: write stdin, read both outputs, notice the exit, enforce the limits. With
    /// `block`, waits in `poll` until the run is done; without, returns `.wait` as soon as
    /// nothing is ready (call again later: all its state is kept here).
    func pump(block: Bool) -> Step {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while stdout >= 0 || stderr >= 0 || !exited {
            let now = MonotonicClock.now()
            if let t = spec.timeout, now >= t { return fail(.timedOut) }
            if let d = spec.vmDeadline, now >= d { return fail(.vmDeadline) }
            if !exited && pollExit() {
                // The program is done: end its group now, so nothing it left behind can
                // keep the pipes open or outlive it; read what is still buffered.
                killGroup()
                closeStdin()
                lingerEnd = now + ChildProcess.lingerNanoseconds
            }
            if let l = lingerEnd, now >= l { break }
            var fds: [pollfd] = []
            if stdin >= 0 { fds.append(pollfd(fd: stdin, events: Int16(POLLOUT), revents: 0)) }
            if stdout >= 0 { fds.append(pollfd(fd: stdout, events: Int16(POLLIN), revents: 0)) }
            if stderr >= 0 { fds.append(pollfd(fd: stderr, events: Int16(POLLIN), revents: 0)) }
            if !exited && pidfd >= 0 { fds.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }
            var wait = [spec.timeout, spec.vmDeadline, lingerEnd].compactMap { $0 }.min().map { max(0, ($0 - now + 999_999) / 1_000_000) }
            // Without a pidfd (kernels before 5.3) the exit is looked for every 20 ms.
            if pidfd < 0 && !exited { wait = min(wait ?? 20, 20) }
            if !block && fds.isEmpty { return .wait(until: now + min(wait ?? 20, 20) * 1_000_000) }
            if fds.isEmpty { usleep(UInt32(min(wait ?? 20, 20)) * 1000); continue }
            let n = poll(&fds, nfds_t(fds.count), block ? Int32(clamping: wait ?? -1) : 0)
            if n == 0 && !block { return .wait(until: wait.map { now + $0 * 1_000_000 }) }
            if n < 0 {
                if errno == EINTR { if RunDeadline.interrupted { return fail(.interrupted) }; continue }
                return fail(.io("poll", errno))
            }
            for p in fds where p.revents != 0 {
                if p.fd == stdin {
                    writeInput()
                } else if p.fd == stdout || p.fd == stderr {
                    let isOut = p.fd == stdout
                    let got = chunk.withUnsafeMutableBytes { read(p.fd, $0.baseAddress, $0.count) }
                    if got < 0 {
                        if errno == EINTR || errno == EAGAIN { continue }
                        return fail(.io("read", errno))
                    }
                    if got == 0 {
                        unwatch(p.fd)
                        close(p.fd)
                        if isOut { stdout = -1 } else { stderr = -1 }
                        continue
                    }
                    if isOut { out += chunk[0..<got] } else { err += chunk[0..<got] }
                    if (isOut ? out.count : err.count) > spec.outputLimit { return fail(.outputLimit(isOut ? "stdout" : "stderr")) }
                }
            }
        }
        finish()
        return .done(.success(ChildProcess.Finished(status: status, stdout: out, stderr: err)))
    }

    /// Writes what the pipe takes of the remaining input; closes stdin when all is written or
    /// the child closed its end (EPIPE: it did not want the rest).
    func writeInput() {
        // NOTE: SIGPIPE is blocked on this thread around the write, and a SIGPIPE it raised
        // is taken off the thread's pending set: a child that stops reading must not kill
        // the host.
        var pipeSignal = sigset_t(), previous = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        let input = spec.input ?? []
        let n = input.withUnsafeBytes { raw -> Int in
            guard let base = raw.baseAddress else { return 0 }
            return write(stdin, base + written, input.count - written)
        }
        if n >= 0 {
            written += n
            if written == input.count { closeStdin() }
            return
        }
        if errno == EINTR || errno == EAGAIN { return }
        if errno == EPIPE {
            var zero = timespec()
            _ = sigtimedwait(&pipeSignal, nil, &zero)
        }
        closeStdin()
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds: what the `proc` and `net` modules measure timeouts on,
/// the clock of the VM's deadline (`NativeCall.deadline`).
package enum MonotonicClock {
    package static func now() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int(ts.tv_sec) &* 1_000_000_000 &+ Int(ts.tv_nsec)
    }

    /// The poll(2) timeout in milliseconds until the earliest of `deadlines` (rounded up);
    /// -1 when there is none.
    static func pollTimeout(until deadlines: [Int?], now: Int) -> Int32 {
        guard let first = deadlines.compactMap({ $0 }).min() else { return -1 }
        return Int32(clamping: max(0, (first - now + 999_999) / 1_000_000))
    }
}
