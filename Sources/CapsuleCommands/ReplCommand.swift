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
            Ctrl-D or :quit. History is kept in ~/.capsule_history. Tab completes names, \
            module members and methods. Ctrl-C stops the running entry and keeps the session; \
            at the prompt it clears the line. A function may call one a later entry defines.

            When standard input is not a terminal, lines are read without prompts or \
            editing, so a session can be piped in:
              printf 'let x = 20\\nx * 2 + 2\\n' | capsule repl
            """
    )

    @OptionGroup var options: VMOptions

    func run() throws {
        // Before the VM's thread starts: it inherits the signal mask (ReplInterrupts).
        ReplInterrupts.unblockSignals()
        let vm = try options.makeVM()
        let console = Console.standard
        let interactive = isatty(STDIN_FILENO) != 0
        let interrupts = ReplInterrupts.start(vm: vm, atPrompt: interactive ? .clearLine : .endSession)
        var repl = REPL(evaluate: { entry in
            let outcome = interrupts.map { $0.whileRunning { vm.evaluateREPL(entry) } } ?? vm.evaluateREPL(entry)
            // The terminal echoed `^C` where the cursor was: the error starts on a line of its own.
            if interactive, case .runtimeError(let report) = outcome, report.hasPrefix("error: interrupted\n") {
                return .runtimeError(report: "\n" + report)
            }
            return outcome
        })
        repl.outputFailed = console.outputFailed
        if interactive {
            console.out(REPL.banner)
            var reader = ReadlineReader(historyPath: ReadlineReader.defaultHistoryPath(), interrupts: interrupts,
                                        completions: { vm.replCompletions(for: $0) })
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
