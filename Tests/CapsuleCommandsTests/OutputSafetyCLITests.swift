import CapsuleHost
import CapsuleSyntax
import Foundation
import Testing

/// Issue 12, class E ("bad input, clean output") through the real executable: many errors
/// are reported quickly and capped, outside text reaches the terminal escaped, a failed
/// write to standard output is exit 74, text from outside is valid UTF-8, and `fs.write`
/// is never torn. docs/security.md, "Bad input, clean output".
@Suite final class OutputSafetyCLITests {
    let directory: String
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-output-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    struct Run {
        var status: Int32
        var signalled: Bool
        var out: String
        var err: String
        var seconds: Double
    }

    /// Runs `executable` (the built `capsule` by default) in the scratch directory.
    /// `stdout` replaces the captured pipe (then `out` is empty).
    func run(_ arguments: [String], executable: String? = nil, stdin: String? = nil, stdout: FileHandle? = nil,
             environment: [String: String]? = nil) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable ?? (#require(PluginHost.executableDirectory()) + "/capsule"))
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = stdout ?? out
        process.standardError = err
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        let start = Date()
        try process.run()
        if let stdin {
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        }
        // Both pipes are drained at once, so a chatty child cannot block on a full one.
        final class Box: @unchecked Sendable { var data = Data() }
        let outBox = Box()
        let reader = Thread { outBox.data = stdout == nil ? out.fileHandleForReading.readDataToEndOfFile() : Data() }
        reader.start()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !reader.isFinished { usleep(1000) }
        return Run(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                   out: String(decoding: outBox.data, as: UTF8.self), err: String(decoding: errData, as: UTF8.self),
                   seconds: Date().timeIntervalSince(start))
    }

    /// A shell command line (for bytes that are not UTF-8, which `Process` cannot pass).
    func shell(_ script: String) throws -> Run {
        try run(["-c", script], executable: "/bin/sh",
                environment: ["CAPSULE": try #require(PluginHost.executableDirectory()) + "/capsule", "PATH": "/usr/bin:/bin"])
    }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
    }

    /// Compiles the hostile_text fixture into `dir` (relative) as libcapsule_hostile_text.so.
    func buildHostilePlugin(_ dir: String, flags: [String] = []) throws {
        try FileManager.default.createDirectory(atPath: directory + "/" + dir, withIntermediateDirectories: true)
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["cc", "-shared", "-fPIC", "-fvisibility=hidden", "-I", Self.repository + "/sdk/include",
                        "-o", directory + "/" + dir + "/libcapsule_hostile_text.so",
                        Self.repository + "/Tests/PluginFixtures/hostile_text.c"] + flags
        try cc.run()
        cc.waitUntilExit()
        try #require(cc.terminationStatus == 0)
    }

    /// No C0 control but line feed and tab, no DEL, no C1 control, no bidi control.
    static func isTerminalSafe(_ text: String) -> Bool {
        !text.unicodeScalars.contains { TerminalText.isUnsafe($0, newlines: true, tabs: true) }
    }

    // MARK: E17: many errors

    /// 200,000 syntax errors, one per line or all on one line: 100 are shown, then the count
    /// of the rest, in `run`, `check` and the REPL alike. Rendering each diagnostic used to
    /// scan the source from the start for its line (40,000 errors took 7.8 s; 200,000 would
    /// take minutes): now it is linear, so a debug build needs about 3 s of CPU time (it is
    /// CPU time that is checked, through the shell's `times`: the wall clock depends on how
    /// loaded the machine is).
    @Test(.serialized, arguments: [("run", false), ("check", false), ("run", true), ("check", true)])
    func manyErrorsAreCappedAndQuick(_ command: String, _ oneLine: Bool) throws {
        try write("many.cap", String(repeating: oneLine ? "let = 1;" : "let = 1\n", count: 200_000))
        let timed = try shell("\"$CAPSULE\" \(command) many.cap 2> err; echo $?; times")
        let report = timed.out.split(separator: "\n")
        try #require(report.count == 3, "\(timed.out)")
        #expect(report[0] == "65")
        // `times`: the shell's user and system time, then its children's.
        let cpu = report[2].split(separator: " ").map { part -> Double in
            let minutes = Double(part.prefix { $0 != "m" }) ?? 0
            let seconds = Double(part.drop { $0 != "m" }.dropFirst().dropLast()) ?? 0
            return minutes * 60 + seconds
        }.reduce(0, +)
        #expect(cpu > 0 && cpu < 15, "took \(cpu) s of CPU time")
        let result = Run(status: 65, signalled: false, out: "", err: try String(contentsOfFile: directory + "/err", encoding: .utf8), seconds: cpu)
        let lines = result.err.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.filter { $0.contains(": error: ") }.count == 100)
        #expect(result.err.hasSuffix("\ntoo many errors (199900 more not shown)\n"))
        #expect(result.err.hasPrefix("many.cap:1:5: error: expected variable name after 'let', got '='\n    let = 1"))
        // A long line is shown as an excerpt around the column, caret under it.
        if oneLine {
            #expect(result.err.contains("many.cap:1:13: error: expected variable name after 'let', got '='\n    let = 1;let = 1;"))
            #expect(lines.allSatisfy { $0.count < 1100 })
        }
    }

