import Testing
import CapsuleCore

/// The example of docs/embedding.md, checked (keep the two in step).
@Suite struct EmbeddingDocExampleTests {
    @Test func documentedExampleBehavesAsDocumented() {
        let vm = VM()
        vm.register("clamp", parameters: [.number, .number, .number], result: .number) { args in
            guard case let (x?, lo?, hi?) = (args[0].double, args[1].double, args[2].double) else {
                throw ScriptError("clamp: unreachable")
            }
            if lo > hi { throw ScriptError("clamp: empty range \(lo)..\(hi)") }
            return .float(min(max(x, lo), hi))
        }
        let setup = vm.evaluate("""
            fn scale(values, k) { return values.map(fn(v) { return clamp(v * k, 0, 10) }) }
            scale([1, 2, 30], 2)
            """, name: "setup.cap")
        #expect(setup == .success(.list([.float(2.0), .float(4.0), .float(10.0)])))
        #expect(vm.call("scale", [[0.5, 7], 3]) == .success(.list([.float(1.5), .float(10.0)])))
        #expect(vm.evaluate("clamp(1, 5, 2)") == .failure(.runtimeError(
            message: "clamp: empty range 5.0..2.0", report: "<eval>:1:1: error: clamp: empty range 5.0..2.0\n    clamp(1, 5, 2)\n    ^\n  at <script> (<eval>:1:1)\n")))
    }
}

extension ScriptValue {
    var double: Double? {
        switch self { case .int(let i): return Double(i); case .float(let d): return d; default: return nil }
    }
}

/// The event-handler example of docs/embedding.md, "Functions".
@Suite struct EmbeddingFunctionsDocExampleTests {
    @Test func theHandlerExampleBehavesAsDocumented() {
        let (vm, printed) = capturingVM()
        var handlers: [ScriptFunction] = []
        vm.register("on_tick", parameters: [.function], result: .nil) { args in
            if case .function(let f) = args[0] { handlers.append(f) }
            return .nil
        }
        _ = vm.evaluate("on_tick(fn(n) { print(\"tick\", n) })")
        for handler in handlers { _ = vm.call(handler, [1]) }
        #expect(printed.text == "tick 1\n")
    }
}
