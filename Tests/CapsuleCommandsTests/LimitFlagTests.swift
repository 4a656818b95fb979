import ArgumentParser
@testable import CapsuleCommands
import CapsuleCore
import Testing

/// `--max-instructions`, `--timeout`, `--max-heap` and `--max-depth` on `capsule run` and
/// `capsule repl`: parsing, usage errors, and runaway scripts ending with exit code 70.
@Suite struct LimitFlagTests {
    func parse(_ arguments: [String]) throws -> RunCommand {
        try #require(try CapsuleCommand.parseAsRoot(arguments) as? RunCommand)
    }

    /// Runs `source` the way `capsule run FLAGS script.cap` does; returns the exit code and
    /// what went to standard error.
    func run(_ flags: [String], _ source: String) throws -> (code: Int32, err: String) {
        let scratch = try ScratchDirectory()
        try scratch.write("script.cap", source)
        let command = try parse(["run"] + flags + [scratch.path + "/script.cap"])
        let outcome = try command.options.makeVM().runFile(path: try #require(command.file), name: "script.cap")
        let captured = CapturedConsole()
        do {
            try finish(outcome, console: captured.console)
            return (0, captured.err)
        } catch let exit as ExitCode {
            return (exit.rawValue, captured.err)
        }
    }

    func usageError(_ arguments: [String]) -> (code: Int32, message: String) {
        do {
            _ = try CapsuleCommand.parseAsRoot(arguments)
            return (0, "")
        } catch {
            return (CapsuleCommand.exitCode(for: error).rawValue, CapsuleCommand.message(for: error))
        }
    }

    @Test func flagsFillTheConfiguration() throws {
        let command = try parse(["run", "--max-instructions", "1_000_000", "--timeout", "500ms",
                                 "--max-heap", "64M", "--max-depth", "1000", "x.cap"])
        let configuration = command.options.configuration()
        #expect(configuration.maxInstructions == 1_000_000)
        #expect(configuration.timeout == .milliseconds(500))
        #expect(configuration.maxHeapBytes == 64 << 20)
        #expect(configuration.maxCallDepth == 1000)
        let plain = try parse(["run", "x.cap"]).options.configuration()
        #expect(plain.maxInstructions == nil && plain.timeout == nil && plain.maxHeapBytes == nil)
        #expect(plain.maxCallDepth == Configuration().maxCallDepth)
        let repl = try #require(try CapsuleCommand.parseAsRoot(["repl", "--timeout", "2s"]) as? ReplCommand)
        #expect(repl.options.timeout == .seconds(2))
    }

    @Test func durationsAndSizes() throws {
        #expect(try LimitParsing.duration("500ms") == .milliseconds(500))
        #expect(try LimitParsing.duration("2s") == .seconds(2))
        #expect(try LimitParsing.duration("1.5s") == .milliseconds(1500))
        #expect(try LimitParsing.duration("1m") == .seconds(60))
        #expect(try LimitParsing.duration("1h") == .seconds(3600))
        #expect(try LimitParsing.duration("3") == .seconds(3))
        #expect(try LimitParsing.size("512K") == 512 << 10)
        #expect(try LimitParsing.size("64M") == 64 << 20)
        #expect(try LimitParsing.size("1G") == 1 << 30)
        #expect(try LimitParsing.size("2MiB") == 2 << 20)
        #expect(try LimitParsing.size("1000") == 1000)
        #expect(LimitText.duration(.milliseconds(500)) == "500ms")
        #expect(LimitText.duration(.seconds(2)) == "2s")
        #expect(LimitText.duration(.seconds(120)) == "2m")
        #expect(LimitText.duration(.seconds(7200)) == "2h")
        #expect(LimitText.duration(.seconds(90)) == "90s")
        #expect(LimitText.duration(.milliseconds(1500)) == "1.5s")
        #expect(LimitText.bytes(64 << 20) == "64 MiB")
        #expect(LimitText.bytes(1000) == "1000 bytes")
    }

    @Test func badValuesAreUsageErrors() {
        for (flag, value, message) in [
            ("--timeout", "soon", "timeout 'soon' is not a duration"),
            ("--timeout", "0", "timeout '0' must be between 1ms"),
            ("--timeout", "-1s", "is not a duration"),
            ("--max-heap", "lots", "heap size 'lots' is not a size"),
            ("--max-heap", "0", "heap size '0' is out of range"),
            ("--max-heap", "99999999999G", "out of range"),
            ("--max-instructions", "1e6", "instruction limit '1e6' is not a whole number"),
            ("--max-instructions", "0", "instruction limit must be between 1 and"),
            ("--max-depth", "2000000", "call depth must be between 1 and 1000000"),
        ] {
            let (code, text) = usageError(["run", "\(flag)=\(value)", "x.cap"])
            #expect(code == 64, "\(flag) \(value)")
            #expect(text.contains(message), "\(flag) \(value): \(text)")
        }
    }

    @Test func runawayLoopEndsWithExit70() throws {
        let spin = "var i = 0\nwhile true { i = i + 1 }\n"
        let fuel = try run(["--max-instructions", "1000000"], spin)
        #expect(fuel.code == 70)
        #expect(fuel.err == "error: instruction limit of 1000000 exceeded\n  at <script> (script.cap:2:18)\n")
        let time = try run(["--timeout", "200ms"], spin)
        #expect(time.code == 70)
        #expect(time.err == "error: timeout of 200ms exceeded\n  at <script> (script.cap:2:18)\n")
    }

    @Test func deepRecursionEndsWithExit70() throws {
        let deep = try run(["--max-depth", "100"], "fn f(n) { return f(n + 1) + 1 }\nf(0)\n")
        #expect(deep.code == 70)
        #expect(deep.err == """
            script.cap:1:18: error: stack overflow (call depth limit of 100 exceeded)
                fn f(n) { return f(n + 1) + 1 }
                                 ^
              at f (script.cap:1:18)
              [previous frame repeated 98 more times]
              at <script> (script.cap:2:1)

            """)
    }

    @Test func heapBombsEndWithExit70() throws {
        let strings = try run(["--max-heap", "16M"], "var s = \"x\"\nwhile true { s = s + s }\n")
        #expect(strings.code == 70)
        #expect(strings.err == "error: out of memory (heap limit 16 MiB)\n  at <script> (script.cap:2:18)\n")
        let lists = try run(["--max-heap", "16M"], "let l = []\nwhile true { l.push(len(l)) }\n")
        #expect(lists.code == 70)
        #expect(lists.err.hasPrefix("error: out of memory (heap limit 16 MiB)\n"))
    }
}

extension LimitFlagTests {
    @Test func replEntryThatRunsAwayEndsAndTheSessionGoesOn() throws {
        let command = try #require(try CapsuleCommand.parseAsRoot(["repl", "--max-instructions", "100000"]) as? ReplCommand)
        let vm = try command.options.makeVM()
        let repl = REPL(evaluate: vm.evaluateREPL)
        #expect(repl.transcript(["var n = 0", "while true { n = n + 1 }", "n > 0", "for i in 0..10 { n = i }", "n"]) == """
            > var n = 0
            > while true { n = n + 1 }
            error: instruction limit of 100000 exceeded
              at <script> (<repl>:1:18)
            > n > 0
            true
            > for i in 0..10 { n = i }
            > n
            9
            > 
            """)
    }
}
