import Testing
@testable import CapsuleCore

private struct PlainSwiftError: Error, CustomStringConvertible {
    var description: String { "disk on fire" }
}

@Suite struct EmbeddingTests {
    /// A VM with `add(int, int) -> int` and friends registered.
    func vmWithNatives() -> VM {
        let vm = VM()
        vm.register("add", parameters: [.int, .int], result: .int) { args in
            guard case .int(let a) = args[0], case .int(let b) = args[1] else { throw ScriptError("unreachable") }
            return .int(a + b)
        }
        vm.register("half", parameters: [.number], result: .float) { args in
            switch args[0] {
            case .int(let i): return .float(Double(i) / 2)
            case .float(let d): return .float(d / 2)
            default: throw ScriptError("unreachable")
            }
        }
        vm.register("fail", parameters: [.string], result: .nil) { args in
            guard case .string(let s) = args[0] else { return .nil }
            throw ScriptError(s)
        }
        vm.register("explode", parameters: [], result: .nil) { _ in throw PlainSwiftError() }
        vm.register("liar", parameters: [], result: .int) { _ in .string("not an int") }
        vm.register("echo", parameters: [.any], result: .any) { args in args[0] }
        vm.register("describe", parameters: [.any], result: .string) { args in .string("\(args[0])") }
        vm.register("handle", parameters: [], result: .any) { _ in .object(typeName: "file", description: "<file>") }
        vm.register("apply", parameters: [.function, .list], result: .int) { args in
            guard case .list(let l) = args[1] else { return 0 }
            return .int(Int64(l.count))
        }
        return vm
    }

    @Test func nativesAreCalledWithTypedArguments() {
        let vm = vmWithNatives()
        #expect(vm.evaluate("add(40, 2)") == .success(42))
        #expect(vm.evaluate("half(3)") == .success(1.5))
        #expect(vm.evaluate("half(5.0)") == .success(2.5))
        #expect(vm.evaluate("type(add)") == .success("function"))
        #expect(vm.evaluate("apply(fn(x) { return x }, [1, 2, 3])") == .success(3))
    }

    @Test func argumentCountAndTypesAreChecked() {
        let vm = vmWithNatives()
        #expect(vm.evaluate("add(1, 2, 3)").failureMessage == "add expects 2 arguments, got 3")
        #expect(vm.evaluate("add(1)").failureMessage == "add expects 2 arguments, got 1")
        #expect(vm.evaluate("add(1, \"2\")").failureMessage == "add: argument 2 must be int, got string")
        #expect(vm.evaluate("add(1.0, 2)").failureMessage == "add: argument 1 must be int, got float")
        #expect(vm.evaluate("half(nil)").failureMessage == "half: argument 1 must be number, got nil")
        #expect(vm.evaluate("apply(1, [])").failureMessage == "apply: argument 1 must be function, got int")
        #expect(vm.evaluate("apply(print, {})").failureMessage == "apply: argument 2 must be list, got map")
    }

    @Test func nativeErrorsAreCatchable() {
        let vm = vmWithNatives()
        #expect(vm.evaluate(caught("add(1, \"x\")", "e.message")) == .success("add: argument 2 must be int, got string"))
        #expect(vm.evaluate(caught("fail(\"boom\")", "str(e)")) == .success("boom"))
        #expect(vm.evaluate(caught("explode()", "e.message")) == .success("disk on fire"))
        #expect(vm.evaluate(caught("liar()", "e.message")) == .success("liar: result must be int, got string"))
        #expect(vm.evaluate(caught("handle()", "e.message")) == .success("cannot pass a file from Swift into a script"))
        // Uncaught, they end the evaluation with a trace.
        guard case .failure(.runtimeError(let message, let report)) = vm.evaluate("fn f() { fail(\"deep\") }\nf()", name: "t.cap") else {
            Issue.record("expected a runtime error"); return
        }
        #expect(message == "deep")
        #expect(report == "t.cap:1:10: error: deep\n    fn f() { fail(\"deep\") }\n             ^\n  at f (t.cap:1:10)\n  at <script> (t.cap:2:1)\n")
    }

    @Test func valuesRoundTripThroughNatives() {
        let vm = vmWithNatives()
        let cases: [(String, ScriptValue)] = [
            ("nil", .nil), ("true", true), ("-7", -7), ("1 << 62", .int(1 << 62)),
            ("-9223372036854775807 - 1", .int(.min)), ("2.5", 2.5), ("\"héllo\"", "héllo"),
            ("bytes([0, 255, 7])", .bytes([0, 255, 7])), ("[1, [2, [\"x\"]], nil]", [1, [2, ["x"]], nil]),
            ("{\"b\": 1, \"a\": [2], 3: nil}", .map([("b", 1), ("a", [2]), (3, nil)])),
        ]
        for (source, expected) in cases {
            #expect(vm.evaluate("echo(\(source))") == .success(expected), "\(source)")
            #expect(vm.evaluate("let v = \(source)\nv") == .success(expected), "\(source)")
        }
        #expect(vm.evaluate("let m = echo({\"z\": 1, \"y\": 2})\nm.keys()") == .success(["z", "y"]))
        #expect(vm.evaluate("describe([1, \"a\"])") == .success("list([CapsuleCore.ScriptValue.int(1), CapsuleCore.ScriptValue.string(\"a\")])"))
    }

