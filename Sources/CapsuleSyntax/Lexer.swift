/// Turns Capsule source text into `Token`s.
///
/// The lexer works on the UTF-8 bytes of the text. It never stops at an error: it records a
/// `Diagnostic`, skips the offending input and carries on, so one run reports every lexical
/// problem in the file. The token list always ends with an `.eof` token.
public struct Lexer {
    /// The output of `Lexer.tokenize(_:)`.
    public struct Result: Sendable {
        /// The tokens, ending with `.eof`.
        public var tokens: [Token]
        /// Lexical errors in source order.
        public var diagnostics: [Diagnostic]
        /// True when the text ended inside a string literal or a block comment.
        public var endsInsideLiteralOrComment: Bool
    }

    /// Splits `source` into tokens.
    public static func tokenize(_ source: Source) -> Result {
        var lexer = Lexer(bytes: Array(source.text.utf8), sourceName: source.name)
        lexer.run()
        return Result(tokens: lexer.tokens, diagnostics: lexer.diagnostics,
                      endsInsideLiteralOrComment: lexer.endsInsideLiteralOrComment)
    }

    /// An interpolated string whose `${` is open: `}` at brace depth 0 resumes the string.
    struct OpenInterpolation {
        var braceDepth: Int
        let stringStart: SourceLocation
    }

    let bytes: [UInt8]
    let sourceName: String
    var pos = 0
    var line = 1
    var lineStart = 0
    /// A byte offset on the current line whose column is known (columns count scalars, so
    /// they are computed incrementally to stay linear on very long lines).
    var columnCursor = 0
    var columnAtCursor = 1
    var tokens: [Token] = []
    var diagnostics: [Diagnostic] = []
    var interpolations: [OpenInterpolation] = []
    var endsInsideLiteralOrComment = false
    /// End offset of the last unexpected character, to report a run of them only once.
    var lastUnexpectedEnd = -1

    init(bytes: [UInt8], sourceName: String) {
        self.bytes = bytes
        self.sourceName = sourceName
        tokens.reserveCapacity(bytes.count / 4 + 16)
    }

    mutating func run() {
        skipFileHeader()
        while true {
            skipTrivia()
            guard pos < bytes.count else { break }
            scanToken()
        }
        for open in interpolations {
            report("unterminated string", at: open.stringStart)
            endsInsideLiteralOrComment = true
        }
        let end = location(at: bytes.count)
        tokens.append(Token(kind: .eof, loc: end, length: 0))
    }

