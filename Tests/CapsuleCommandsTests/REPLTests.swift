import CapsuleHost
@testable import CapsuleCommands
import Testing

extension CLITests {
    @Suite struct REPLSession {
        /// Echoes each entry back as its value; `boom` is a runtime error and `nothing`
        /// has no value. Remembers what it was given.
        final class FakeVM {
            var entries: [String] = []
            func evaluate(_ entry: String) -> RunOutcome {
                entries.append(entry)
                switch entry {
                case "boom": return .runtimeError(report: "error: boom\n")
                case "nothing": return .ok(value: nil)
                default: return .ok(value: "=" + entry.replacingOccurrences(of: "\n", with: "⏎"))
                }
            }
        }

        let vm = FakeVM()
        var repl: REPL { REPL(evaluate: vm.evaluate) }

        @Test func printsValuesAndErrorsAndKeepsGoing() {
            #expect(repl.transcript(["1 + 2", "boom", "nothing", "", "x"]) == """
                > 1 + 2
                =1 + 2
                > boom
                error: boom
                > nothing
                > \n> x
                =x
                > 
                """)
        }

        @Test func gathersContinuationLinesUntilBalanced() {
            #expect(repl.transcript(["fn f() {", "  return [1,", "2]", "}", "f()"]) == """
                > fn f() {
                .   return [1,
                . 2]
                . }
                =fn f() {⏎  return [1,⏎2]⏎}
                > f()
                =f()
                > 
                """)
        }

        @Test func quitStopsReading() {
            var lines = ["a", ":quit", "b"].makeIterator()
            struct Reader: LineReader {
                var next: () -> String?
                mutating func readLine(prompt: String) -> String? { next() }
            }
            var reader = Reader { lines.next() }
            let captured = CapturedConsole()
            #expect(repl.run(reader: &reader, console: captured.console) == .quit)
            #expect(vm.entries == ["a"])
            #expect(captured.out == "=a\n")
        }

        @Test func pendingInputIsEvaluatedAtEndOfInput() {
            #expect(repl.transcript(["print(1,"]).hasSuffix(". =print(1,\n"))
            #expect(vm.entries == ["print(1,"])
        }

        @Test func ctrlCAtThePromptDropsTheEntryBeingTyped() {
            struct Reader: LineReader {
                var inputs: [LineInput]
                var prompts: [String] = []
                mutating func readLine(prompt: String) -> String? { nil }
                mutating func read(prompt: String) -> LineInput {
                    prompts.append(prompt)
                    return inputs.isEmpty ? .endOfInput : inputs.removeFirst()
                }
            }
            var reader = Reader(inputs: [.line("fn f() {"), .line("  1"), .interrupted, .interrupted, .line("x")])
            let captured = CapturedConsole()
            #expect(repl.run(reader: &reader, console: captured.console) == .endOfInput)
            #expect(vm.entries == ["x"])
            #expect(reader.prompts == ["> ", ". ", ". ", "> ", "> ", "> "])
            #expect(captured.out == "=x\n" && captured.err.isEmpty)
        }

        @Test func theBannerNamesHelpAndHelpListsCommandsAndKeys() {
            #expect(REPL.banner.contains(":help"))
            for item in [":help", ":quit", "Tab", "Ctrl-C", "Ctrl-D"] { #expect(REPL.help.contains(item), "\(item)") }
        }

        @Test func commandsAreOnlyRecognisedAtTheStartOfAnEntry() {
            let transcript = repl.transcript([":help", ":nope", "[", ":quit", "]"])
            #expect(transcript.contains(":quit   leave"))
            #expect(transcript.contains("error: unknown command ':nope' (try :help)\n"))
            #expect(vm.entries == ["[\n:quit\n]"])
        }
    }

    @Suite struct InputCompleteness {
        @Test(arguments: [
            "1 + 2", "", "f()", "let s = \"a(b\"", "x // (", "/* ( */ 1", "/* /* */ */ 1",
            "\"${ f(\"}\") }\"", "\"\\\"\"", ")", "(]", "{ \"a\" }",
        ])
        func complete(_ text: String) { #expect(!inputIsIncomplete(text)) }

        @Test(arguments: [
            "fn f() {", "[1,", "(1 +", "\"open", "\"a ${ (", "/* open", "/* /* */", "{ \"}\"",
            "\"${ \"}\" ", "fn f() {\n  if x {\n  }",
            // The lexer's continuation rules: a line may end after an operator, `,` or `=`.
            "let x = 1 +", "print(1,", "let y =",
        ])
        func incomplete(_ text: String) { #expect(inputIsIncomplete(text)) }
    }
}

extension CLITests {
    @Test func historyLivesInHome() {
        #expect(ReadlineReader.defaultHistoryPath(environment: ["HOME": "/home/ada"]) == "/home/ada/.capsule_history")
        #expect(ReadlineReader.defaultHistoryPath(environment: [:]).hasSuffix("/.capsule_history"))
    }
}