    @Test func otherValuesBecomeObjectsAndFunctionsReferences() {
        let vm = VM()
        #expect(vm.evaluate("class P {}\nP()") == .success(.object(typeName: "instance", description: "<P instance>")))
        #expect(vm.evaluate("P") == .success(.object(typeName: "class", description: "<class P>")))
        #expect(vm.evaluate("Error(\"x\")").map(\.typeName) == .success("error"))
        guard case .success(.function(let len)) = vm.evaluate("len") else { Issue.record("len is a function"); return }
        #expect(len.description == "<native fn len>")
        guard case .success(.function(let closure)) = vm.evaluate("fn(x) { return x }") else { Issue.record("a closure is a function"); return }
        #expect(ScriptValue.function(closure).typeName == "function")
        // The same function copied out twice is equal; another is not.
        #expect(vm.evaluate("len") == .success(.function(len)))
        #expect(ScriptValue.function(len) != .function(closure))
    }

    @Test func cyclesHitTheDepthLimit() {
        let vm = VM()
        guard case .failure(.runtimeError(let message, _)) = vm.evaluate("let l = [1]\nl.push(l)\nl") else {
            Issue.record("a cyclic list cannot be copied"); return
        }
        #expect(message == Runtime.tooDeepMessage)
        #expect(vm.evaluate("len(l)") == .success(2))  // the VM is fine afterwards
        #expect(vm.evaluate("let m = {}\nm[\"self\"] = m\nm").failureMessage == Runtime.tooDeepMessage)
        var deep: ScriptValue = 1
        for _ in 0..<300 { deep = [deep] }
        _ = vm.evaluate("fn id(x) { return x }")
        #expect(vm.call("id", [deep]).failureMessage == Runtime.tooDeepMessage)
        var ok: ScriptValue = 1
        for _ in 0..<150 { ok = [ok] }
        #expect(vm.call("id", [ok]) == .success(ok))
    }

    @Test func evaluateKeepsStateAcrossCalls() {
        let vm = VM()
        #expect(vm.evaluate("let x = 40") == .success(.nil))
        #expect(vm.evaluate("var y = 2\nfn total() { return x + y }") == .success(.nil))
        #expect(vm.evaluate("total()") == .success(42))
        #expect(vm.evaluate("y = 10\ntotal()") == .success(50))
        // The REPL shares the scope.
        #expect(vm.evaluateREPL("x") == .ok(value: "40"))
        #expect(vm.evaluateREPL("let z = 7") == .ok(value: nil))
        #expect(vm.evaluate("z * 6") == .success(42))
        // Another VM has its own.
        #expect(VM().evaluate("x").failureMessage.contains("undefined variable 'x'"))
    }

    @Test func evaluateFailures() {
        let vm = VM()
        guard case .failure(.compileError(let diagnostics)) = vm.evaluate("1 +", name: "calc.cap") else {
            Issue.record("expected a compile error"); return
        }
        #expect(diagnostics.hasPrefix("calc.cap:1:"))
        guard case .failure(.runtimeError(let message, let report)) = vm.evaluate("let a = 1\na / 0", name: "calc.cap") else {
            Issue.record("expected a runtime error"); return
        }
        #expect(message == "division by zero")
        #expect(report == "calc.cap:2:1: error: division by zero\n    a / 0\n    ^\n  at <script> (calc.cap:2:1)\n")
        // A failed compile declares nothing; a failed run keeps what ran before the error.
        #expect(vm.evaluate("let b = 1\nprint(nope)").failureMessage.contains("undefined variable 'nope'"))
        #expect(vm.evaluate("a") == .success(1))
        #expect(vm.evaluate("throw [1, 2]").failureMessage == "[1, 2]")
        #expect(vm.evaluate("class E { str() { return \"custom\" } }\nthrow E()").failureMessage == "custom")
    }

    @Test func printGoesToTheConfiguredOutput() {
        let (vm, out) = capturingVM()
        #expect(vm.evaluate("print(\"hi\", 1)\n2") == .success(2))
        #expect(out.text == "hi 1\n")
    }

