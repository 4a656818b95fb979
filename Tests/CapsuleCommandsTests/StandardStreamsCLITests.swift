@testable import CapsuleCommands
import CapsuleHost
import Foundation
import Testing

/// Scripts as Unix citizens, through the real binary: exit codes, standard input and error,
/// `run -e`, `run -`, shebang lines.
@Suite struct StandardStreamsCLITests {
    /// Runs the built `capsule` with `input` on its standard input (closed after writing);
    /// `holdInput` keeps the input pipe open, empty, until the process ends.
    func capsule(_ arguments: [String], input: String = "", holdInput: Bool = false,
                 in directory: String = FileManager.default.temporaryDirectory.path) throws
        -> (status: Int32, out: String, err: String, seconds: Double) {
        let binary = try #require(PluginHost.executableDirectory()).appending("/capsule")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let stdin = Pipe(), out = Pipe(), err = Pipe()
        process.standardInput = stdin
        process.standardOutput = out
        process.standardError = err
        let start = Date()
        try process.run()
        if !holdInput {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if holdInput { try stdin.fileHandleForWriting.close() }
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self),
                String(decoding: errData, as: UTF8.self), Date().timeIntervalSince(start))
    }

    @Test func exitCodeEndsTheScriptAfterFlushingOutput() throws {
        let r = try capsule(["run", "-e", "write(\"partial\"); fn f() { exit(42) }; [1].map(fn(x) { f() }); print(\"never\")"])
        #expect(r.status == 42)
        #expect(r.out == "partial")
        #expect(r.err == "")
        #expect(try capsule(["run", "-e", "exit()"]).status == 0)
        let bad = try capsule(["run", "-e", "exit(256)"])
        #expect(bad.status == 70)
        #expect(bad.err == "<-e>:1:1: error: exit code 256 is out of range 0...255\n    exit(256)\n    ^\n  at <script> (<-e>:1:1)\n")
    }

    @Test func dashEPassesEveryPositionalArgumentToTheScript() throws {
        let r = try capsule(["run", "-e", "print(args, script_path)", "a", "--flag", "b"])
        #expect(r.status == 0)
        #expect(r.out == "[\"a\", \"--flag\", \"b\"] nil\n")
        let error = try capsule(["run", "-e", "let x = 1\nprint(x / 0)"])
        #expect(error.status == 70)
        #expect(error.err == "<-e>:2:7: error: division by zero\n    print(x / 0)\n          ^\n  at <script> (<-e>:2:7)\n")
    }

    @Test func dashReadsTheScriptFromStandardInput() throws {
        let r = try capsule(["run", "-", "x"], input: "print(\"hi\", args)\nprint(stdin.read_line())\n1 +\n")
        #expect(r.status == 65)
        #expect(r.err.hasPrefix("<stdin>:4:1: error: unexpected end of file"))
        let ok = try capsule(["run", "-", "x"], input: "print(\"hi\", args, script_path)\nprint(stdin.read_line())\n")
        #expect(ok.status == 0)
        #expect(ok.out == "hi [\"x\"] nil\nnil\n")
    }

    @Test func scriptsReadStandardInputAndWriteStandardError() throws {
        let r = try capsule(["run", "-e", "for line in stdin.lines() { eprint(\"got\", line) }; print(\"done\")"],
                            input: "one\ntwo\n")
        #expect(r.status == 0)
        #expect(r.out == "done\n")
        #expect(r.err == "got one\ngot two\n")
    }

    /// `stdin.lines()` is lazy: each line is answered before the next is written, so a
    /// loop that read everything first would never print and this test would time out.
    @Test func stdinLinesReadsOneLineAtATime() throws {
        let binary = try #require(PluginHost.executableDirectory()).appending("/capsule")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run", "--timeout", "20s", "-e", "for i, line in stdin.lines() { print(i, line.upper()) }; print(\"end\")"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let reader = output.fileHandleForReading
        var received = ""
        for (i, word) in ["alpha", "beta", "gamma"].enumerated() {
            input.fileHandleForWriting.write(Data("\(word)\n".utf8))
            let expected = "\(i) \(word.uppercased())\n"
            while !received.hasSuffix(expected) {
                let chunk = reader.availableData
                #expect(!chunk.isEmpty, "output ended before the answer to \(word)")
                if chunk.isEmpty { break }
                received += String(decoding: chunk, as: UTF8.self)
            }
        }
        try input.fileHandleForWriting.close()
        received += String(decoding: reader.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(received == "0 ALPHA\n1 BETA\n2 GAMMA\nend\n")
        #expect(process.terminationStatus == 0)
    }

    /// `proc.run(…, {"inherit_stdin": true})`: the child reads the host's standard input.
    @Test func procRunCanGiveTheChildTheHostsStandardInput() throws {
        let r = try capsule(["run", "--allow-run=cat", "-e",
                             "import \"proc\"; write(proc.run(\"cat\", [], {\"inherit_stdin\": true})[\"stdout\"]); print(proc.run(\"cat\")[\"stdout\"] == \"\")"],
                            input: "from the host\n")
        #expect(r.err == "")
        #expect(r.out == "from the host\ntrue\n")
        let both = try capsule(["run", "--allow-run=cat", "-e", "import \"proc\"; proc.run(\"cat\", [], {\"inherit_stdin\": true, \"input\": \"x\"})"])
        #expect(both.status == 70)
        #expect(both.err.hasPrefix("<-e>:1:16: error: proc.run: options 'input' and 'inherit_stdin' cannot both be given"))
    }

    @Test func timeoutEndsAScriptBlockedOnStandardInput() throws {
        let r = try capsule(["run", "--timeout", "300ms", "-e", "print(\"waiting\"); stdin.read_line()"], holdInput: true)
        #expect(r.status == 70)
        #expect(r.out == "waiting\n")
        #expect(r.err == "error: timeout of 300ms exceeded\n  at <script> (<-e>:1:19)\n")
        #expect(r.seconds < 10)
    }

    /// A fiber waiting on an empty standard input pipe parks: the other fiber counts to the
    /// end and prints (a thread blocked in the read would print nothing), and `--timeout`
    /// still ends the wait.
    @Test func readingStandardInputParksTheFiber() throws {
        let script = """
            let counter = spawn fn() { var i = 0; while i < 100000 { i = i + 1 }; print("counted", i) }()
            print(stdin.read_line())
            counter.join()
            """
        let r = try capsule(["run", "--timeout", "1s", "-e", script], holdInput: true)
        #expect(r.status == 70)
        #expect(r.out == "counted 100000\n")
        #expect(r.err.hasPrefix("error: timeout of 1s exceeded\n"))
        // Whether the line is there before the script reads decides the order.
        let fed = try capsule(["run", "-e", script], input: "a line\n")
        #expect(fed.status == 0)
        #expect(fed.out == "a line\ncounted 100000\n" || fed.out == "counted 100000\na line\n")
    }

    @Test func aShebangScriptRunsAsAnExecutable() throws {
        let scratch = try ScratchDirectory()
        let binary = try #require(PluginHost.executableDirectory()).appending("/capsule")
        try scratch.write("tool.cap", "#!\(binary) run\nprint(\"tool\", args, script_path)\n")
        #expect(chmod(scratch.path + "/tool.cap", 0o755) == 0)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: scratch.path + "/tool.cap")
        process.arguments = ["x"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(String(decoding: data, as: UTF8.self) == "tool [\"x\"] \(scratch.path)/tool.cap\n")
    }

    @Test func exitEndsTheREPLWithItsCode() throws {
        let r = try capsule(["repl"], input: "print(1)\nexit(5)\nprint(2)\n")
        #expect(r.status == 5)
        #expect(r.out == "1\n")
    }

    @Test func runNeedsAFileOrCode() {
        expectUsageError(["run"], "Missing expected argument '<file>' (or -e CODE)")
    }
}
