import Foundation
import Testing
@testable import CapsuleCore

/// A host function calling back into the VM that is running it: `call` runs nested, entries
/// that would start a top level are refused with an error, never a trap.
@Suite struct CallbackTests {
    /// A VM whose `each(name, list)` calls the script function `name` on every element through
    /// `VM.call` and returns the results.
    static func vmWithEach(gcStress: Bool = false) -> VM {
        var config = Configuration()
        config.gcStress = gcStress
        let vm = VM(configuration: config)
        vm.register("each", parameters: [.string, .list], result: .list) { [unowned vm] args in
            guard case .string(let name) = args[0], case .list(let items) = args[1] else { throw ScriptError("each: unreachable") }
            var out: [ScriptValue] = []
            for item in items {
                switch vm.call(name, [item]) {
                case .success(let v): out.append(v)
                case .failure(let f): throw ScriptError("each: \(name) failed: \(f.message)")
                }
            }
            return .list(out)
        }
        return vm
    }

    @Test(arguments: [false, true])
    func aHostFunctionCallsAScriptFunction(gcStress: Bool) {
        let vm = Self.vmWithEach(gcStress: gcStress)
        #expect(vm.evaluate("fn square(x) { return x * x }\neach(\"square\", [1, 2, 3])") == .success([1, 4, 9]))
        // Strings made by the callbacks survive collections between them.
        #expect(vm.evaluate("fn label(x) { return \"n\" + str(x) }\neach(\"label\", [1, 2])") == .success(["n1", "n2"]))
        // Nested several deep: a callback that calls the host function again.
        #expect(vm.evaluate("fn deeper(x) { return each(\"square\", [x, x + 1]) }\neach(\"deeper\", [2, 5])")
                == .success([[4, 9], [25, 36]]))
        // The VM is ready for the next entry afterwards.
        #expect(vm.call("square", [7]) == .success(49))
    }

    @Test func anErrorInTheCallbackComesBackAndCanBeCaught() {
        let vm = Self.vmWithEach()
        #expect(throws: Never.self) { try vm.evaluate("fn bad(x) { if x > 1 { throw \"too big: \" + str(x) }\nreturn x }").get() }
        // The host function throws it on; the script catches it and carries on.
        #expect(vm.evaluate(caught("each(\"bad\", [1, 2])", "e.message")) == .success("each: bad failed: too big: 2"))
        #expect(vm.evaluate("each(\"bad\", [0, 1])") == .success([0, 1]))
        // An unknown name is an error too.
        #expect(vm.evaluate(caught("each(\"nothing\", [1])", "e.message"))
                == .success("each: nothing failed: undefined function 'nothing'"))
    }

    @Test func callbacksRunUnderTheOuterLimits() {
        var config = Configuration()
        config.maxInstructions = 100_000
        let vm = VM(configuration: config)
        vm.register("twice", parameters: [.string], result: .nil) { [unowned vm] args in
            guard case .string(let name) = args[0] else { return .nil }
            for _ in 0..<2 {
                if case .failure(let f) = vm.call(name, []) { throw ScriptError(f.message) }
            }
            return .nil
        }
        #expect(throws: Never.self) { try vm.evaluate("fn spin() { while true {} }").get() }
        // The budget is the outer entry's: the nested loop ends it, the host stays up.
        let outcome = vm.evaluate("twice(\"spin\")")
        #expect(outcome.failureMessage.contains("instruction"), "\(outcome)")
        #expect(vm.evaluate("1 + 1") == .success(2))
    }

    @Test func runAndEvaluateFromAHostFunctionAreRefused() {
        let vm = VM()
        var answers: [String] = []
        vm.register("reenter", parameters: [], result: .nil) { [unowned vm] _ in
            if case .failure(let f) = vm.evaluate("1") { answers.append(f.message) }
            answers.append(vm.run(source: "print(1)", name: "<inner>").errorText)
            answers.append(vm.evaluateREPL("1").errorText)
            // Compiling without running is allowed.
            answers.append(vm.check(source: "let = 1", name: "<check>").isEmpty ? "compiled" : "diagnosed")
            return .nil
        }
        #expect(vm.evaluate("reenter()\n2") == .success(2))
        #expect(answers.count == 4)
        #expect(answers[0] == "VM.evaluate was called from a host function while this VM is running a script; a host function may call back with VM.call, or run source in another VM")
        #expect(answers[1].hasPrefix("error: VM.run was called from a host function"))
        #expect(answers[2].hasPrefix("error: VM.evaluateREPL was called from a host function"))
        #expect(answers[3] == "diagnosed")
    }
}
