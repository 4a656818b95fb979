/// A compile-time problem with a position. Rendered as
/// `file:line:col: error: message`, then the source line and a caret under the column.
public struct Diagnostic: Sendable, Equatable, Error {
    public enum Severity: String, Sendable { case error, warning, note }
    public var severity: Severity
    public var message: String
    public var location: SourceLocation
    public var sourceName: String
    /// Notes that belong to this diagnostic (e.g. where an unclosed `{` was opened), shown
    /// right after it and kept with it when diagnostics are sorted.
    public var notes: [Diagnostic]

    public init(_ severity: Severity = .error, _ message: String, at location: SourceLocation, in sourceName: String,
                notes: [Diagnostic] = []) {
        self.severity = severity; self.message = message; self.location = location; self.sourceName = sourceName
        self.notes = notes
    }

    /// The three-line rendering described above (no trailing newline). The file name, the
    /// message and the source line are made safe for a terminal (`TerminalText`); a long
    /// line is shown as an excerpt around the column. Finds the line in O(size of source):
    /// render many with `render(_:source:limit:)`, which finds the lines once.
    public func render(source: Source?) -> String {
        render(lines: source.map { LineTable($0) })
    }

    /// The rendering, with the source line (if any) taken from `lines`.
    func render(lines: LineTable?) -> String {
        let name = TerminalText.safe(sourceName), shownMessage = TerminalText.safe(message)
        var out = "\(name):\(location.line):\(location.column): \(severity.rawValue): \(shownMessage)"
        guard let lines, location.line > 0 else { return out + notes.map { "\n" + $0.render(lines: lines) }.joined() }
        let (text, column) = lines.excerpt(line: Int(location.line), column: Int(location.column), offset: Int(location.offset))
        // Tabs are kept so the caret lines up in a terminal.
        var caret = ""
        var col = 1
        for scalar in text.unicodeScalars {
            if col >= column { break }
            caret.append(scalar == "\t" ? "\t" : " ")
            col += 1
        }
        out += "\n    \(TerminalText.safe(text, multiline: true))\n    \(caret)^"
        for note in notes { out += "\n" + note.render(lines: lines) }
        return out
    }

    /// Only the source line and the caret of this diagnostic's position (the two lines after
    /// the first of `render`), or nil without a source or a position. Runtime errors show
    /// their position this way under their own first line.
    public func excerpt(source: Source?) -> String? {
        var copy = self
        copy.notes = []
        let rendered = copy.render(source: source)
        guard let newline = rendered.firstIndex(of: "\n") else { return nil }
        return String(rendered[rendered.index(after: newline)...])
    }

    /// Most diagnostics `render(_:source:)` shows; the rest are counted on one last line.
    public static let shownLimit = 100

    /// `diagnostics` rendered against `source` in the order given, each followed by a
    /// newline; past `limit`, one line `too many errors (N more not shown)`. Linear in the
    /// size of the source plus the number of diagnostics shown: the source's lines are
    /// found once, not per diagnostic, and each shows at most an excerpt of its line.
    public static func render(_ diagnostics: [Diagnostic], source: Source?, limit: Int = shownLimit) -> String {
        let shown = diagnostics.prefix(max(0, limit))
        let lines = source.map { LineTable($0) }
        var out = ""
        for diagnostic in shown {
            out += diagnostic.render(lines: lines)
            out += "\n"
        }
        if diagnostics.count > shown.count {
            out += "too many errors (\(diagnostics.count - shown.count) more not shown)\n"
        }
        return out
    }
}

/// Where each line of a source starts, found once for rendering many diagnostics.
struct LineTable {
    let utf8: [UInt8]
    /// Byte offset of the start of each line; line N starts at `starts[N - 1]`.
    let starts: [Int]
    /// Longest line shown whole, in bytes; longer ones are cut to half this much either
    /// side of the column, with `…` where text was left out.
    static let window = 1024

    init(_ source: Source) {
        utf8 = Array(source.text.utf8)
        // A UTF-8 byte order mark is not part of line 1 (the lexer skips it; columns do not count it).
        var starts = [utf8.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0]
        for (i, byte) in utf8.enumerated() where byte == UInt8(ascii: "\n") { starts.append(i + 1) }
        self.starts = starts
    }

    /// Line `line` (1-based) without its terminator, or the part of it around byte
    /// `offset` when it is long, and the 1-based `column` within that text.
    func excerpt(line: Int, column: Int, offset: Int) -> (text: String, column: Int) {
        guard line >= 1, line <= starts.count else { return ("", column) }
        let start = starts[line - 1]
        var end = line < starts.count ? starts[line] - 1 : utf8.count
        if end > start && utf8[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        if end - start <= Self.window {
            return (String(decoding: utf8[start..<end], as: UTF8.self), column)
        }
        // A long line: the window around the offset (when the offset lies on this line;
        // otherwise around where the column says), cut at scalar boundaries.
        var at = offset
        if at < start || at > end {
            at = start
            var col = 1
            while at < end && col < column { at += 1; while at < end && utf8[at] & 0xC0 == 0x80 { at += 1 }; col += 1 }
        }
        var from = max(start, at - Self.window / 2), to = min(end, at + Self.window / 2)
        while from > start && utf8[from] & 0xC0 == 0x80 { from -= 1 }
        while to < end && utf8[to] & 0xC0 == 0x80 { to += 1 }
        var text = from > start ? "…" : ""
        // The caret's column: the scalars between `from` and `at`, plus the ellipsis.
        var shownColumn = from > start ? 2 : 1
        for i in from..<at where utf8[i] & 0xC0 != 0x80 { shownColumn += 1 }
        text += String(decoding: utf8[from..<to], as: UTF8.self)
        if to < end { text += "…" }
        return (text, shownColumn)
    }
}
