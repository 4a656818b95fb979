import CapsuleHost
import Glibc

/// Ctrl-C (SIGINT), SIGTERM and SIGHUP during `capsule run`. Standard output is block-buffered
/// when it is not a terminal (`capsule run app.cap | tee log`), and the signals' default
/// action ends the process at once, losing what the script printed but stdio had not written
/// yet. Here a handler only writes the signal's number to a pipe (about all a handler may
/// safely do); a thread reading the pipe flushes stdio, puts the default action back and
/// raises the signal again, so the process still ends by that signal, as shells expect.
///
/// Handlers, unlike blocked-signal masks, are not inherited by programs the script or a
/// worker starts (`exec` resets them), so child processes see these signals as usual. A
/// signal the parent ignores (`nohup`) is left ignored; one it blocked is unblocked, since
/// `capsule run` handles it.
enum TerminationSignals {
    static let handled: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Installs the handlers and starts the flushing thread (once per process).
    static func flushOutputOnTermination() {
        _ = installed
    }

    private static let installed: Bool = {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return false }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        signalPipeWriteEnd = ends[1]
        let reader = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        reader.pointee = ends[0]
        var thread = pthread_t()
        guard pthread_create(&thread, nil, { arg in
            let fd = arg!.assumingMemoryBound(to: Int32.self).pointee
            var signal: UInt8 = 0
            while true {
                let n = read(fd, &signal, 1)
                if n == 1 { break }
                if n < 0 && errno == EINTR { continue }
                return nil
            }
            fflush(nil)
            // Atomic writes in progress leave no temporary file behind.
            TemporaryFiles.removeAll()
            Glibc.signal(Int32(signal), SIG_DFL)
            var only = sigset_t()
            sigemptyset(&only)
            sigaddset(&only, Int32(signal))
            pthread_sigmask(SIG_UNBLOCK, &only, nil)
            raise(Int32(signal))
            // Not reached unless the signal is blocked here: end as a shell reports it.
            _exit(128 + Int32(signal))
        }, reader) == 0 else { return false }
        pthread_detach(thread)
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for number in handled {
            // A signal the parent set to be ignored (`nohup`, a background job) stays ignored.
            var current = sigaction()
            sigaction(number, nil, &current)
            if let handler = current.__sigaction_handler.sa_handler, unsafeBitCast(handler, to: Int.self) == 1 { continue }
            sigaddset(&unblock, number)
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(signalPipeWriteEnd, &byte, 1)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(number, &action, nil)
        }
        // A parent that starts capsule from a thread blocking signals (a dispatch worker,
        // a test runner) leaves them blocked across exec: take the handled ones back, here
        // and in every thread started from this one (the VM's among them).
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        return true
    }()
}

/// The pipe's write end, for the signal handler (which cannot capture).
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1
