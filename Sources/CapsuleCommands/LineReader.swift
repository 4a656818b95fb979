import CReadline
import FoundationEssentials
import Glibc

/// A source of input lines for the REPL.
protocol LineReader {
    /// The next line without its newline, after showing `prompt` if the reader shows
    /// prompts; nil at end of input.
    mutating func readLine(prompt: String) -> String?
}

/// Lines from standard input with no prompts and no editing: the REPL's reader when stdin
/// is not a terminal, so `echo '1 + 2' | capsule repl` works.
struct StandardInputReader: LineReader {
    mutating func readLine(prompt: String) -> String? {
        Swift.readLine(strippingNewline: true)
    }
}

/// Lines from GNU readline: editing, and history kept in a file across sessions.
struct ReadlineReader: LineReader {
    /// Most lines kept in the history file.
    static let historyLimit: Int32 = 1000

    /// Where history is read from and written to, or nil to keep none.
    let historyPath: String?

    /// A reader that loads `historyPath` (it may not exist yet).
    init(historyPath: String?) {
        self.historyPath = historyPath
        stifle_history(Self.historyLimit)
        if let historyPath { read_history(historyPath) }
    }

    /// `~/.capsule_history`, where `~` is `$HOME` if set, else the account's home directory.
    static func defaultHistoryPath(environment: [String: String] = environmentVariables("HOME")) -> String {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.path
        return URL(fileURLWithPath: home).appendingPathComponent(".capsule_history").path
    }

    mutating func readLine(prompt: String) -> String? {
        guard let raw = readline(prompt) else { return nil }
        defer { free(raw) }
        let line = String(cString: raw)
        if !line.allSatisfy(\.isWhitespace) {
            add_history(raw)
            // Written on every line so an interrupted session keeps its history.
            if let historyPath { write_history(historyPath) }
        }
        return line
    }
}
