import Testing
@testable import CapsuleCore

/// Fuel, timeout, heap limit and call depth through the embedding API.
@Suite struct ResourceLimitTests {
    func vm(_ configure: (inout Configuration) -> Void) -> (VM, OutputCapture) {
        let capture = OutputCapture()
        var config = Configuration()
        config.output = { capture.append($0) }
        configure(&config)
        return (VM(configuration: config), capture)
    }

    // MARK: fuel

    @Test func runawayLoopRunsOutOfFuel() {
        let (vm, _) = vm { $0.maxInstructions = 100_000 }
        let outcome = vm.run(source: "var i = 0\nwhile true { i = i + 1 }", name: "spin.cap")
        #expect(outcome.exitCode == 70)
        #expect(outcome.errorText == "error: instruction limit of 100000 exceeded\n  at <script> (spin.cap:2:18)\n")
        // The same VM runs the next script with a full budget.
        #expect(vm.run(source: "var s = 0\nfor i in 0..1000 { s = s + i }\nprint(s)", name: "ok.cap") == .ok(value: nil))
    }

    @Test func fuelCountsLoopBodiesAndCalls() {
        // A loop of 10,000 iterations fits in 100,000 fuel only if a short body costs a few
        // units; 1,000,000 iterations do not.
        let (vm, out) = vm { $0.maxInstructions = 100_000 }
        #expect(vm.run(source: "var s = 0\nfor i in 0..10000 { s = s + i }\nprint(s)", name: "a.cap") == .ok(value: nil))
        #expect(out.text == "49995000\n")
        #expect(vm.run(source: "var s = 0\nfor i in 0..1000000 { s = s + i }", name: "b.cap").exitCode == 70)
        let recursion = "fn fib(n) { if n < 2 { return n }\n return fib(n - 1) + fib(n - 2) }\nfib(30)"
        #expect(vm.run(source: recursion, name: "fib.cap").errorText.hasPrefix("error: instruction limit of 100000 exceeded\n  at fib (fib.cap:"))
    }

    @Test func fuelAndTimeoutCannotBeCaught() {
        let source = """
        var caught = false
        try { while true { } } catch e { caught = true }
        print("after", caught)
        """
        let (a, outA) = vm { $0.maxInstructions = 10_000 }
        #expect(a.run(source: source, name: "catch.cap").errorText.hasPrefix("error: instruction limit of 10000 exceeded\n"))
        #expect(outA.text == "")
        let (b, outB) = vm { $0.timeout = .milliseconds(50) }
        #expect(b.run(source: source, name: "catch.cap").errorText.hasPrefix("error: timeout of 50ms exceeded\n"))
        #expect(outB.text == "")
        // Not even through a native that calls back into the script.
        let (c, _) = vm { $0.maxInstructions = 10_000 }
        let throughSort = "try { [3, 1, 2].sort(fn(x, y) { while true { } }) } catch e { print(\"caught\") }"
        #expect(c.run(source: throughSort, name: "sort.cap").errorText.hasPrefix("error: instruction limit of 10000 exceeded\n"))
    }

    @Test func timeoutEndsARunawayLoopAndTheVMGoesOn() {
        let (vm, out) = vm { $0.timeout = .milliseconds(100) }
        let start = ContinuousClock.now
        let outcome = vm.run(source: "while true { }", name: "spin.cap")
        let elapsed = ContinuousClock.now - start
        #expect(outcome.errorText == "error: timeout of 100ms exceeded\n  at <script> (spin.cap:1:7)\n")
        #expect(elapsed >= .milliseconds(100) && elapsed < .seconds(5))
        // Each call into the VM gets its own deadline.
        #expect(vm.run(source: "print(1 + 1)", name: "ok.cap") == .ok(value: nil))
        #expect(out.text == "2\n")
    }

