import Foundation
import Testing
@testable import CapsuleCore

/// The safe-point hook: another thread asks, the VM runs the handler on its own thread at a
/// loop back-edge or call, once per request, and a run without a handler never checks.
@Suite struct SafePointTests {
    /// NOTE: `@unchecked Sendable` because every field is read and written with `lock` held.
    final class Count: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func add() { lock.lock(); n += 1; lock.unlock() }
        var value: Int { lock.lock(); defer { lock.unlock() }; return n }
    }

    @Test func anotherThreadsRequestRunsTheHandlerInARunningLoop() {
        var configuration = Configuration()
        configuration.timeout = .seconds(20)  // a missed request fails the test, never hangs it
        let vm = VM(configuration: configuration)
        let handled = Count()
        vm.register("handled", parameters: [], result: .int) { _ in .int(Int64(handled.value)) }
        vm.setSafePointHandler { _ in handled.add() }
        let trigger = vm.safePointTrigger
        Thread.detachNewThread {
            usleep(50_000)
            trigger.request()
            trigger.request()  // two requests before the check: one run
        }
        let outcome = vm.run(source: "var spins = 0\nwhile handled() == 0 { spins = spins + 1 }\nprint(handled())", name: "t.cap")
        #expect(outcome.exitCode == 0, "\(outcome.errorText)")
        #expect(handled.value == 1)
        // No request since: the next run does not call it.
        _ = vm.run(source: "var i = 0\nwhile i < 100000 { i = i + 1 }", name: "u.cap")
        #expect(handled.value == 1)
        trigger.request()
        _ = vm.run(source: "var i = 0\nwhile i < 100000 { i = i + 1 }", name: "v.cap")
        #expect(handled.value == 2)
    }

    @Test func withoutAHandlerTheCountdownNeverTrips() {
        let vm = VM()
        vm.safePointTrigger.request()
        #expect(vm.run(source: "var i = 0\nwhile i < 10000 { i = i + 1 }", name: "t.cap").exitCode == 0)
        #expect(vm.rt.fuel > 1 << 40, "no handler, no limits: the countdown stays Int.max (minus what was charged)")
    }
}