    @Test func callScriptFunctions() {
        let vm = VM()
        _ = vm.evaluate("""
        fn add(a, b) { return a + b }
        fn sum(l) { var t = 0
            for x in l { t += x }
            return t }
        fn keys(m) { return m.keys() }
        fn boom() { throw Error("nope") }
        class Box { init(v) { self.v = v } }
        let notAFunction = 3
        """)
        #expect(vm.call("add", [1, 2]) == .success(3))
        #expect(vm.call("add", ["a", "b"]) == .success("ab"))
        #expect(vm.call("sum", [[1, 2, 3.5]]) == .success(6.5))
        #expect(vm.call("keys", [.map([("x", 1), ("y", 2)])]) == .success(["x", "y"]))
        #expect(vm.call("add", [1]).failureMessage == "add expects 2 arguments, got 1")
        #expect(vm.call("add", [1, nil]).failureMessage == "cannot add int and nil (local 'b')")
        #expect(vm.call("boom", []).failureMessage == "nope")
        #expect(vm.call("missing", []).failureMessage == "undefined function 'missing'")
        #expect(vm.call("notAFunction", []).failureMessage == "cannot call int")
        #expect(vm.call("add", [.object(typeName: "file", description: "f"), 1]).failureMessage
                == "cannot pass a file from Swift into a script")
        #expect(vm.call("keys", [.map([(nil, 1)])]).failureMessage == "map key cannot be nil")
        if case .success(.object(let type, let description)) = vm.call("Box", [1]) {
            #expect(type == "instance" && description == "<Box instance>")
        } else { Issue.record("calling a class makes an instance") }
        // Calls see later changes and can be repeated after failures.
        _ = vm.evaluate("fn add(a, b) { return a * b }")
        #expect(vm.call("add", [6, 7]) == .success(42))
    }

    @Test func callBeforeAnyEvaluate() {
        #expect(VM().call("f", []).failureMessage == "undefined function 'f'")
    }

    @Test func registrationAppliesToLaterCompiles() {
        let vm = VM()
        #expect(vm.evaluate("later()").failureMessage.contains("undefined variable 'later'"))
        vm.register("later", parameters: [], result: .string) { _ in "now" }
        #expect(vm.evaluate("later()") == .success("now"))
        #expect(vm.run(source: "print(later())", name: "r.cap") == .ok(value: nil))
        vm.register("later", parameters: [.int], result: .int) { args in args[0] }
        #expect(vm.evaluate("later(5)") == .success(5))
    }

    @Test(arguments: [false, true])
    func nativesUnderGCStress(gcStress: Bool) {
        var config = Configuration()
        config.gcStress = gcStress
        let vm = VM(configuration: config)
        vm.register("make", parameters: [.int], result: .list) { args in
            guard case .int(let n) = args[0] else { return [] }
            var items: [ScriptValue] = []
            for i in 0..<n {
                let pairs: [(key: ScriptValue, value: ScriptValue)] = [(.string("k\(i)"), .string("v\(i)")), (.string("n"), .int(i))]
                items.append(.map(pairs))
            }
            return .list(items)
        }
        let source = "var t = 0\nfor m in make(50) { t += m[\"n\"] + len(m[\"k\" + str(m[\"n\"])]) }\nt"
        #expect(vm.evaluate(source) == .success(.int(1365)))  // 0+…+49, plus the lengths of "v0"…"v49"
    }

    @Test func scriptTypesAcceptTheRightValues() {
        #expect(ScriptType.number.accepts(1) && ScriptType.number.accepts(1.5) && !ScriptType.number.accepts("1"))
        #expect(ScriptType.float.accepts(1.5) && !ScriptType.float.accepts(1))
        #expect(ScriptType.any.accepts(nil) && ScriptType.nil.accepts(nil) && !ScriptType.nil.accepts(false))
        if case .success(let f) = VM().evaluate("fn() {}") { #expect(ScriptType.function.accepts(f)) }
        #expect(!ScriptType.function.accepts(.object(typeName: "function", description: "")))
        #expect(!ScriptType.function.accepts(.object(typeName: "instance", description: "")))
        #expect(ScriptType.map.accepts(.map([])) && !ScriptType.list.accepts(.map([])))
    }

    @Test func scriptValueEquality() {
        #expect(ScriptValue.float(.nan) == .float(.nan))
        #expect(ScriptValue.float(0) != .int(0))
        #expect(ScriptValue.map([("a", 1), ("b", 2)]) != .map([("b", 2), ("a", 1)]))
        #expect(ScriptValue.map([("a", [1])]) == .map([("a", [1])]))
        #expect(ScriptValue.list([1, 2]) != .list([1]))
        #expect(ScriptValue.object(typeName: "x", description: "a") != .object(typeName: "x", description: "b"))
    }
}

/// Source that runs `body` and evaluates to `handler` (which may use `e`) if it throws.
func caught(_ body: String, _ handler: String) -> String {
    "var caught = nil\ntry { \(body) } catch e { caught = \(handler) }\ncaught"
}

extension Result where Success == ScriptValue, Failure == ScriptFailure {
    /// The failure's message, or "" on success.
    var failureMessage: String {
        if case .failure(let f) = self { return f.message }
        return ""
    }
}
