import Testing
@testable import CapsuleCore

/// What Tab completes at the REPL's prompt (`VM.replCompletions`).
@Suite struct CompletionTests {
    @Test func namesInScope() {
        let vm = VM()
        _ = vm.evaluateREPL("let answer = 42\nfn answer_twice() { return answer * 2 }")
        #expect(vm.replCompletions(for: "answ") == ["answer", "answer_twice"])
        #expect(vm.replCompletions(for: "whi") == ["while"], "keywords")
        #expect(vm.replCompletions(for: "le").contains("len"), "built-ins")
        #expect(vm.replCompletions(for: "le").contains("let"))
        #expect(vm.replCompletions(for: "zzz").isEmpty)
    }

    @Test func moduleMembers() {
        let vm = VM()
        _ = vm.evaluateREPL("import \"math\"")
        #expect(vm.replCompletions(for: "math.sq") == ["math.sqrt"])
        #expect(vm.replCompletions(for: "math.").count > 5)
        #expect(vm.replCompletions(for: "math.nothing").isEmpty)
    }

    @Test func methodsOfTheValueAVariableHolds() {
        let vm = VM()
        _ = vm.evaluateREPL("let s = \"text\"\nlet l = [1]\nlet m = {}")
        #expect(vm.replCompletions(for: "s.up") == ["s.upper"])
        #expect(vm.replCompletions(for: "l.").contains("l.push"))
        #expect(vm.replCompletions(for: "m.").contains("m.keys"))
        _ = vm.evaluateREPL("class Point {\n  init(x) { self.x = x }\n  norm() { return self.x }\n}\nlet p = Point(3)")
        #expect(vm.replCompletions(for: "p.") == ["p.norm", "p.x"], "fields and methods")
        #expect(vm.replCompletions(for: "Point.n") == ["Point.norm"])
    }

    @Test func nothingForWhatIsNotASessionVariable() {
        let vm = VM()
        _ = vm.evaluateREPL("let n = 3\nfn later() { return undefined_yet }")
        #expect(vm.replCompletions(for: "n.").isEmpty, "an int has no methods")
        #expect(vm.replCompletions(for: "nope.x").isEmpty, "no such variable")
        #expect(vm.replCompletions(for: "undefined_yet.").isEmpty, "declared by a forward reference, never set")
        #expect(vm.replCompletions(for: "(1).").isEmpty)
        #expect(vm.replCompletions(for: "").count > 10, "an empty word lists everything")
    }
}
