import CapsuleHost

/// The read-eval-print loop, independent of terminals and VMs: it reads lines from a
/// `LineReader`, gathers them until an entry is complete, hands the entry to `evaluate`
/// and writes the value or the error.
struct REPL {
    /// The prompt for the first line of an entry.
    static let prompt = "> "
    /// The prompt for each further line of an unfinished entry.
    static let continuationPrompt = ". "
    /// Printed when an interactive session starts.
    static let banner = "Capsule REPL. Type :help for help, :quit or Ctrl-D to leave.\n"
    /// Printed for `:help`: the commands, then the keys.
    static let help = """
        Enter Capsule code; an expression's value is printed. An entry continues over lines \
        while a bracket, string or comment is open. Functions may call functions that a later \
        entry defines.
        Commands (at the start of an entry):
          :help   show this text
          :quit   leave (or press Ctrl-D)
        Keys:
          Tab     complete a name, a module's member or a value's method (math.sq -> math.sqrt)
          Ctrl-C  stop the running entry (the session keeps its variables); at the prompt, \
        clear the line
          Ctrl-D  leave, at an empty prompt

        """

    /// Runs one complete entry.
    var evaluate: (String) -> RunOutcome
    /// Whether the text read so far needs more lines.
    var isIncomplete: (String) -> Bool = inputIsIncomplete

    /// How a session ended.
    enum End: Equatable {
        case endOfInput, quit, outputFailed
        /// An entry called `exit(code)`.
        case exited(Int32)
    }

    /// True when output can no longer be written: the session then ends.
    var outputFailed: () -> Bool = { false }

    /// Reads and evaluates entries until end of input or `:quit`. Input still pending at end
    /// of input is evaluated, so its error is shown.
    @discardableResult
    func run(reader: inout some LineReader, console: Console) -> End {
        var pending: [String] = []
        reading: while true {
            let line: String
            switch reader.read(prompt: pending.isEmpty ? Self.prompt : Self.continuationPrompt) {
            case .line(let text): line = text
            // Ctrl-C at the prompt drops the entry being typed, all of its lines.
            case .interrupted: pending = []; continue reading
            case .endOfInput: break reading
            }
            if pending.isEmpty {
                let command = line.trimmingWhitespace
                if command.isEmpty { continue }
                if command.hasPrefix(":") {
                    if command == ":quit" { return .quit }
                    if command == ":help" { console.out(Self.help) } else {
                        console.err("error: unknown command '\(command)' (try :help)\n")
                    }
                    continue
                }
            }
            pending.append(line)
            let entry = pending.joined(separator: "\n")
            if isIncomplete(entry) { continue }
            pending = []
            let outcome = evaluate(entry)
            if case .exited(let code) = outcome { return .exited(code) }
            report(outcome, console: console)
            if outputFailed() { return .outputFailed }
        }
        if !pending.isEmpty {
            let outcome = evaluate(pending.joined(separator: "\n"))
            if case .exited(let code) = outcome { return .exited(code) }
            report(outcome, console: console)
            if outputFailed() { return .outputFailed }
        }
        return .endOfInput
    }

    private func report(_ outcome: RunOutcome, console: Console) {
        if case .ok(let value?) = outcome { console.out(value + "\n") }
        let error = outcome.errorText
        if !error.isEmpty { console.err(error) }
    }

    /// Runs `lines` as input and returns everything a terminal would show: each prompt with
    /// the line typed after it, values and errors, in order.
    func transcript(_ lines: [String]) -> String {
        final class Log { var text = "" }
        struct Scripted: LineReader {
            var lines: IndexingIterator<[String]>
            let log: Log
            mutating func readLine(prompt: String) -> String? {
                guard let line = lines.next() else { log.text += prompt; return nil }
                log.text += prompt + line + "\n"
                return line
            }
        }
        let log = Log()
        var reader = Scripted(lines: lines.makeIterator(), log: log)
        run(reader: &reader, console: Console(out: { log.text += $0 }, err: { log.text += $0 }))
        return log.text
    }
}

extension String {
    /// The text without leading and trailing whitespace.
    var trimmingWhitespace: Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map(index(after:)) ?? start
        return self[start..<end]
    }
}
