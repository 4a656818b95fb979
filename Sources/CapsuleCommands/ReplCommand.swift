import ArgumentParser
import CapsuleHost
import Glibc

/// `capsule repl`: the interactive prompt.
struct ReplCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repl",
        abstract: "Start an interactive session.",
        discussion: """
            Type code at the `> ` prompt; an expression's value is printed, and declarations \
            stay visible to later entries. An entry continues on `. ` lines while a bracket, \
            string or comment is open. Errors are printed and the session goes on. Leave with \
            Ctrl-D or :quit. History is kept in ~/.capsule_history.

            When standard input is not a terminal, lines are read without prompts or \
            editing, so a session can be piped in:
              printf 'let x = 20\\nx * 2 + 2\\n' | capsule repl
            """
    )

    @OptionGroup var options: VMOptions

    func run() throws {
        let vm = try options.makeVM()
        var repl = REPL(evaluate: { vm.evaluateREPL($0) })
        let console = Console.standard
        repl.outputFailed = console.outputFailed
        if isatty(STDIN_FILENO) != 0 {
            var reader = ReadlineReader(historyPath: ReadlineReader.defaultHistoryPath())
            // After Ctrl-D, end the prompt's line so the shell's prompt starts on its own.
            let end = repl.run(reader: &reader, console: console)
            if end == .endOfInput { console.out("\n") }
            if case .exited(let code) = end, code != 0 { throw ExitCode(code) }
        } else {
            var reader = StandardInputReader()
            if case .exited(let code) = repl.run(reader: &reader, console: console), code != 0 { throw ExitCode(code) }
        }
    }
}
