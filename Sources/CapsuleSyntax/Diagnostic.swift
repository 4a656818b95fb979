/// A compile-time problem with a position. Rendered as
/// `file:line:col: error: message`, then the source line and a caret under the column.
public struct Diagnostic: Sendable, Equatable, Error {
    public enum Severity: String, Sendable { case error, warning, note }
    public var severity: Severity
    public var message: String
    public var location: SourceLocation
    public var sourceName: String

    public init(_ severity: Severity = .error, _ message: String, at location: SourceLocation, in sourceName: String) {
        self.severity = severity; self.message = message; self.location = location; self.sourceName = sourceName
    }

    /// The three-line rendering described above (no trailing newline).
    public func render(source: Source?) -> String {
        var out = "\(sourceName):\(location.line):\(location.column): \(severity.rawValue): \(message)"
        if let source, location.line > 0 {
            let text = source.line(Int(location.line))
            // Tabs are kept so the caret lines up in a terminal.
            var caret = ""
            var col = 1
            for scalar in text.unicodeScalars {
                if col >= Int(location.column) { break }
                caret.append(scalar == "\t" ? "\t" : " ")
                col += 1
            }
            out += "\n    \(text)\n    \(caret)^"
        }
        return out
    }
}
