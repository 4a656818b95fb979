import CReadline
import FoundationEssentials
import Glibc
import Synchronization

/// What a `LineReader` read.
enum LineInput: Equatable {
    case line(String)
    /// Ctrl-C at the prompt: the line typed so far is dropped.
    case interrupted
    case endOfInput
}

/// A source of input lines for the REPL.
protocol LineReader {
    /// The next line without its newline, after showing `prompt` if the reader shows
    /// prompts; nil at end of input.
    mutating func readLine(prompt: String) -> String?
    /// The next line, a Ctrl-C, or the end of input. By default, `readLine`'s line or end.
    mutating func read(prompt: String) -> LineInput
}

extension LineReader {
    mutating func read(prompt: String) -> LineInput {
        readLine(prompt: prompt).map(LineInput.line) ?? .endOfInput
    }
}

/// Lines from standard input with no prompts and no editing: the REPL's reader when stdin
/// is not a terminal, so `echo '1 + 2' | capsule repl` works.
struct StandardInputReader: LineReader {
    mutating func readLine(prompt: String) -> String? {
        Swift.readLine(strippingNewline: true)
    }
}

/// Lines from GNU readline: editing, history kept in a file across sessions, Tab completion,
/// and Ctrl-C that clears the line. Readline runs in callback mode, fed one character at a
/// time while this reader waits in `poll` for standard input or a Ctrl-C (`interruptFD`,
/// readable once per SIGINT: see ReplInterrupts), the way Python's readline module does.
struct ReadlineReader: LineReader {
    /// Most lines kept in the history file.
    static let historyLimit: Int32 = 1000

    /// Where history is read from and written to, or nil to keep none.
    let historyPath: String?
    /// Readable when Ctrl-C was pressed at the prompt; nil: Ctrl-C is not watched.
    let interrupts: ReplInterrupts?

    /// A reader that loads `historyPath` (it may not exist yet) and completes with
    /// `completions` (the whole word before the cursor → whole words).
    init(historyPath: String?, interrupts: ReplInterrupts?, completions: @escaping @Sendable (String) -> [String]) {
        self.historyPath = historyPath
        self.interrupts = interrupts
        stifle_history(Self.historyLimit)
        if let historyPath { read_history(historyPath) }
        completion.withLock { $0.provider = completions }
        capsule_rl_setup { text, _, _ in
            guard let text else { return nil }
            return capsule_rl_matches(text) { text, state in
                // readline asks with state 0 first, then for each next match until NULL.
                guard let text else { return nil }
                return completion.withLock { c -> UnsafeMutablePointer<CChar>? in
                    if state == 0 {
                        c.matches = c.provider(String(cString: text))
                        c.next = 0
                    }
                    guard c.next < c.matches.count else { return nil }
                    defer { c.next += 1 }
                    // readline frees each match.
                    return strdup(c.matches[c.next])
                }
            }
        }
    }

    /// `~/.capsule_history`, where `~` is `$HOME` if set, else the account's home directory.
    static func defaultHistoryPath(environment: [String: String] = environmentVariables("HOME")) -> String {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.path
        return URL(fileURLWithPath: home).appendingPathComponent(".capsule_history").path
    }

    mutating func readLine(prompt: String) -> String? {
        if case .line(let line) = read(prompt: prompt) { return line }
        return nil
    }

    mutating func read(prompt: String) -> LineInput {
        interrupts?.drainPrompt()
        delivered.withLock { $0 = nil }
        rl_callback_handler_install(prompt) { raw in
            // The whole line (readline allocated it) or NULL at Ctrl-D on an empty line.
            let input = raw.map { p -> LineInput in
                defer { free(p) }
                return .line(String(cString: p))
            } ?? .endOfInput
            delivered.withLock { $0 = input }
            // Leaves the terminal as it was; the next read installs the handler again.
            rl_callback_handler_remove()
        }
        var fds = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)]
        if let interrupts { fds.append(pollfd(fd: interrupts.promptFD, events: Int16(POLLIN), revents: 0)) }
        while true {
            let r = poll(&fds, nfds_t(fds.count), -1)
            if r < 0 {
                if errno == EINTR { continue }
                rl_callback_handler_remove()
                return .endOfInput
            }
            if fds.count > 1 && fds[1].revents & Int16(POLLIN) != 0 {
                interrupts?.drainPrompt()
                capsule_rl_cancel_line()
                return .interrupted
            }
            guard fds[0].revents != 0 else { continue }
            rl_callback_read_char()
            guard let input = delivered.withLock({ $0 }) else { continue }
            if case .line(let line) = input, !line.allSatisfy(\.isWhitespace) {
                add_history(line)
                // Written on every line so an interrupted session keeps its history.
                if let historyPath { write_history(historyPath) }
            }
            return input
        }
    }
}

/// What readline's line callback handed over; a C callback cannot carry context. Touched
/// only by the thread reading lines.
private let delivered = Mutex<LineInput?>(nil)

/// The completion source and the matches of the word being completed, for readline's
/// generator callback (called repeatedly, with `state` 0 first).
private struct Completion {
    var provider: @Sendable (String) -> [String] = { _ in [] }
    var matches: [String] = []
    var next = 0
}

private let completion = Mutex(Completion())
