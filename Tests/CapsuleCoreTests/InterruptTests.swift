import Foundation
import Testing
@testable import CapsuleCore

/// `VM.interrupt` (the REPL's Ctrl-C): another thread stops a running entry with the
/// uncatchable `interrupted`; the session's state stays; a VM that does not accept interrupts,
/// or a request made between runs, changes nothing.
@Suite struct InterruptTests {
    /// Runs `entry` in the REPL scope of `vm` on another thread, interrupts it after `after`
    /// seconds (with `signal` to wake a wait) and returns its outcome.
    static func interrupted(_ vm: VM, _ entry: String, after: Double = 0.1) -> RunOutcome {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: RunOutcome? = nil
        // NOTE: `outcome` is written by the thread before it signals `done` and read after the
        // wait: the semaphore orders the two.
        Thread.detachNewThread {
            outcome = vm.evaluateREPL(entry)
            done.signal()
        }
        while done.wait(timeout: .now() + after) == .timedOut { vm.interrupt() }
        return outcome ?? .ok(value: nil)
    }

    static func configuration() -> Configuration {
        var c = Configuration()
        c.timeout = .seconds(20)  // a missed interrupt fails the test, never hangs it
        return c
    }

    @Test func stopsALoopAndKeepsTheSession() {
        let vm = VM(configuration: Self.configuration())
        vm.acceptInterrupts()
        #expect(vm.evaluateREPL("var n = 0\nfn spin() { while true { n = n + 1 } }") == .ok(value: nil))
        let outcome = Self.interrupted(vm, "spin()")
        #expect(outcome.errorText.hasPrefix("error: interrupted\n  at spin (<repl>:2:30)\n"), "\(outcome.errorText)")
        #expect(vm.evaluateREPL("n > 0") == .ok(value: "true"))
        #expect(vm.evaluateREPL("1 + 1") == .ok(value: "2"), "a request is used up by the run it stopped")
    }

    @Test func catchCannotSwallowIt() {
        let vm = VM(configuration: Self.configuration())
        vm.acceptInterrupts()
        let outcome = Self.interrupted(vm, "var caught = false\ntry { while true {} } catch e { caught = true }\nwhile true {}")
        #expect(outcome.errorText.hasPrefix("error: interrupted\n"))
        #expect(vm.evaluateREPL("caught") == .ok(value: "false"))
    }

    @Test func wakesABlockedReadOfStandardInput() throws {
        var ends: [Int32] = [-1, -1]
        try #require(pipe(&ends) == 0)
        defer { ends.forEach { close($0) } }
        var c = Self.configuration()
        c.standardInput = ends[0]
        // SIGURG is ignored by default: a handler (doing nothing) makes it end a wait with EINTR.
        var wake = sigaction()
        wake.__sigaction_handler.sa_handler = { _ in }
        sigaction(SIGURG, &wake, nil)
        let vm = VM(configuration: c)
        vm.acceptInterrupts(wakeSignal: SIGURG)
        let start = Date()
        let outcome = Self.interrupted(vm, "stdin.read_line()")
        #expect(outcome.errorText.hasPrefix("error: interrupted\n"), "\(outcome.errorText)")
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test func aRequestBetweenRunsIsDropped() {
        let vm = VM(configuration: Self.configuration())
        vm.acceptInterrupts()
        vm.interrupt()
        #expect(vm.evaluateREPL("var i = 0\nwhile i < 300000 { i = i + 1 }\ni") == .ok(value: "300000"))
    }

    @Test func aVMThatDoesNotAcceptInterruptsIgnoresThem() {
        let vm = VM()
        vm.interrupt()
        #expect(vm.evaluateREPL("var i = 0\nwhile i < 300000 { i = i + 1 }\ni") == .ok(value: "300000"))
        #expect(vm.rt.fuel > 1 << 40, "no limits, no interrupts: the countdown stays Int.max")
    }
}
