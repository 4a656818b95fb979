import CapsuleHost
import CStandardOutput
import Glibc
import Synchronization

/// Ctrl-C in `capsule repl` (docs/repl.md, "Ctrl-C"). While an entry runs, SIGINT stops it
/// with the error `interrupted` and the session goes on with its state; at the prompt it
/// clears the line being typed (the reader polls `promptFD`); when standard input is not a
/// terminal, a SIGINT while no entry runs ends the session by that signal, as before.
///
/// The handler only writes the signal's number to a pipe (about all a signal handler may
/// safely do). A thread reading that pipe asks the VM to stop (`VM.interrupt`) while an entry
/// runs, and sends SIGURG to the VM's thread so that a wait in a host function (`time.sleep`,
/// a read of standard input) wakes with `EINTR`; SIGURG's handler does nothing. Otherwise the
/// byte goes on to the prompt.
final class ReplInterrupts: Sendable {
    /// The signal that wakes the VM's thread out of a wait: ignored by default, so it cannot
    /// end the process if it ever arrives elsewhere.
    static let wakeSignal = SIGURG

    /// Readable once per Ctrl-C that came while no entry ran (terminal sessions only).
    let promptFD: Int32
    private let running = Atomic<Bool>(false)
    private let vm: VM
    private let atPrompt: Mode
    private let promptWriteFD: Int32

    enum Mode { case clearLine, endSession }

    /// Call first, before the VM's thread exists, so that it and every later thread may
    /// receive SIGINT and the wake signal (a parent such as a test runner may have blocked
    /// them, and threads inherit the mask).
    static func unblockSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, wakeSignal)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Installs the handlers and starts the thread; nil if a pipe or the thread cannot be
    /// made (Ctrl-C then keeps its default action: it ends the session).
    static func start(vm: VM, atPrompt: Mode) -> ReplInterrupts? {
        var signalEnds: [Int32] = [-1, -1], promptEnds: [Int32] = [-1, -1]
        guard pipe(&signalEnds) == 0 else { return nil }
        guard pipe(&promptEnds) == 0 else {
            signalEnds.forEach { close($0) }
            return nil
        }
        for fd in signalEnds + promptEnds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // A burst of Ctrl-Cs never blocks the handler or the thread.
        _ = fcntl(signalEnds[1], F_SETFL, O_NONBLOCK)
        _ = fcntl(promptEnds[1], F_SETFL, O_NONBLOCK)
        let interrupts = ReplInterrupts(vm: vm, atPrompt: atPrompt, promptFD: promptEnds[0], promptWriteFD: promptEnds[1])
        let context = Unmanaged.passRetained(Watcher(interrupts: interrupts, fd: signalEnds[0]))
        var thread = pthread_t()
        guard pthread_create(&thread, nil, { arg in
            guard let arg else { return nil }
            Unmanaged<Watcher>.fromOpaque(arg).takeRetainedValue().serve()
            return nil
        }, context.toOpaque()) == 0 else {
            context.release()
            return nil
        }
        pthread_detach(thread)
        replSignalPipe.store(signalEnds[1], ordering: .releasing)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { number in
            var byte = UInt8(truncatingIfNeeded: number)
            _ = write(replSignalPipe.load(ordering: .acquiring), &byte, 1)
        }
        sigemptyset(&action.sa_mask)
        // SA_RESTART: a read of piped input on the main thread must not end at a Ctrl-C.
        action.sa_flags = SA_RESTART
        sigaction(SIGINT, &action, nil)
        var wake = sigaction()
        wake.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&wake.sa_mask)
        // No SA_RESTART: the point is that the VM thread's wait ends with EINTR.
        wake.sa_flags = 0
        sigaction(wakeSignal, &wake, nil)
        vm.acceptInterrupts(wakeSignal: wakeSignal)
        return interrupts
    }

    private init(vm: VM, atPrompt: Mode, promptFD: Int32, promptWriteFD: Int32) {
        self.vm = vm
        self.atPrompt = atPrompt
        self.promptFD = promptFD
        self.promptWriteFD = promptWriteFD
    }

    /// Runs `entry` with Ctrl-C meaning "stop it".
    func whileRunning<T>(_ entry: () -> T) -> T {
        running.store(true, ordering: .sequentiallyConsistent)
        defer { running.store(false, ordering: .sequentiallyConsistent) }
        return entry()
    }

    /// Forgets Ctrl-Cs meant for an entry that has ended (read before showing a prompt).
    func drainPrompt() {
        var scratch = [UInt8](repeating: 0, count: 64)
        var p = pollfd(fd: promptFD, events: Int16(POLLIN), revents: 0)
        while poll(&p, 1, 0) > 0 && read(promptFD, &scratch, scratch.count) > 0 {}
    }

    /// One SIGINT, on the thread that reads the pipe.
    fileprivate func handle() {
        if running.load(ordering: .sequentiallyConsistent) {
            vm.interrupt()
            return
        }
        switch atPrompt {
        case .clearLine:
            var byte: UInt8 = 1
            _ = write(promptWriteFD, &byte, 1)
        case .endSession:
            // Not fflush(nil): the main thread is inside a read of stdin, holding its lock.
            if ftrylockfile(capsule_standard_output()) == 0 {
                fflush_unlocked(capsule_standard_output())
                funlockfile(capsule_standard_output())
            }
            Glibc.signal(SIGINT, SIG_DFL)
            kill(getpid(), SIGINT)
        }
    }

    /// The thread's state: handed to it through `Unmanaged`, then owned by it alone.
    private final class Watcher {
        let interrupts: ReplInterrupts
        let fd: Int32
        init(interrupts: ReplInterrupts, fd: Int32) { self.interrupts = interrupts; self.fd = fd }

        func serve() {
            // Signals go to the other threads: this one only reads the pipe.
            var all = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_BLOCK, &all, nil)
            var byte: UInt8 = 0
            while true {
                let n = read(fd, &byte, 1)
                if n == 1 { interrupts.handle(); continue }
                if n < 0 && errno == EINTR { continue }
                return
            }
        }
    }
}

/// The pipe's write end, for the SIGINT handler (which cannot capture). Set before the handler
/// is installed; an atomic load is async-signal-safe.
private let replSignalPipe = Atomic<Int32>(-1)
