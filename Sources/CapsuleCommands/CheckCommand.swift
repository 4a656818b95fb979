import ArgumentParser
import CapsuleHost
import CapsuleSyntax

/// `capsule check FILE`: compiles without running.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Compile a script without running it and report every error.",
        discussion: """
            Prints nothing and exits with 0 when the script compiles. Otherwise prints each \
            diagnostic as `file:line:col: error: message` with the source line and a caret, \
            and exits with 65 (74 if the file cannot be read).

            Example:
              capsule check hello.cap
            """
    )

    @Argument(help: "The script to check.")
    var file: String

    func run() throws {
        let text: String
        do { text = try readTextFile(atPath: file) } catch { return try finish(error.outcome, console: .standard) }
        let diagnostics = makeVirtualMachine().check(source: text, name: file)
        try finish(Self.outcome(diagnostics, source: Source(name: file, text: text)), console: .standard)
    }

    /// `.ok` for no diagnostics, else a compile error holding each rendering plus "\n".
    static func outcome(_ diagnostics: [Diagnostic], source: Source) -> RunOutcome {
        if diagnostics.isEmpty { return .ok(value: nil) }
        let rendered = Diagnostic.render(diagnostics, source: source)
        return .compileError(diagnostics: rendered)
    }
}