    /// A UTF-8 byte order mark at the start of the file is skipped without counting as a
    /// column, and a first line starting with `#!` (a shebang) is skipped like a comment, so
    /// `#!/usr/bin/env -S capsule run` scripts run as executables.
    mutating func skipFileHeader() {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            pos = 3
            lineStart = 3
            columnCursor = 3
        }
        if bytes.count >= pos + 2 && bytes[pos] == UInt8(ascii: "#") && bytes[pos + 1] == UInt8(ascii: "!") {
            while pos < bytes.count && bytes[pos] != UInt8(ascii: "\n") { pos += 1 }
        }
    }

    // MARK: - Positions and output

    /// The location of byte `offset`, which must lie on the current line at or after
    /// `lineStart` (callers save locations before crossing a line break).
    mutating func location(at offset: Int) -> SourceLocation {
        if offset < columnCursor {
            columnCursor = lineStart
            columnAtCursor = 1
        }
        while columnCursor < offset && columnCursor < bytes.count {
            if bytes[columnCursor] & 0xC0 != 0x80 { columnAtCursor += 1 }
            columnCursor += 1
        }
        return SourceLocation(line: clamped(line), column: clamped(columnAtCursor), offset: clamped(offset))
    }

    /// Records that a line break was just consumed (`pos` is the first byte of the new line).
    mutating func startLine() {
        line += 1
        lineStart = pos
        columnCursor = pos
        columnAtCursor = 1
    }

    mutating func report(_ message: String, at loc: SourceLocation) {
        diagnostics.append(Diagnostic(.error, message, at: loc, in: sourceName))
    }

    mutating func emit(_ kind: TokenKind, from start: Int, at loc: SourceLocation, _ value: TokenValue = .none) {
        tokens.append(Token(kind: kind, loc: loc, length: clamped(pos - start), value: value))
    }

    func peek(_ ahead: Int = 0) -> UInt8 {
        let index = pos + ahead
        return index < bytes.count ? bytes[index] : 0
    }

    // MARK: - Trivia

    /// Skips spaces, comments and line breaks, emitting one `.newline` per run of line breaks.
    mutating func skipTrivia() {
        while pos < bytes.count {
            switch bytes[pos] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                pos += 1
            case UInt8(ascii: "\n"):
                emitNewline()
                pos += 1
                startLine()
            case UInt8(ascii: "/") where peek(1) == UInt8(ascii: "/"):
                while pos < bytes.count && bytes[pos] != UInt8(ascii: "\n") { pos += 1 }
            case UInt8(ascii: "/") where peek(1) == UInt8(ascii: "*"):
                skipBlockComment()
            default:
                return
            }
        }
    }

    mutating func emitNewline() {
        guard let last = tokens.last, last.kind != .newline else { return }
        emit(.newline, from: pos, at: location(at: pos))
        tokens[tokens.count - 1].length = 1
    }

    /// Skips a `/* … */` comment; comments nest. A comment spanning lines ends a statement.
    mutating func skipBlockComment() {
        let start = location(at: pos)
        pos += 2
        var depth = 1
        while pos < bytes.count {
            let byte = bytes[pos]
            if byte == UInt8(ascii: "/") && peek(1) == UInt8(ascii: "*") {
                depth += 1
                pos += 2
            } else if byte == UInt8(ascii: "*") && peek(1) == UInt8(ascii: "/") {
                depth -= 1
                pos += 2
                if depth == 0 { return }
            } else if byte == UInt8(ascii: "\n") {
                emitNewline()
                pos += 1
                startLine()
            } else {
                pos += 1
            }
        }
        report("unterminated block comment", at: start)
        endsInsideLiteralOrComment = true
    }

    // MARK: - Tokens

    mutating func scanToken() {
        let start = pos
        let loc = location(at: start)
        let byte = bytes[pos]
        if byte.isIdentifierStart {
            scanIdentifier(from: start, at: loc)
            return
        }
        if byte.isDecimalDigit {
            scanNumber(from: start, at: loc)
            return
        }
        pos += 1
        let kind: TokenKind
        switch byte {
        case UInt8(ascii: "\""):
            scanString(tokenStart: start, at: loc, stringStart: loc, isContinuation: false)
            return
        case UInt8(ascii: "+"): kind = pick(.plus, orIfEqual: .plusEqual)
        case UInt8(ascii: "-"): kind = pick(.minus, orIfEqual: .minusEqual)
        case UInt8(ascii: "*"): kind = pick(.star, orIfEqual: .starEqual)
        case UInt8(ascii: "/"): kind = pick(.slash, orIfEqual: .slashEqual)
        case UInt8(ascii: "%"): kind = pick(.percent, orIfEqual: .percentEqual)
        case UInt8(ascii: "&"): kind = pick(.ampersand, orIfEqual: .ampersandEqual)
        case UInt8(ascii: "|"): kind = pick(.pipe, orIfEqual: .pipeEqual)
        case UInt8(ascii: "^"): kind = pick(.caret, orIfEqual: .caretEqual)
        case UInt8(ascii: "~"): kind = .tilde
        case UInt8(ascii: "="): kind = pick(.equal, orIfEqual: .equalEqual)
        case UInt8(ascii: "<"):
            if peek() == UInt8(ascii: "<") {
                pos += 1
                kind = pick(.lessLess, orIfEqual: .lessLessEqual)
            } else {
                kind = pick(.less, orIfEqual: .lessEqual)
            }
        case UInt8(ascii: ">"):
            if peek() == UInt8(ascii: ">") {
                pos += 1
                kind = pick(.greaterGreater, orIfEqual: .greaterGreaterEqual)
            } else {
                kind = pick(.greater, orIfEqual: .greaterEqual)
            }
        case UInt8(ascii: "!") where peek() == UInt8(ascii: "="):
            pos += 1
            kind = .bangEqual
        case UInt8(ascii: "."):
            if peek() == UInt8(ascii: ".") {
                pos += 1
                if peek() == UInt8(ascii: ".") {
                    pos += 1
                    kind = .ellipsis
                } else {
                    kind = pick(.dotDot, orIfEqual: .dotDotEqual)
                }
            } else {
                kind = .dot
            }
        case UInt8(ascii: ","): kind = .comma
        case UInt8(ascii: ":"): kind = .colon
        case UInt8(ascii: ";"): kind = .semicolon
        case UInt8(ascii: "("): kind = .leftParen
        case UInt8(ascii: ")"): kind = .rightParen
        case UInt8(ascii: "["): kind = .leftBracket
        case UInt8(ascii: "]"): kind = .rightBracket
        case UInt8(ascii: "{"):
            if !interpolations.isEmpty { interpolations[interpolations.count - 1].braceDepth += 1 }
            kind = .leftBrace
        case UInt8(ascii: "}"):
            if let open = interpolations.last {
                if open.braceDepth == 0 {
                    interpolations.removeLast()
                    scanString(tokenStart: start, at: loc, stringStart: open.stringStart, isContinuation: true)
                    return
                }
                interpolations[interpolations.count - 1].braceDepth -= 1
            }
            kind = .rightBrace
        default:
            skipUnexpectedCharacter(from: start, at: loc)
            return
        }
        emit(kind, from: start, at: loc)
    }

    /// Consumes a following `=` if there is one.
    mutating func pick(_ plain: TokenKind, orIfEqual withEqual: TokenKind) -> TokenKind {
        guard peek() == UInt8(ascii: "=") else { return plain }
        pos += 1
        return withEqual
    }

    mutating func scanIdentifier(from start: Int, at loc: SourceLocation) {
        var onlyLowercase = true
        while pos < bytes.count && bytes[pos].isIdentifierContinue {
            onlyLowercase = onlyLowercase && bytes[pos] >= 0x61 // 'a'; '_' and digits are below
            pos += 1
        }
        let name = String(decoding: bytes[start..<pos], as: UTF8.self)
        // Keywords are 2 to 8 lowercase letters; most identifiers skip the hash lookup.
        if onlyLowercase && (2...8).contains(pos - start), let keyword = TokenKind.keywords[name] {
            emit(keyword, from: start, at: loc)
        } else {
            emit(.identifier, from: start, at: loc, .text(name))
        }
    }

    mutating func skipUnexpectedCharacter(from start: Int, at loc: SourceLocation) {
        pos = min(start + bytes[start].utf8SequenceLength, bytes.count)
        if start != lastUnexpectedEnd {
            let character = String(decoding: bytes[start..<pos], as: UTF8.self)
            report("unexpected character \(quoteCharacter(character))", at: loc)
        }
        lastUnexpectedEnd = pos
    }
}

/// `value` as an `Int32`, saturating (positions in files over 2 GiB stop growing, never trap).
func clamped(_ value: Int) -> Int32 {
    value < Int(Int32.max) ? Int32(truncatingIfNeeded: value) : Int32.max
}

/// `'x'` for a printable character, `U+0007` for anything else.
func quoteCharacter(_ character: String) -> String {
    guard let scalar = character.unicodeScalars.first else { return "end of input" }
    if scalar.value < 0x20 || scalar.value == 0x7F || scalar.properties.generalCategory == .format {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
    return "'\(character)'"
}

extension UInt8 {
    var isDecimalDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }
    var isIdentifierStart: Bool {
        (self | 0x20) >= UInt8(ascii: "a") && (self | 0x20) <= UInt8(ascii: "z") || self == UInt8(ascii: "_")
    }
    var isIdentifierContinue: Bool { isIdentifierStart || isDecimalDigit }

    /// The number of bytes in the UTF-8 sequence this byte starts (1 for stray bytes).
    var utf8SequenceLength: Int {
        switch self {
        case 0xF0...0xF7: return 4
        case 0xE0...0xEF: return 3
        case 0xC0...0xDF: return 2
        default: return 1
        }
    }
}