    @Test func timeoutThroughEvaluateAndCall() {
        let (vm, _) = vm { $0.timeout = .milliseconds(50) }
        #expect(vm.evaluate("fn spin() { while true { } }\n1") == .success(1))
        #expect(vm.call("spin", []) == .failure(.runtimeError(message: "timeout of 50ms exceeded",
                                                             report: "error: timeout of 50ms exceeded\n  at spin (<eval>:1:19)\n")))
        #expect(vm.evaluate("2 + 3") == .success(5))
    }

    /// The example in docs/embedding.md ("Resource limits"), checked.
    @Test func documentedExample() {
        var config = Configuration()
        config.maxInstructions = 1_000_000_000
        config.timeout = .milliseconds(500)
        config.maxHeapBytes = 64 << 20
        config.maxCallDepth = 10_000
        let vm = VM(configuration: config)
        guard case .failure(.runtimeError(let message, _)) = vm.evaluate("while true { }") else {
            Issue.record("the loop did not stop")
            return
        }
        #expect(message == "timeout of 500ms exceeded")
        #expect(vm.evaluate("1 + 1") == .success(2))
    }

    // MARK: call depth

    @Test func callDepthIsConfigurable() {
        let (vm, _) = vm { $0.maxCallDepth = 50 }
        let deep = "fn f(n) { if n == 0 { return 0 }\n return 1 + f(n - 1) }\n"
        #expect(vm.evaluate(deep + "f(40)") == .success(40))
        #expect(vm.evaluate("var m = nil\ntry { f(60) } catch e { m = e.message }\nm") == .success("stack overflow (call depth limit of 50 exceeded)"))
        let (clamped, _) = self.vm { $0.maxCallDepth = Int.max }
        #expect(clamped.rt.frameLimit == Configuration.maxCallDepthBound)
    }

    // MARK: heap

    @Test func stringDoublingHitsTheHeapLimit() {
        let (vm, _) = vm { $0.maxHeapBytes = 8 << 20 }
        let outcome = vm.run(source: "var s = \"x\"\nwhile true { s = s + s }", name: "bomb.cap")
        #expect(outcome.errorText == "error: out of memory (heap limit 8 MiB)\n  at <script> (bomb.cap:2:18)\n")
        #expect(vm.rt.bytesAllocated <= 8 << 20)
        #expect(vm.run(source: "print(len(\"ab\" * 1000))", name: "ok.cap") == .ok(value: nil))
    }

    @Test func listAndMapGrowthHitTheHeapLimit() {
        let limit = 4 << 20
        for source in ["let l = []\nwhile true { l.push(l) }",
                       "let m = {}\nvar i = 0\nwhile true { m[i] = i\n i = i + 1 }",
                       "let m = {}\nvar i = 0\nwhile true { m[\"k${i}\"] = [i]\n i = i + 1 }",
                       "fn f(n) { return [n, f(n + 1)] }\nf(0)",
                       "var l = [1]\nwhile true { l = l + l }",
                       "let b = bytes(1 << 30)",
                       "let s = \"a\" * 1000000\nlet t = s.replace(\"a\", \"b\" * 1000)",
                       "let s = \"ab\" * 1000000\nlet c = s.chars()",
                       "let s = \"a,\" * 1000000\nlet p = s.split(\",\")",
                       "let big = \"x\" * 1000000\nlet l = []\nfor i in 0..1000 { l.push(big) }\nlet j = l.join(\"\")",
                       "let s = \"a;\" * 1000000\nlet p = s.rsplit(\";\")",
                       "let s = \"a\\n\" * 1000000\nlet p = s.lines()",
                       "let s = \"a\" * 3000000\nlet t = s.pad_left(6000000)",
                       "let s = \"ab\" * 1100000\nlet t = s.reverse()",
                       "let s = \"é\" * 1000000\nlet t = s.upper() + s.encode(\"latin-1\").decode(\"latin-1\")",
                       "import \"encoding\"\nlet s = \"x\" * 2000000\nlet e = encoding.base64_encode(s)"] {
            let (vm, _) = vm { $0.maxHeapBytes = limit }
            let outcome = vm.run(source: source, name: "grow.cap")
            #expect(outcome.errorText.hasPrefix("error: out of memory (heap limit 4 MiB)\n"), "\(source)")
            // Past the limit by at most one growth step of the structure being built.
            #expect(vm.rt.bytesAllocated < 3 * limit, "\(source)")
            #expect(vm.evaluate("[1, 2, 3].map(fn(x) { return x * 2 })") == .success([2, 4, 6]))
        }
    }

    @Test func outOfMemoryIsCatchableAndTheLimitStillHolds() {
        let (vm, out) = vm { $0.maxHeapBytes = 4 << 20 }
        let source = """
        fn bomb() { let l = []
          while true { l.push("item ${len(l)}") } }
        for round in 0..3 {
          try { bomb() } catch e { print(round, e.message) }
        }
        var kept = []
        try { while true { kept.push([1, 2, 3]) } } catch e { print("kept", e.message) }
        try { let more = "y" * 100000 } catch e { print("more", e.message) }
        kept = nil
        print("done", len("z" * 100000))
        """
        #expect(vm.run(source: source, name: "catch.cap") == .ok(value: nil))
        #expect(out.text == """
            0 out of memory (heap limit 4 MiB)
            1 out of memory (heap limit 4 MiB)
            2 out of memory (heap limit 4 MiB)
            kept out of memory (heap limit 4 MiB)
            more out of memory (heap limit 4 MiB)
            done 100000

            """)
    }

    // MARK: allocation failure at every point (Lua's memerr tests)

    static let memerrScripts: [(name: String, source: String)] = [
        ("strings", """
            var s = ""
            for i in 0..40 { s = s + "${i}," }
            let parts = s.split(",")
            print(len(parts), parts[3], "ab" * 3, s.upper()[0:4])
            """),
        ("string methods", """
            import "encoding"
            let s = "  a=1; b=é2; c=東3  ".strip()
            let kv = s.rsplit("; ", 1)
            let p = s.split("; ", 5)
            let r = s.replace("=", ":", 2).pad_left(24, "·").center(30)
            let e = encoding.base64_decode(encoding.base64_encode(s.encode("utf-8")))
            print(kv, p, r, "x\\nyz\\r\\n".lines(), s.reverse(), e.decode(), encoding.hex_decode("c3a9").decode("latin-1"))
            """),
        ("lists", """
            let l = []
            for i in 0..50 { l.push([i, i * i]) }
            let evens = l.filter(fn(p) { return p[0] % 2 == 0 }).map(fn(p) { return p[1] })
            evens.sort(fn(a, b) { return b < a })
            print(len(evens), evens[0], l[10:12])
            """),
        ("maps", """
            let m = {}
            for i in 0..60 { m["k${i}"] = i; m[i] = "v${i}" }
            m.remove("k3")
            var total = 0
            for k, v in m { if type(v) == "int" { total = total + v } }
            print(len(m), total, m.keys()[0:3])
            """),
        ("closures", """
            fn counter() { var n = 0
              return fn() { n = n + 1
                return n } }
            let cs = []
            for i in 0..10 { cs.push(counter()) }
            var sum = 0
            for c in cs { c()
              sum = sum + c() }
            print(sum)
            """),
        ("classes", """
            class Shape { init(name) { self.name = name }
              area() { return 0 }
              str() { return "${self.name}:${self.area()}" } }
            class Square < Shape { init(s) { super.init("square")
                self.s = s }
              area() { return self.s * self.s } }
            let shapes = []
            for i in 0..20 { shapes.push(Square(i)) }
            print(shapes[3], len(shapes))
            """),
        ("errors", """
            var caught = 0
            for i in 0..20 {
              try { if i % 3 == 0 { throw "bad ${i}" }
                let x = [i][5] }
              catch e { caught = caught + 1 }
            }
            fn f(n) { if n == 0 { throw {"code": 7} }
              return f(n - 1) }
            // Errors other than the thrown map (out of memory) are thrown on.
            try { f(10) } catch e { if type(e) != "map" { throw e }
              print(caught, e["code"]) }
            """),
    ]

    @Test(arguments: memerrScripts.map(\.name))
    func everyAllocationFailureEndsInOutOfMemory(_ name: String) {
        let source = Self.memerrScripts.first { $0.name == name }!.source
        let (reference, expected) = vm { _ in }
        #expect(reference.run(source: source, name: "\(name).cap") == .ok(value: nil))
        var n = 1
        while n < 20_000 {
            let (vm, out) = vm { $0.failAllocationAfter = n }
            let outcome = vm.run(source: source, name: "\(name).cap")
            if outcome == .ok(value: nil) {
                #expect(out.text == expected.text, "N = \(n)")
                break
            }
            #expect(outcome.errorText.hasPrefix("error: out of memory"), "N = \(n): \(outcome.errorText)")
            if name != "errors" { #expect(expected.text.hasPrefix(out.text), "N = \(n)") }
            n += 1
        }
        #expect(n > 10 && n < 20_000, "\(name) succeeded after \(n) allocations")
    }

    @Test func allocationFailureUnderGCStress() {
        let source = Self.memerrScripts.first { $0.name == "classes" }!.source
        var n = 1
        while n < 20_000 {
            let (vm, _) = vm { $0.failAllocationAfter = n; $0.gcStress = true }
            let outcome = vm.run(source: source, name: "classes.cap")
            if outcome == .ok(value: nil) { break }
            #expect(outcome.errorText.hasPrefix("error: out of memory"), "N = \(n): \(outcome.errorText)")
            n += 7
        }
        #expect(n < 20_000)
    }
}
