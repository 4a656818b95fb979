/// A position in a source file. `line` and `column` are 1-based; `column` counts Unicode
/// scalars from the start of the line; `offset` is the UTF-8 byte offset in the file.
public struct SourceLocation: Sendable, Equatable, Hashable {
    public var line: Int32
    public var column: Int32
    public var offset: Int32
    public init(line: Int32, column: Int32, offset: Int32) {
        self.line = line; self.column = column; self.offset = offset
    }
    public static let none = SourceLocation(line: 0, column: 0, offset: 0)
}

/// A source file: the name used in messages (a path as the user gave it, or `<repl>`) and text.
public struct Source: Sendable {
    public let name: String
    public let text: String
    public init(name: String, text: String) { self.name = name; self.text = text }

    /// The text of 1-based line `line`, without its line terminator ("" if out of range).
    public func line(_ line: Int) -> String {
        guard line >= 1 else { return "" }
        var current = 1
        var start = text.utf8.startIndex
        var i = start
        let utf8 = text.utf8
        while i < utf8.endIndex {
            if utf8[i] == UInt8(ascii: "\n") {
                if current == line { break }
                current += 1
                start = utf8.index(after: i)
            }
            i = utf8.index(after: i)
        }
        guard current == line else { return "" }
        var s = String(decoding: utf8[start..<i], as: UTF8.self)
        if s.hasSuffix("\r") { s.removeLast() }
        // A byte order mark is not part of the first line (the lexer does not count it).
        if line == 1 && s.unicodeScalars.first == "\u{FEFF}" { s.unicodeScalars.removeFirst() }
        return s
    }
}
