import Foundation
import Testing
@testable import CapsuleCore

/// The fiber machinery through the embedding API: switching stacks, parking in host
/// functions, completions from other threads, stepping from a host loop, and the collector.
@Suite struct FiberTests {
    @Test func fibersInterleaveThroughUnbufferedChannels() {
        let source = """
        let ch = chan()
        fn worker(id) { for i in range(3) { ch.send(id * 10 + i) } }
        let a = spawn worker(1)
        let b = spawn worker(2)
        var got = []
        for i in range(6) { got.push(ch.recv()) }
        a.join(); b.join()
        got.sort()
        print(got)
        """
        #expect(output(of: source) == "[10, 11, 12, 20, 21, 22]\n")
        #expect(output(of: source, gcStress: true) == "[10, 11, 12, 20, 21, 22]\n")
    }

    /// A closure shared between fibers sees writes made while its owner is parked: the
    /// parked fiber's open upvalue points at its saved copy, then back at the stack.
    @Test func upvaluesOfParkedFibersStayShared() {
        let source = """
        let step = chan()
        var setter = nil
        fn owner() {
            var x = 1
            setter = fn(v) { x = v }
            step.send("ready")
            step.recv()          // parked while another fiber writes x through setter
            return x
        }
        let t = spawn owner()
        step.recv()
        setter(42)
        step.send("go")
        print(t.join())
        """
        #expect(output(of: source) == "42\n")
        #expect(output(of: source, gcStress: true) == "42\n")
    }

    /// Deep recursion in a fiber that parks at the bottom, while another fiber recurses too.
    @Test func deepStacksAreSavedAndRestored() {
        let source = """
        let gate = chan()
        fn down(n) {
            if n == 0 { return gate.recv() }
            return down(n - 1) + 1
        }
        let a = spawn down(2000)
        let b = spawn down(3000)
        gate.send(1)
        gate.send(2)
        let r = [a.join(), b.join()]
        r.sort()
        print(r)
        """
        #expect(output(of: source) == "[2001, 3002]\n")
    }

    @Test func errorsCrossJoinAndCancelRunsFinally() {
        let source = """
        let t = spawn fn() { throw ValueError("bad input") }
        try { t.join() } catch e is ValueError { print("joined:", e.message) }
        let log = []
        let blocked = spawn fn() {
            try { chan().recv() } finally { log.push("finally ran") }
        }
        let other = spawn fn() { return 1 }
        other.join()
        print(blocked.cancel())
        try { blocked.join() } catch e is CancelledError { print("cancelled") }
        print(log, blocked.cancel())
        """
        #expect(output(of: source) == "joined: bad input\ntrue\ncancelled\n[\"finally ran\"] false\n")
    }

    @Test func deadlockIsReportedWithEveryFiber() {
        let (vm, _) = capturingVM()
        let outcome = vm.run(source: "let a = chan()\nlet b = chan()\nspawn fn() { a.send(1) }\nb.recv()\n", name: "app.cap")
        #expect(outcome.exitCode == 70)
        let text = outcome.errorText
        #expect(text.contains("all fibers are asleep - deadlock!"))
        #expect(text.contains("fiber 1 (main) at app.cap:4: recv on channel made at app.cap:2"))
        #expect(text.contains("fiber 2 (spawned at app.cap:3) at app.cap:3: send on channel made at app.cap:1"))
    }

    @Test func unjoinedFailureFailsTheProgram() {
        let (vm, _) = capturingVM()
        let outcome = vm.run(source: "spawn fn() { throw \"lost\" }\nlet c = chan(1)\nc.send(1)\nspawn fn() { c.recv() }.join()\n", name: "u.cap")
        #expect(outcome.exitCode == 70)
        #expect(outcome.errorText.contains("lost"))
        #expect(outcome.errorText.contains("which was never joined"))
    }

    /// A busy loop yields at the end of its slice, so the fiber that ends it gets to run.
    @Test func busyLoopsArePreempted() {
        let source = """
        var stop = false
        spawn fn() { stop = true }
        var n = 0
        while not stop { n += 1 }
        print(n > 0)
        """
        #expect(output(of: source) == "true\n")
    }

    @Test func waitingInsideANativeCallbackIsAnError() {
        let source = """
        let c = chan()
        try { [2, 1].sort(fn(a, b) { c.recv(); return a < b }) } catch e { print(e.message.contains("callback from native code")) }
        """
        #expect(output(of: source) == "true\n")
    }

    /// A fiber nothing can wake (its channel and handle unreachable) is collected.
    @Test func unreachableBlockedFibersAreCollected() {
        let source = """
        fn start() { for i in range(100) { spawn fn() { chan().recv() } } }
        start()   // in a function: no register of the main script keeps a handle
        let t = spawn fn() { return 1 }
        t.join()
        gc()
        let s = fibers()
        print(s["leaked"], s["live"])
        """
        #expect(output(of: source) == "100 1\n")
    }

    /// An async host function completed from another thread: the other fibers run meanwhile.
    @Test func asyncHostFunctionsCompleteFromOtherThreads() {
        let (vm, capture) = capturingVM()
        vm.registerAsync("slow_double", parameters: [.int], result: .int) { args, completion in
            guard case .int(let n) = args[0] else { completion.resume(throwing: "unreachable"); return }
            Thread.detachNewThread {
                usleep(20_000)
                completion.resume(returning: .int(n * 2))
            }
        }
        vm.registerAsync("slow_fail", parameters: [], result: .nil) { _, completion in
            Thread.detachNewThread { completion.resume(throwing: "disk on fire") }
        }
        let outcome = vm.run(source: """
        var ticks = 0
        let t = spawn fn() { return slow_double(21) }
        let ticker = spawn fn() { while not t.done() { ticks += 1; chan(1).send(0) } }
        print(t.join())
        try { slow_fail() } catch e { print(e.message) }
        print(ticks > 0)
        """, name: "async.cap")
        #expect(outcome.exitCode == 0)
        #expect(capture.text == "42\ndisk on fire\ntrue\n")
    }

    /// A host loop steps the VM: fibers an `evaluate` left ready run in `runFibers`.
    @Test func hostLoopsStepFibers() {
        let (vm, capture) = capturingVM()
        _ = vm.evaluate("let c = chan(10)\nspawn fn() { for i in range(3) { c.send(i) } }")
        #expect(vm.hasPendingFibers)
        _ = vm.runFibers()
        #expect(!vm.hasPendingFibers)
        #expect(vm.evaluate("c.len()") == .success(3))
        _ = vm.evaluate("spawn fn() { print(\"ran\") }")
        _ = vm.runFibers()
        #expect(capture.text == "ran\n")
    }

    @Test func limitsBoundAllFibers() {
        var config = Configuration()
        config.output = { _ in }
        config.maxInstructions = 2_000_000
        let vm = VM(configuration: config)
        let outcome = vm.run(source: "for i in range(4) { spawn fn() { while true { } } }\nwhile true { }\n", name: "spin.cap")
        #expect(outcome.errorText.contains("instruction limit"))
    }
}
