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

    /// The diagnostics of a compile error, or the message of a runtime error.
    public var message: String {
        switch self {
        case .compileError(let d): return d
        case .runtimeError(let m, _): return m
        }
    }
}
