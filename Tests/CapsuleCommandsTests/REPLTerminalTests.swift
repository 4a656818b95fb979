import Foundation
import CapsuleHost
import Glibc
import Testing

/// `capsule repl` at a terminal (a pseudo-terminal): the banner, Ctrl-C while code runs and at
/// the prompt, Ctrl-D, forward references and Tab completion, as a person typing sees them.
@Suite(.serialized) struct REPLTerminalTests {
    let home: ScratchDirectory

    init() throws { home = try ScratchDirectory() }

    func session(_ options: [String] = []) throws -> TerminalSession {
        let s = try TerminalSession(["repl"] + options, home: home.path)
        #expect(s.expect("> "), "no prompt: \(s.output)")
        return s
    }

    /// Types `line` and Enter, then waits for `shown` and the next prompt.
    func enter(_ s: TerminalSession, _ line: String, shows shown: String? = nil,
               sourceLocation: SourceLocation = #_sourceLocation) {
        s.type(line + "\n")
        if let shown { #expect(s.expect(shown), "expected \(shown.debugDescription) after \(line.debugDescription), got \(s.rest.debugDescription)", sourceLocation: sourceLocation) }
        #expect(s.expect("> "), "no prompt after \(line.debugDescription): \(s.rest.debugDescription)", sourceLocation: sourceLocation)
    }

    @Test func bannerNamesHelpAndHelpListsTheCommands() throws {
        let s = try TerminalSession(["repl"], home: home.path)
        #expect(s.expect("Type :help for help"), "\(s.output)")
        #expect(s.expect("> "))
        s.type(":help\n")
        #expect(s.expect(":help   show this text"))
        #expect(s.expect(":quit   leave"))
        #expect(s.expect("Ctrl-C  stop the running entry"))
        #expect(s.expect("> "))
        s.type(":quit\n")
        #expect(s.exitStatus() == 0)
    }

    @Test func ctrlCStopsARunningLoopAndTheSessionKeepsItsState() throws {
        let s = try session()
        enter(s, "let kept = 41")
        s.type("while true {}\n")
        #expect(s.expect("while true {}"))
        usleep(300_000)
        s.type("\u{03}")
        #expect(s.expect("error: interrupted\r\n  at <script> (<repl>:1:7)\r\n"), "\(s.rest.debugDescription)")
        #expect(s.expect("> "))
        enter(s, "kept + 1", shows: "42\r\n")
    }

    @Test func ctrlCWakesASleep() throws {
        let s = try session(["--allow-clock"])
        enter(s, "import \"time\"")
        let start = Date()
        s.type("time.sleep(60)\n")
        #expect(s.expect("time.sleep(60)"))
        usleep(300_000)
        s.type("\u{03}")
        #expect(s.expect("error: interrupted"), "\(s.rest.debugDescription)")
        #expect(s.expect("> "))
        #expect(Date().timeIntervalSince(start) < 30)
        enter(s, "1 + 1", shows: "2\r\n")
    }

    @Test func tryCatchDoesNotSwallowCtrlC() throws {
        let s = try session()
        s.type("try { while true {} } catch e { print(\"caught\") }\n")
        #expect(s.expect("catch e"))
        usleep(300_000)
        s.type("\u{03}")
        #expect(s.expect("error: interrupted"), "\(s.rest.debugDescription)")
        #expect(s.expect("> "))
        #expect(!s.output.contains("caught\r\n"))
    }

    @Test func ctrlCAtThePromptClearsTheLineAndDoesNotExit() throws {
        let s = try session()
        enter(s, "let x = 1")
        s.type("this is not code")
        #expect(s.expect("this is not code"))
        s.type("\u{03}")
        #expect(s.expect("^C\r\n> "), "\(s.rest.debugDescription)")
        enter(s, "x", shows: "1\r\n")
        // An unfinished entry over several lines is dropped whole.
        s.type("fn f() {\n")
        #expect(s.expect(". "))
        s.type("\u{03}")
        #expect(s.expect("^C\r\n> "), "\(s.rest.debugDescription)")
        enter(s, "x + 1", shows: "2\r\n")
        // Ctrl-C at an empty prompt, twice: still there. Ctrl-D leaves.
        s.type("\u{03}")
        #expect(s.expect("^C\r\n> "))
        s.type("\u{03}")
        #expect(s.expect("^C\r\n> "))
        enter(s, "x", shows: "1\r\n")
        s.type("\u{04}")
        #expect(s.exitStatus() == 0)
        #expect(!s.output.contains("error"), "\(s.output.debugDescription)")
    }

    @Test func aFunctionCallsOneALaterEntryDefines() throws {
        let s = try session()
        enter(s, "fn a() { return b() * 2 }")
        enter(s, "a()", shows: "<repl>:1:17: error: variable 'b' is used before it is defined\r\n    fn a() { return b() * 2 }\r\n                    ^\r\n  at a (<repl>:1:17)\r\n  at <script> (<repl>:1:1)\r\n")
        enter(s, "fn b() { return 21 }")
        enter(s, "a()", shows: "42\r\n")
    }

    @Test func tabCompletesNamesAndModuleMembers() throws {
        let s = try session()
        enter(s, "let answer_value = 6")
        s.type("answer_v\t * 7\n")
        #expect(s.expect("42\r\n"), "\(s.rest.debugDescription)")
        #expect(s.expect("> "))
        enter(s, "import \"math\"")
        s.type("math.sq\t(16)\n")
        #expect(s.expect("math.sqrt(16)"), "\(s.rest.debugDescription)")
        #expect(s.expect("4.0\r\n"))
        #expect(s.expect("> "))
        enter(s, "let word = \"abc\"")
        s.type("word.upp\t()\n")
        #expect(s.expect("\"ABC\"\r\n"), "\(s.rest.debugDescription)")
    }
}

/// `capsule repl` reading a pipe: SIGINT stops a running entry and the next lines still run;
/// between entries (waiting for input) it ends the session by that signal, as before.
@Suite struct REPLPipeInterruptTests {
    @Test func sigintStopsTheRunningEntryAndTheNextLinesRun() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(PluginHost.executableDirectory()) + "/capsule")
        process.arguments = ["repl"]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // Standard error is not buffered: the marker arrives while the loop runs.
        input.fileHandleForWriting.write(Data("let kept = 5\neprint(\"looping\")\nwhile true {}\n".utf8))
        #expect(Self.read(errors, until: "looping\n"))
        usleep(200_000)
        kill(process.processIdentifier, SIGINT)
        input.fileHandleForWriting.write(Data("kept * 2\n".utf8))
        try input.fileHandleForWriting.close()
        let rest = output.fileHandleForReading.readDataToEndOfFile()
        let err = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(String(decoding: rest, as: UTF8.self) == "10\n")
        #expect(err == "error: interrupted\n  at <script> (<repl>:1:7)\n")
        #expect(process.terminationStatus == 0)
    }

    /// Reads `pipe` until `text` arrived (false after 20 seconds or at its end).
    static func read(_ pipe: Pipe, until text: String) -> Bool {
        var seen = ""
        let fd = pipe.fileHandleForReading.fileDescriptor
        let deadline = Date().addingTimeInterval(20)
        while !seen.contains(text) {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard Date() < deadline else { return false }
            guard poll(&p, 1, 200) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = Glibc.read(fd, &buffer, buffer.count)
            guard n > 0 else { return false }
            seen += String(decoding: buffer[..<n], as: UTF8.self)
        }
        return true
    }

    @Test func sigintWhileWaitingForInputEndsTheSession() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(PluginHost.executableDirectory()) + "/capsule")
        process.arguments = ["repl"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // The value is written (and flushed) once the entry has run: the session then waits.
        input.fileHandleForWriting.write(Data("1 + 1\n".utf8))
        #expect(Self.read(output, until: "2\n"))
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(process.terminationStatus == SIGINT)
    }
}
