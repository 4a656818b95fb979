/// How a run of source code ended.
public enum RunOutcome: Sendable, Equatable {
    /// Finished normally; `value` is the REPL's expression value rendered by `str`, if any.
    case ok(value: String?)
    /// The code did not compile. `diagnostics` holds each error rendered with its caret,
    /// one after another, each ending in a newline. Also a run stopped by an uncaught
    /// `cannot compile module …` error (an imported module did not compile): then
    /// `diagnostics` is that error's report, with the module's diagnostics and the trace.
    case compileError(diagnostics: String)
    /// An uncaught error: `"file:line:col: error: message\n    source line\n    ^\n  at f (file:line:col)\n…"`
    /// (or `"error: message\n…"` when it has no position in a script), ending in a newline.
    case runtimeError(report: String)
    /// A file could not be read.
    case ioError(message: String)
    /// The script called `exit(code)`.
    case exited(code: Int32)

    /// The process exit code this outcome maps to: 0, 65, 70 or 74, or the code given to `exit`.
    public var exitCode: Int32 {
        switch self {
        case .ok: return 0
        case .compileError: return 65
        case .runtimeError: return 70
        case .ioError: return 74
        case .exited(let code): return code
        }
    }

    /// What goes to standard error for this outcome ("" on success).
    public var errorText: String {
        switch self {
        case .ok, .exited: return ""
        case .compileError(let d): return d
        case .runtimeError(let r): return r
        case .ioError(let m): return "error: \(m)\n"
        }
    }
}
