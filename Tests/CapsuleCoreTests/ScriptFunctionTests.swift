import Foundation
import Testing
@testable import CapsuleCore

/// Functions copied out of a VM (`ScriptValue.function`): called from Swift later, kept alive
/// while Swift holds them, passed back in, refused by another VM.
@Suite struct ScriptFunctionTests {
    @Test func aFunctionResultIsCalledFromSwift() {
        let vm = VM()
        guard case .success(.function(let add)) = vm.evaluate("fn add(a, b) { return a + b }\nadd") else {
            Issue.record("a function comes back as .function"); return
        }
        #expect(vm.call(add, [2, 3]) == .success(5))
        #expect(vm.call(add, [1]).failureMessage == "add expects 2 arguments, got 1")
        // Bound methods and natives too.
        guard case .success(.function(let push)) = vm.evaluate("let items = []\nitems.push") else { Issue.record(); return }
        _ = vm.call(push, ["a"])
        #expect(vm.evaluate("items") == .success(["a"]))
    }

    /// An event handler: a host function stores the script's closure, and Swift calls it
    /// after the script has returned, after collections, with its captured state intact.
    @Test(arguments: [false, true])
    func aStoredHandlerOutlivesTheCallThatGaveIt(gcStress: Bool) {
        var config = Configuration()
        config.gcStress = gcStress
        let vm = VM(configuration: config)
        var handlers: [ScriptFunction] = []
        vm.register("on_tick", parameters: [.function], result: .nil) { args in
            if case .function(let f) = args[0] { handlers.append(f) }
            return .nil
        }
        #expect(throws: Never.self) { try vm.evaluate("""
            fn counter(label) {
                var n = 0
                return fn(step) { n += step
                    return label + str(n) }
            }
            on_tick(counter("a"))
            on_tick(counter("b"))
            """).get() }
        // Nothing in the script refers to the closures any more.
        #expect(throws: Never.self) { try vm.evaluate("var junk = []\nfor i in 0..2000 { junk.push([i, str(i)]) }\ngc()").get() }
        #expect(handlers.count == 2)
        #expect(vm.call(handlers[0], [1]) == .success("a1"))
        #expect(vm.call(handlers[0], [2]) == .success("a3"))
        #expect(vm.call(handlers[1], [5]) == .success("b5"))
    }

    @Test func aReleasedFunctionIsUnpinned() {
        let vm = VM()
        #expect(vm.pinnedCount == 0)
        do {
            let f = vm.evaluate("fn() { return 1 }")
            #expect(vm.pinnedCount == 1)
            if case .success(.function(let g)) = f { #expect(vm.call(g, []) == .success(1)) }
        }
        #expect(vm.pinnedCount == 0, "released with the last ScriptFunction")
        // Released on another thread too.
        var held: ScriptFunction? = nil
        if case .success(.function(let g)) = vm.evaluate("fn() { return 2 }") { held = g }
        #expect(vm.pinnedCount == 1)
        let done = DispatchSemaphore(value: 0)
        // NOTE: handed over: this thread never touches `moved` again until the other signals.
        nonisolated(unsafe) var moved = held
        held = nil
        Thread { moved = nil; done.signal() }.start()
        done.wait()
        _ = moved
        #expect(vm.pinnedCount == 0)
    }

    @Test func functionsGoBackInButNotIntoAnotherVM() {
        let vm = VM(), other = VM()
        guard case .success(.function(let double)) = vm.evaluate("fn double(x) { return x * 2 }\nfn apply(f, x) { return f(x) }\ndouble") else {
            Issue.record(); return
        }
        // Passed back as an argument, it is the same function.
        #expect(vm.call("apply", [.function(double), 21]) == .success(42))
        #expect(vm.evaluate("fn same(f) { return f == double }").map { _ in true } == .success(true))
        #expect(vm.call("same", [.function(double)]) == .success(true))
        // Not into another VM.
        #expect(throws: Never.self) { try other.evaluate("fn apply(f, x) { return f(x) }").get() }
        #expect(other.call("apply", [.function(double), 1]).failureMessage == "cannot pass <fn double> into another VM than the one it came from")
        #expect(other.call(double, [1]).failureMessage == "cannot pass <fn double> into another VM than the one it came from")
    }
}

extension ScriptFunctionTests {
    /// `dump` and test-failure output reflect a function value without walking its VM's pins.
    @Test func aFunctionValueReflectsAsItsDescription() {
        let vm = VM()
        guard case .success(let value) = vm.evaluate("fn double(x) { return x * 2 }\ndouble") else { Issue.record(); return }
        var text = ""
        dump(value, to: &text)
        #expect(text.contains("<fn double>"))
        #expect(!text.contains("pins"))
    }
}
