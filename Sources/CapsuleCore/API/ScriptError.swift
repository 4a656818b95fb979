/// An error a registered native function throws to raise a script error. The script sees a
/// catchable error whose message is `message`.
public struct ScriptError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The message scripts see (`err.message`, `str(err)`).
    public var message: String
    /// Creates an error with this message.
    public init(_ message: String) { self.message = message }
    /// The message itself.
    public var description: String { message }
}

/// Why `VM.evaluate` or `VM.call` did not produce a value.
public enum ScriptFailure: Error, Sendable, Equatable {
    /// The source did not compile; `diagnostics` holds each rendered error with its caret.
    case compileError(diagnostics: String)
    /// An uncaught runtime error (or a value that could not be converted). `message` is the
    /// error's message; `report` is `"file:line:col: error: message\n"`, the source line and
    /// a caret, then `"  at f (file:line:col)\n…"` (`"error: message\n…"` without a position).
    case runtimeError(message: String, report: String)
    /// The script called `exit(code)`. It ended the evaluation or call (no `try`/`catch`
    /// stops it, and from a host function's nested `call` it goes on ending the run that
    /// called the host function); the VM stays usable, and the process is not ended: what
    /// to do with the code is the embedder's choice. Output printed before it was delivered.
    case exited(code: Int32)

    /// The diagnostics of a compile error, the message of a runtime error, or `exit(CODE)`.
    public var message: String {
        switch self {
        case .compileError(let d): return d
        case .runtimeError(let m, _): return m
        case .exited(let code): return "exit(\(code))"
        }
    }
}
