import ArgumentParser
@testable import CapsuleCommands
import CapsuleSyntax
import Testing

@Suite struct CLITests {
    func parse<Command: ParsableCommand>(_ arguments: [String], as _: Command.Type) throws -> Command {
        try #require(try CapsuleCommand.parseAsRoot(arguments) as? Command)
    }

    @Test func versionComesFromTheOneConstant() {
        #expect(CapsuleCommand.version == "0.1.0")
        do {
            _ = try CapsuleCommand.parseAsRoot(["--version"])
            Issue.record("--version parsed as a command")
        } catch {
            #expect(CapsuleCommand.message(for: error) == "capsule 0.1.0")
            #expect(CapsuleCommand.exitCode(for: error) == .success)
        }
    }

    @Test func runTakesFileAndPassesEverythingAfterItToTheScript() throws {
        let run = try parse(["run", "x.cap", "--foo", "-v", "bar", "--gc-stress"], as: RunCommand.self)
        #expect(run.file == "x.cap")
        #expect(run.arguments == ["--foo", "-v", "bar", "--gc-stress"])
        #expect(!run.options.gcStress)
    }

    @Test func runOptionsGoBeforeFile() throws {
        let run = try parse(
            ["run", "--module-path", "a", "--gc-stress", "--module-path", "b", "x.cap", "1"], as: RunCommand.self)
        #expect(run.options.modulePaths == ["a", "b"])
        #expect(run.options.gcStress)
        #expect(run.arguments == ["1"])
        let configuration = run.options.configuration(arguments: run.arguments, environment: ["CAPSULE_PATH": "c::d"])
        #expect(configuration.modulePaths == ["a", "b", "c", "d"])
        #expect(configuration.gcStress)
        #expect(configuration.arguments == ["1"])
    }

    @Test func modulePathWithoutEnvironment() {
        #expect(VMOptions.searchPath(flags: ["a"], environment: [:]) == ["a"])
        #expect(VMOptions.searchPath(flags: [], environment: ["CAPSULE_PATH": ""]) == [])
    }

    @Test func runWithoutFileIsAUsageError() {
        do {
            _ = try CapsuleCommand.parseAsRoot(["run"])
            Issue.record("parsed without a file")
        } catch {
            #expect(CapsuleCommand.exitCode(for: error).rawValue == 64)
        }
    }

    @Test func checkAndDisasmTakeAFile() throws {
        #expect(try parse(["check", "a.cap", "b.cap"], as: CheckCommand.self).files == ["a.cap", "b.cap"])
        #expect(try parse(["disasm", "b.cap"], as: DisasmCommand.self).file == "b.cap")
    }

    @Test func replTakesVMOptions() throws {
        let repl = try parse(["repl", "--gc-stress", "--module-path", "m"], as: ReplCommand.self)
        #expect(repl.options.gcStress)
        #expect(repl.options.modulePaths == ["m"])
    }

    @Test func testDefaultsAndOptions() throws {
        let plain = try parse(["test"], as: TestCommand.self)
        #expect(plain.directory == "Tests/Scripts")
        #expect(plain.filter == nil && !plain.gcStress && !plain.record)
        let full = try parse(["test", "cases", "--filter", "arith", "--gc-stress", "--record"], as: TestCommand.self)
        #expect(full.directory == "cases")
        #expect(full.filter == "arith" && full.gcStress && full.record)
    }

    @Test func everyCommandHasHelp() {
        let help = CapsuleCommand.helpMessage(columns: 100)
        for command in ["run", "check", "disasm", "repl", "test"] {
            #expect(help.contains("  \(command) "))
        }
        #expect(RunCommand.helpMessage(columns: 100).contains("Everything after FILE is passed to the script"))
    }

    @Test func diagnosticsRenderEachFollowedByNewline() {
        let source = Source(name: "a.cap", text: "let x = \nprint(y)\n")
        let diagnostics = [
            Diagnostic(.error, "expected expression", at: SourceLocation(line: 1, column: 9, offset: 8), in: "a.cap"),
            Diagnostic(.error, "undefined variable 'y'", at: SourceLocation(line: 2, column: 7, offset: 15), in: "a.cap"),
        ]
        #expect(CheckCommand.outcome([], source: source) == .ok(value: nil))
        let outcome = CheckCommand.outcome(diagnostics, source: source)
        #expect(outcome.exitCode == 65)
        #expect(outcome.errorText == """
            a.cap:1:9: error: expected expression
                let x = 
                        ^
            a.cap:2:7: error: undefined variable 'y'
                print(y)
                      ^

            """)
    }

    @Test func finishMapsOutcomesToExitCodes() throws {
        let captured = CapturedConsole()
        try finish(.ok(value: "1"), console: captured.console)
        #expect(captured.err == "")
        #expect(throws: ExitCode(70)) { try finish(.runtimeError(report: "error: x\n"), console: captured.console) }
        #expect(throws: ExitCode(74)) { try finish(.ioError(message: "cannot read a: b"), console: captured.console) }
        #expect(captured.err == "error: x\nerror: cannot read a: b\n")
    }

    @Test func readingAMissingFileGivesTheSystemReason() {
        #expect(throws: FileReadError(path: "/no/such.cap", reason: "No such file or directory")) {
            try readTextFile(atPath: "/no/such.cap")
        }
    }
}
