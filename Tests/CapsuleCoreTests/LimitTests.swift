import Testing
@testable import CapsuleCore

@Suite struct LimitTests {
    @Test func deepScriptRecursionIsACatchableStackOverflow() {
        let source = """
        fn f(n) { return f(n + 1) + 1 }
        var message = nil
        try { f(0) } catch e { message = e.message }
        message
        """
        #expect(value(of: source) == "stack overflow (call depth limit of 200000 exceeded)")
        // The VM is usable again afterwards.
        #expect(value(of: "fn f(n) { return f(n + 1) }\ntry { f(0) } catch e { }\nfn g(n) { if n == 0 { return 0 }\n return 1 + g(n - 1) }\ng(10000)") == 10000)
    }

    @Test func uncaughtStackOverflowIsAReportNotACrash() {
        let outcome = VM().run(source: "fn f(n) { return f(n + 1) }\nf(0)", name: "deep.cap")
        #expect(outcome.exitCode == 70)
        #expect(outcome.errorText == """
            deep.cap:1:18: error: stack overflow (call depth limit of 200000 exceeded)
                fn f(n) { return f(n + 1) }
                                 ^
              at f (deep.cap:1:18)
              [previous frame repeated 199,998 more times]
              at <script> (deep.cap:2:1)

            """)
    }

    @Test func nativeReentryThroughListMapOverflows() {
        let source = """
        fn g(n) { return [1].map(fn(x) { return g(n + 1) }) }
        var message = nil
        try { g(0) } catch e { message = e.message }
        message
        """
        #expect(value(of: source) == "stack overflow")
        #expect(value(of: "fn s(n) { let l = [2, 1]\n l.sort(fn(a, b) { return s(n + 1) })\n return l }\ntry { s(0) } catch e { e.message }\n1") == 1)
    }

    @Test func recursiveStrMethodsOverflow() {
        let direct = """
        class R { str() { return str(self) } }
        var message = nil
        try { print(R()) } catch e { message = e.message }
        message
        """
        #expect(value(of: direct) == "stack overflow")
        let interpolated = """
        class S { str() { return "<${self}>" } }
        var message = nil
        try { message = "${S()}" } catch e { message = e.message }
        message
        """
        #expect(value(of: interpolated) == "stack overflow")
        let (vm, out) = capturingVM()
        let outcome = vm.run(source: "class R { str() { return str(self) } }\nprint(R())", name: "r.cap")
        #expect(outcome.exitCode == 70)
        #expect(outcome.errorText.hasPrefix("r.cap:1:26: error: stack overflow\n"))
        #expect(out.text == "")
    }

    @Test func hugeListLiteralCompilesAndRuns() {
        let ints = (0..<100_000).map(String.init).joined(separator: ", ")
        #expect(value(of: "let l = [\(ints)]\n[len(l), l[0], l[32767], l[65535], l[65536], l[98304], l[99999]]")
                == .list([100_000, 0, 32767, 65535, 65536, 98304, 99999]))
        let strings = (0..<100_000).map { "\"s\($0)\"" }.joined(separator: ", ")
        let source = """
        let l = [\(strings)]
        var bad = 0
        for i in 0..len(l) { if l[i] != "s" + str(i) { bad += 1 } }
        [len(l), bad]
        """
        #expect(value(of: source) == .list([100_000, 0]))
    }

    @Test func tooManyConstantsIsACompileErrorNotACrash() {
        let floats = (0..<600_000).map { "\($0).5" }.joined(separator: ",")
        let errors = compileErrors("let l = [\(floats)]")
        #expect(errors.contains { $0.hasSuffix("too many constants in one function") })
    }

    @Test func oneMegabyteStrings() {
        #expect(value(of: "let s = \"ab\" * 524288\n[len(s), len(s + s), s[1048575], s.find(\"ba\")]")
                == .list([1_048_576, 2_097_152, "b", 1]))
        let literal = String(repeating: "xyz", count: 349_526)  // 1,048,578 bytes
        #expect(value(of: "let s = \"\(literal)\"\nlen(s)") == .int(1_048_578))
        let vm = VM()
        _ = vm.evaluate("fn count(s) { return len(s) }")
        #expect(vm.call("count", [.string(String(repeating: "é", count: 1 << 19))]) == .success(.int(1 << 19)))
    }
}