    @Test func replCapsErrorsOfOneEntry() throws {
        let result = try run(["repl"], stdin: String(repeating: "let = 1;", count: 5_000) + "\nprint(\"after\")\n")
        #expect(result.err.hasSuffix("too many errors (4900 more not shown)\n"))
        #expect(result.err.components(separatedBy: ": error: ").count - 1 == 100)
        #expect(result.out.contains("after\n"))
    }

    // MARK: E18: outside text escaped

    /// What a plugin raises and logs arrives escaped, in-process and isolated (the worker
    /// escapes its own log lines), from the script's text and from the plugin's own.
    @Test(arguments: [false, true])
    func pluginRaiseAndLogAreEscaped(_ isolated: Bool) throws {
        try buildHostilePlugin("plugins")
        try write("hostile.cap", """
            import "hostile_text"
            hostile_text.whisper("log \\u{1b}[31mred \\u{202e}rev\\u{9b}2J\\u{7f}")
            hostile_text.whisper_own()
            try { hostile_text.shout_own() } catch e { print(e.message == "hostile_text.shout_own: boom ?[31mred?2J ?dlrow") }
            hostile_text.shout("raise \\u{1b}[31mred \\u{2066}iso\\nnext")
            """)
        let result = try run(["run", "--plugin-path", "plugins"] + (isolated ? ["--isolate=hostile_text"] : []) + ["hostile.cap"])
        #expect(result.status == 70)
        #expect(result.out == "true\n")
        #expect(Self.isTerminalSafe(result.err), "\(result.err.debugDescription)")
        #expect(result.err == """
            [hostile_text] warn: log ?[31mred ?rev?2J?
            [hostile_text] info: note ?]0;title? ?x
            hostile.cap:5:1: error: hostile_text.shout: raise ?[31mred ?iso?next
                hostile_text.shout("raise \\u{1b}[31mred \\u{2066}iso\\nnext")
                ^
              at <script> (hostile.cap:5:1)

            """)
    }

    /// `capsule plugin inspect` prints the descriptor's version, description and export
    /// docs escaped.
    @Test func inspectEscapesDescriptorText() throws {
        try buildHostilePlugin("plugins")
        let result = try run(["plugin", "inspect", "plugins/libcapsule_hostile_text.so"])
        #expect(result.status == 0)
        #expect(Self.isTerminalSafe(result.out), "\(result.out.debugDescription)")
        #expect(result.out.contains("version: 1.0?[8m-hidden\n"))
        #expect(result.out.contains("description: escapes ?[31mred?[0m and ?reversed?\n"))
        #expect(result.out.contains("raises ?[2Jits argument\n"))
        #expect(result.out.contains("logs ?its argument\n"))
    }

    /// A load refusal quoting the descriptor's capability (in-process and isolated), and
    /// `inspect` of that descriptor.
    @Test(arguments: [false, true])
    func loadRefusalsAreEscaped(_ trusted: Bool) throws {
        try buildHostilePlugin("refused", flags: ["-DREFUSED"])
        try write("refused.cap", "import \"hostile_text\"\n")
        let result = try run(["run", "--plugin-path", "refused"] + (trusted ? ["--trust=hostile_text"] : []) + ["refused.cap"])
        #expect(result.status == 70)
        #expect(Self.isTerminalSafe(result.err), "\(result.err.debugDescription)")
        #expect(result.err.contains("requires capability 'fs.read:/nonexistent/?[31mred?'"))
        let inspect = try run(["plugin", "inspect", "refused/libcapsule_hostile_text.so"])
        #expect(Self.isTerminalSafe(inspect.out) && inspect.out.contains("capabilities: fs.read:/nonexistent/?[31mred?\n"), "\(inspect.out.debugDescription)")
    }

    /// File, module and symbol names in compile errors, traces, I/O errors and FFI errors.
    @Test func namesInErrorsAreEscaped() throws {
        let name = "bad\u{1b}[31m\u{202e}.cap"
        try write(name, "let = 1\n")
        let compile = try run(["check", name])
        #expect(compile.err.hasPrefix("bad?[31m?.cap:1:5: error: "))
        try write(name, "fn f() { throw \"x\" }\nf()\n")
        let trace = try run(["run", name])
        #expect(trace.err == "bad?[31m?.cap:1:10: error: x\n    fn f() { throw \"x\" }\n             ^\n  at f (bad?[31m?.cap:1:10)\n  at <script> (bad?[31m?.cap:2:1)\n")
        let missing = try run(["run", "missing\u{1b}[2J\u{2067}.cap"])
        #expect(missing.status == 74)
        #expect(missing.err == "error: cannot read missing?[2J?.cap: No such file or directory\n")
        try write("imports.cap", "import \"\\u{1b}[31mmod\\u{200f}\"\n")
        let module = try run(["run", "imports.cap"])
        #expect(module.err.hasPrefix("imports.cap:1:1: error: module '?[31mmod?' not found"))
        try write("symbol.cap", "import \"ffi\"\nffi.bind(ffi.open(nil), \"\\u{1b}]0;x\\u{7}nosuch\", \"() -> i64\")\n")
        let symbol = try run(["run", "--allow-ffi", "symbol.cap"])
        #expect(symbol.err.hasPrefix("symbol.cap:2:1: error: ffi.bind: no symbol '?]0;x?nosuch'"))
        for result in [compile, trace, missing, module, symbol] {
            #expect(Self.isTerminalSafe(result.err), "\(result.err.debugDescription)")
        }
    }

    // MARK: E19: standard output that cannot be written

    /// `> /dev/full`: exit 74 with one line on standard error, whether the buffer fills
    /// during the run (the script is stopped there) or only the final flush fails; for
    /// `run`, the REPL, `check`'s and `test`'s reports and help text alike.
    @Test func fullDeviceIsAnIOError() throws {
        try write("chatty.cap", "import \"fs\"\nfor i in 0..100000 { print(\"line ${i}\") }\nfs.write(\"after\", \"reached\")\n")
        try write("quiet.cap", "print(\"one line\")\n")
        try FileManager.default.createDirectory(atPath: directory + "/cases/a", withIntermediateDirectories: true)
        try write("cases/a/case.cap", "print(1)\n")
        try write("cases/a/case.out", "1\n")
        let runs: [(arguments: [String], stdin: String?)] = [
            (["run", "--allow-write=.", "chatty.cap"], nil), (["run", "quiet.cap"], nil),
            (["repl"], "print(1)\n"), (["test", "cases"], nil), (["--help"], nil), (["disasm", "quiet.cap"], nil),
        ]
        for (arguments, stdin) in runs {
            let full = try #require(FileHandle(forWritingAtPath: "/dev/full"))
            let result = try run(arguments, stdin: stdin, stdout: full)
            #expect(result.status == 74 && !result.signalled, "\(arguments)")
            #expect(result.err.hasSuffix("error: write to standard output failed: No space left on device\n"), "\(arguments): \(result.err)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/after"), "the script went on after print failed")
    }

    /// A reader that went away: with SIGPIPE ignored, exit 74 and no message (the reader is
    /// gone, the status says it); with the default SIGPIPE, the process ends by that signal
    /// as other command-line tools do. Never a silent exit 0.
    @Test func closedPipe() throws {
        try write("chatty.cap", "for i in 0..200000 { print(\"line ${i}\") }\n")
        // capsule's status and standard error go through files (`sh` has no PIPESTATUS).
        let status = try shell("trap '' PIPE; { \"$CAPSULE\" run chatty.cap 2>err; echo $? > status; } | head -c 10 > /dev/null; cat status; cat err")
        #expect(status.out == "74\n", "\(status.out)")
        let byDefault = try shell("{ \"$CAPSULE\" run chatty.cap 2>err; echo $? > status; } | head -c 10 > /dev/null; cat status; cat err")
        // 141 = 128 + SIGPIPE (the default), or 74 when this test runner ignores SIGPIPE
        // (an ignored signal stays ignored across exec).
        #expect(byDefault.out == "141\n" || byDefault.out == "74\n", "\(byDefault.out)")
    }

    // MARK: E20: text from outside is valid UTF-8

    /// Bytes that are not UTF-8 from every way text enters — a file (`read`, `read_line`),
    /// a file name (`list`), a program's output, a socket (`read_line`), the environment,
    /// `args`, a raw FFI `str` result, a plugin's `str` result in-process and isolated —
    /// become U+FFFD per invalid sequence: the strings have the right length, iterate as
    /// many times, and equal the same text written with U+FFFD.
    @Test func invalidUTF8BecomesReplacementEverywhere() throws {
        try buildHostilePlugin("plugins")
        try write("utf8.cap", """
            import "fs"
            import "env"
            import "proc"
            import "net"
            import "ffi"
            import "hostile_text"
            let want = "a\\u{fffd}b"
            fn check(route, s, expected) {
                var n = 0
                for c in s { n = n + 1 }
                print(route, s == expected, len(s) == len(expected), n == len(expected))
            }
            check("fs.read", fs.read("data/bad.txt"), want + "\\n")
            let f = fs.open("data/bad.txt", "r")
            check("fs.read_line", fs.read_line(f), want)
            check("fs.list", fs.list("data")[1], "n\\u{fffd}")
            check("proc", proc.run("/usr/bin/printf", ["a\\\\377b"], {})["stdout"], want)
            check("env", env.get("BAD"), want)
            check("args", args[0], want)
            let l = net.listen("127.0.0.1", 0)
            let c = net.connect("127.0.0.1", net.port(l))
            let s = net.accept(l)
            let b = bytes("a_b\\n")
            b[1] = 255
            net.write(c, b)
            check("net.read_line", net.read_line(s), want)
            check("ffi", ffi.bind(ffi.open(nil), "getenv", "(str) -> str")("BAD"), want)
            check("plugin", hostile_text.mangled(), "a\\u{fffd}b\\u{fffd}c\\u{fffd}")
            """)
        let prefix = "mkdir -p data && printf 'a\\377b\\n' > data/bad.txt && : > \"data/$(printf 'n\\377')\" && BAD=$(printf 'a\\377b') && export BAD && "
        for isolation in ["", " --isolate=hostile_text"] {
            let result = try shell(prefix + "\"$CAPSULE\" run --allow-read=data --allow-env=BAD --allow-run=/usr/bin/printf --allow-net=127.0.0.1:0 --allow-net=127.0.0.1 --allow-ffi=process:getenv --plugin-path plugins\(isolation) utf8.cap \"$(printf 'a\\377b')\"")
            #expect(result.status == 0, "\(result.err)")
            let routes = ["fs.read", "fs.read_line", "fs.list", "proc", "env", "args", "net.read_line", "ffi", "plugin"]
            #expect(result.out == routes.map { "\($0) true true true\n" }.joined(), "\(result.out)")
        }
    }

    // MARK: E21: fs.write is atomic

    /// A writer killed (SIGKILL or SIGTERM) at random moments while it rewrites a large file
    /// never leaves it torn: it holds the old contents or the new, all of them. SIGTERM also
    /// removes the temporary file; SIGKILL may leave one, which is never the target.
    @Test(arguments: [SIGKILL, SIGTERM])
    func fsWriteIsNeverTorn(_ signal: Int32) throws {
        let size = 8 << 20
        try FileManager.default.createDirectory(atPath: directory + "/out", withIntermediateDirectories: true)
        try write("out/target", String(repeating: "a", count: size))
        try write("writer.cap", """
            import "fs"
            let contents = ["a" * \(size), "b" * \(size)]
            var i = 1
            while true {
                fs.write("out/target", contents[i % 2])
                if i == 1 { fs.write("started", "") }
                i = i + 1
            }
            """)
        let binary = try #require(PluginHost.executableDirectory()) + "/capsule"
        for round in 0..<6 {
            try? FileManager.default.removeItem(atPath: directory + "/started")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["run", "--allow-write=.", "writer.cap"]
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            try process.run()
            let deadline = Date().addingTimeInterval(30)
            while !FileManager.default.fileExists(atPath: directory + "/started") && Date() < deadline && process.isRunning { usleep(2000) }
            usleep(UInt32(1000 + round * 7919 % 40000))
            kill(process.processIdentifier, signal)
            process.waitUntilExit()
            let data = try #require(FileManager.default.contents(atPath: directory + "/out/target"))
            #expect(data.count == size)
            #expect(data.allSatisfy { $0 == data.first }, "round \(round): a torn file")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory + "/out").filter { $0 != "target" }
            if signal == SIGTERM { #expect(leftovers.isEmpty, "\(leftovers)") }
            for name in leftovers { try FileManager.default.removeItem(atPath: directory + "/out/" + name) }
        }
    }

    /// The replaced file keeps its permission bits; a symlink in the grant is written
    /// through (in place, link kept); a hard-linked file is still refused; `append` appends.
    @Test func fsWriteKeepsModeAndLinks() throws {
        try FileManager.default.createDirectory(atPath: directory + "/out", withIntermediateDirectories: true)
        try write("out/secret", "old")
        chmod(directory + "/out/secret", 0o600)
        try write("out/real", "old")
        symlink("real", directory + "/out/link")
        try write("out/linked", "old")
        link(directory + "/out/linked", directory + "/out/second")
        try write("modes.cap", """
            import "fs"
            fs.write("out/secret", "new")
            fs.write("out/link", "via link")
            fs.append("out/secret", "+more")
            try { fs.write("out/linked", "x") } catch e { print(e.message) }
            fs.write("out/fresh", "fresh")
            print(fs.read("out/secret"), fs.read("out/real"))
            """)
        let result = try run(["run", "--allow-write=out", "--allow-read=out", "modes.cap"])
        #expect(result.err == "")
        #expect(result.out == "denied: fs.write \(directory)/out/linked (the file has 2 hard links, and the others may be outside the grant)\nnew+more via link\n")
        var info = stat()
        #expect(stat(directory + "/out/secret", &info) == 0 && info.st_mode & 0o7777 == 0o600)
        #expect(lstat(directory + "/out/link", &info) == 0 && info.st_mode & S_IFMT == S_IFLNK)
        #expect(FileManager.default.contents(atPath: directory + "/out/linked") == Data("old".utf8))
        let names = try FileManager.default.contentsOfDirectory(atPath: directory + "/out").sorted()
        #expect(names == ["fresh", "link", "linked", "real", "second", "secret"])
    }
}
