import Testing
@testable import CapsuleCore

/// REPL entries refer to each other as a script file's declarations do: a function may use
/// a module variable that a later entry declares (docs/repl.md, "Forward references").
@Suite struct ForwardReferenceTests {
    @Test func aFunctionCallsOneALaterEntryDefines() {
        let vm = VM()
        #expect(vm.evaluateREPL("fn a() { return b() + 1 }") == .ok(value: nil))
        #expect(vm.evaluateREPL("fn b() { return 1 }") == .ok(value: nil))
        #expect(vm.evaluateREPL("a()") == .ok(value: "2"))
        // Redefining the later function is seen by the earlier one.
        #expect(vm.evaluateREPL("fn b() { return 41 }") == .ok(value: nil))
        #expect(vm.evaluateREPL("a()") == .ok(value: "42"))
    }

    @Test func variablesClassesAndClosuresToo() {
        let vm = VM()
        #expect(vm.evaluateREPL("fn area() { return Square(side).area() }\nlet get = fn() { return side }") == .ok(value: nil))
        #expect(vm.evaluateREPL("class Square {\n  init(s) { self.s = s }\n  area() { return self.s * self.s }\n}\nlet side = 3") == .ok(value: nil))
        #expect(vm.evaluateREPL("area() + get()") == .ok(value: "12"))
    }

    @Test func aNameStillUndefinedWhenTheFunctionRunsIsARuntimeError() {
        let vm = VM()
        #expect(vm.evaluateREPL("fn a() { return later() }") == .ok(value: nil))
        #expect(vm.evaluateREPL("a()").errorText == """
            <repl>:1:17: error: variable 'later' is used before it is defined
                fn a() { return later() }
                                ^
              at a (<repl>:1:17)
              at <script> (<repl>:1:1)

            """)
        // The session goes on, and defining it later still works.
        #expect(vm.evaluateREPL("fn later() { return \"now\" }\na()") == .ok(value: "\"now\""))
    }

    @Test func codeThatRunsAtOnceAndAssignmentsStillNeedADeclaration() {
        let vm = VM()
        guard case .compileError(let topLevel) = vm.evaluateREPL("print(nothing)") else {
            Issue.record("expected a compile error"); return
        }
        #expect(topLevel.contains("error: undefined variable 'nothing'"))
        guard case .compileError(let assignment) = vm.evaluateREPL("fn f() { total = 1 }") else {
            Issue.record("expected a compile error"); return
        }
        #expect(assignment.contains("error: undefined variable 'total'"))
        // A late-bound read does not declare the name for code that runs at once.
        #expect(vm.evaluateREPL("fn g() { return unseen }") == .ok(value: nil))
        guard case .compileError = vm.evaluateREPL("unseen") else { Issue.record("expected a compile error"); return }
    }

    @Test func aScriptFileIsUnchanged() {
        let outcome = VM().run(source: "fn a() { return missing }\nprint(a())", name: "t.cap")
        guard case .compileError(let text) = outcome else { Issue.record("expected a compile error"); return }
        #expect(text.contains("error: undefined variable 'missing'"))
    }
}
