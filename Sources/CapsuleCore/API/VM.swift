import CapsuleSyntax

/// A Capsule virtual machine: a heap, globals, loaded modules and an interpreter.
/// One VM runs one script at a time; create several for isolation. Not thread-safe: call it
/// from one thread at a time (it runs the interpreter on its own big-stack thread).
public final class VM {
    public let configuration: Configuration

    /// Creates a VM with the given settings.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Compiles and runs `source`. `name` is used in messages (usually the path as the user
    /// typed it); `path`, when given, is the file's real path, used to resolve `import`s
    /// relative to the script's directory.
    public func run(source: String, name: String, path: String? = nil) -> RunOutcome {
        fatalError("not yet")
    }

    /// Reads and runs a file. Missing or unreadable files give `.ioError`.
    public func runFile(path: String, name: String? = nil) -> RunOutcome {
        fatalError("not yet")
    }

    /// Compiles without running and returns every diagnostic (empty when the code compiles).
    public func check(source: String, name: String) -> [Diagnostic] {
        fatalError("not yet")
    }

    /// Compiles and returns the readable bytecode listing, or the rendered diagnostics.
    public func disassemble(source: String, name: String) -> Result<String, CompileFailure> {
        fatalError("not yet")
    }

    /// Runs one REPL entry in a persistent top-level scope: declarations stay visible to later
    /// entries, and a lone expression's value comes back in `.ok(value:)`.
    public func evaluateREPL(_ input: String) -> RunOutcome {
        fatalError("not yet")
    }
}

/// Rendered compile errors, for APIs that return `Result`.
public struct CompileFailure: Error, Sendable, Equatable {
    public let diagnostics: [Diagnostic]
    public let rendered: String
    public init(diagnostics: [Diagnostic], rendered: String) { self.diagnostics = diagnostics; self.rendered = rendered }
}
