import Testing
@testable import CapsuleCore

/// `exit(code)` through the embedding API: every entry point reports it as an outcome, with
/// what was printed before it delivered, and never ends the embedding process.
@Suite struct EmbeddingExitTests {
    @Test func runReportsExitedWithOutputDelivered() {
        let (vm, capture) = capturingVM()
        let outcome = vm.run(source: "print(\"before\")\nfn f() { exit(3) }\ntry { f() } catch e { print(\"caught\") }\nprint(\"after\")", name: "exit.cap")
        #expect(outcome == .exited(code: 3))
        #expect(outcome.exitCode == 3)
        #expect(outcome.errorText == "")
        #expect(capture.text == "before\n")
        // The VM goes on: the next run starts clean.
        #expect(vm.run(source: "print(\"again\")", name: "again.cap") == .ok(value: nil))
        #expect(capture.text == "before\nagain\n")
    }

    @Test func evaluateAndCallReportExited() {
        let (vm, capture) = capturingVM()
        #expect(vm.evaluate("write(\"x\"); exit(4); print(\"never\")") == .failure(.exited(code: 4)))
        #expect(capture.text == "x")
        #expect(vm.evaluate("fn stop(code) { exit(code) }\n1 + 1") == .success(.int(2)))
        #expect(vm.call("stop", [.int(0)]) == .failure(.exited(code: 0)))
        #expect(vm.evaluate("40 + 2") == .success(.int(42)))
        if case .failure(let f) = vm.evaluate("exit(7)") { #expect(f.message == "exit(7)") }
    }

    /// A host function calls back into the script, which exits: the exit ends the whole run,
    /// even when the host function turns the nested failure into a catchable error.
    @Test func exitInANestedCallEndsTheOuterRun() {
        let (vm, capture) = capturingVM()
        vm.register("callback", parameters: [.function], result: .nil) { args in
            guard case .function(let f) = args[0] else { return .nil }
            if case .failure(let failure) = vm.call(f, []) { throw ScriptError("nested: \(failure.message)") }
            return .nil
        }
        let source = "try { callback(fn() { print(\"inner\"); exit(5) }) } catch e { print(\"caught\", e.message) }\nprint(\"after\")"
        #expect(vm.run(source: source, name: "nested.cap") == .exited(code: 5))
        #expect(capture.text == "inner\n")
        #expect(vm.evaluate("1") == .success(.int(1)))
    }
}
