/// Parses Capsule source text into a `Program`.
///
/// `parse(_ source: Source)` is the whole entry point. Internally this is a recursive-descent
/// parser with precedence climbing for binary operators and panic-mode error recovery:
/// an error is recorded as a `Diagnostic`, the current statement is abandoned by throwing
/// `ParseError`, and parsing resumes at the next statement boundary. A syntactically broken
/// file therefore yields a partial `Program` and one diagnostic per independent mistake.
///
/// Newlines end statements, except where the parser has switched newlines off: inside
/// `( … )`, `[ … ]`, map literals and `${ … }`, and right after a binary operator, `,`, `=`
/// or `.`. Blocks switch them back on, so `f(fn() { a() \n b() })` works.
public final class Parser {
    /// The deepest nesting of expressions and blocks accepted. Deeper input is a diagnostic,
    /// never a native stack overflow (and keeps every AST walk shallow).
    public static let maximumDepth = 256
    /// Most links in operator and postfix chains open at once (see `enterChainLink`).
    public static let maximumChainLinks = 2_000

    /// Parses `source`. Never fails: problems come back as diagnostics (sorted by position)
    /// next to whatever could be parsed.
    public static func parse(_ source: Source) -> (program: Program, diagnostics: [Diagnostic]) {
        let lexed = Lexer.tokenize(source)
        let parser = Parser(tokens: lexed.tokens, bytes: Array(source.text.utf8), sourceName: source.name)
        let statements = parser.parseProgram()
        var diagnostics = lexed.diagnostics
        let endOffset = lexed.tokens.last?.loc.offset ?? 0
        for diagnostic in parser.diagnostics {
            // An unterminated string or comment already explains an unexpected end of file.
            if lexed.endsInsideLiteralOrComment && diagnostic.location.offset == endOffset { continue }
            diagnostics.append(diagnostic)
        }
        let sorted = diagnostics.enumerated().sorted {
            ($0.element.location.offset, $0.offset) < ($1.element.location.offset, $1.offset)
        }
        return (Program(statements: statements), sorted.map(\.element))
    }

    /// Thrown to abandon the current statement; the diagnostic has already been recorded.
    struct ParseError: Error {}

    let tokens: [Token]
    /// `tokens.map(\.kind)`: lookahead reads these without copying token payloads.
    let kinds: [TokenKind]
    let bytes: [UInt8]
    let sourceName: String
    var pos = 0
    /// When true, `current` skips `.newline` tokens (inside brackets and the like).
    var ignoresNewlines = false
    /// Current nesting of expressions and blocks, checked against `maximumDepth`.
    var depth = 0
    /// Links of the operator and postfix chains being parsed, checked against `maximumChainLinks`.
    var chainLinks = 0
    /// Number of opening brackets consumed and not yet closed; recovery uses it to skip the
    /// rest of groups the failed statement opened.
    var openGroups = 0
    /// Set when the nesting limit was hit: recovery then skips the whole over-deep region
    /// instead of resuming at the next statement keyword inside it.
    var abandonsNestedStatements = false
    var diagnostics: [Diagnostic] = []

    init(tokens: [Token], bytes: [UInt8], sourceName: String) {
        self.tokens = tokens
        self.kinds = tokens.map(\.kind)
        self.bytes = bytes
        self.sourceName = sourceName
    }

    // MARK: - Token access

    /// The next significant token. Newline tokens are skipped lazily, when looked at, so a
    /// construct that switches newlines off can consume its closing bracket and restore the
    /// setting before the newline after it is examined.
    var current: Token {
        tokens[currentIndex]
    }

    /// The kind of `current`.
    var currentKind: TokenKind {
        kinds[currentIndex]
    }

    /// The index of `current`, after skipping newlines if they are ignored.
    var currentIndex: Int {
        if ignoresNewlines {
            while kinds[pos] == .newline { pos += 1 }
        }
        return pos
    }

    /// The kind of the significant token `ahead` tokens after `current`.
    func peekKind(_ ahead: Int) -> TokenKind {
        var index = pos
        var remaining = ahead
        while true {
            if ignoresNewlines {
                while kinds[index] == .newline { index += 1 }
            }
            if remaining == 0 || kinds[index] == .eof { return kinds[index] }
            index += 1
            remaining -= 1
        }
    }

    @discardableResult
    func advance() -> Token {
        let index = currentIndex
        let kind = kinds[index]
        if kind != .eof { pos += 1 }
        if kind.opensGroup {
            openGroups += 1
        } else if kind.closesGroup {
            openGroups = max(0, openGroups - 1)
        }
        return tokens[index]
    }

    func check(_ kind: TokenKind) -> Bool { currentKind == kind }

    func match(_ kind: TokenKind) -> Bool {
        guard check(kind) else { return false }
        advance()
        return true
    }

    /// Skips newline tokens regardless of mode (after binary operators, `=`, `,`, …).
    func skipNewlines() {
        while kinds[pos] == .newline { pos += 1 }
    }

    /// Skips newlines and `;` between statements.
    func skipSeparators() {
        while kinds[pos] == .newline || kinds[pos] == .semicolon { pos += 1 }
    }

    /// True if the next token after any newlines is `kind`; if so, moves onto it.
    func skipNewlines(ifFollowedBy kind: TokenKind) -> Bool {
        var index = pos
        while kinds[index] == .newline { index += 1 }
        guard kinds[index] == kind else { return false }
        pos = index
        return true
    }

    /// Consumes a token of `kind` or fails with `expected WHAT CONTEXT, got TOKEN`.
    @discardableResult
    func expect(_ kind: TokenKind, _ what: String, _ context: String = "") throws -> Token {
        if check(kind) { return advance() }
        throw expected(what, context)
    }

    /// The `}` closing the block or class body opened by `open`. At the end of the file the
    /// error carries a note pointing at `open`, the brace left unclosed (once: the enclosing
    /// blocks fail at the same spot and are not reported again).
    @discardableResult
    func expectClosingBrace(of open: Token, _ context: String) throws -> Token {
        if check(.rightBrace) { return advance() }
        let reported = diagnostics.count
        let error = expected("'}'", context)
        if current.kind == .eof && diagnostics.count > reported {
            diagnostics[diagnostics.count - 1].notes.append(
                Diagnostic(.note, "this '{' is never closed", at: open.loc, in: sourceName))
        }
        throw error
    }

    // MARK: - Diagnostics

    func report(_ message: String, at loc: SourceLocation) {
        // One mistake can be noticed twice at the same spot (e.g. every enclosing block at
        // the end of the file); say it once.
        if let last = diagnostics.last, last.location == loc { return }
        diagnostics.append(Diagnostic(.error, message, at: loc, in: sourceName))
    }

    func fail(_ message: String, at loc: SourceLocation) -> ParseError {
        report(message, at: loc)
        return ParseError()
    }

    /// `expected ')' after arguments, got '}'`, or `unexpected end of file, expected '}'`.
    func expected(_ what: String, _ context: String) -> ParseError {
        let token = current
        if token.kind == .eof {
            return fail("unexpected end of file, expected \(what)", at: token.loc)
        }
        let wanted = context.isEmpty ? what : "\(what) \(context)"
        return fail("expected \(wanted), got \(describe(token))", at: token.loc)
    }

    /// How a token is named in messages: `'else'`, `newline`, `end of file`.
    func describe(_ token: Token) -> String {
        switch token.kind {
        case .newline: return "newline"
        case .eof: return "end of file"
        // These start at the `}` that closes an interpolation; that is what the reader sees.
        case .interpolationMiddle, .interpolationEnd: return "'}'"
        default: break
        }
        let start = max(0, min(Int(token.loc.offset), bytes.count))
        let end = min(start + max(0, Int(token.length)), bytes.count, start + 64)
        var text = String(decoding: bytes[start..<end], as: UTF8.self)
        var truncated = end < start + Int(token.length)
        if let lineBreak = text.firstIndex(of: "\n") {
            text = String(text[..<lineBreak])
            truncated = true
        }
        if text.count > 24 {
            text = String(text.prefix(24))
            truncated = true
        }
        return "'\(text)\(truncated ? "…" : "")'"
    }

    // MARK: - Nesting

    /// Enters one level of nesting; pair with `defer { leave() }`.
    func enter() throws {
        guard depth < Parser.maximumDepth else {
            abandonsNestedStatements = true
            throw fail("nesting is too deep (limit \(Parser.maximumDepth))", at: current.loc)
        }
        depth += 1
    }

    func leave() { depth -= 1 }

    /// Adds one link to an operator or postfix chain (`a + b + c`, `a.b().c`). Links deepen
    /// the tree like nesting does, but a flat chain is ordinary code, so they have their own
    /// larger budget (shared by all chains open at once). Pair with `chainLinks -= n`.
    func enterChainLink() throws {
        guard chainLinks < Parser.maximumChainLinks else {
            abandonsNestedStatements = true
            throw fail("expression is too long (more than \(Parser.maximumChainLinks) operators in a chain)", at: current.loc)
        }
        chainLinks += 1
    }

    // MARK: - Recovery

    /// Skips the rest of a failed statement: first the remainder of any bracket groups it
    /// opened, then up to a newline or `;` (consumed), a `}` closing the enclosing block, or
    /// a keyword that can only start a statement. `mark` is `openGroups` when the statement
    /// began and `start` its first token. A newline before `else` or `catch` is not a
    /// boundary: the statement goes on there.
    func synchronize(mark: Int, start: Int) {
        var unclosed = max(0, openGroups - mark)
        openGroups = mark
        let stopsAtKeywords = !abandonsNestedStatements
        abandonsNestedStatements = false
        while true {
            let kind = kinds[pos]
            switch kind {
            case .eof:
                return
            case .semicolon where unclosed == 0:
                pos += 1
                return
            case .newline where unclosed == 0:
                pos += 1
                let next = kinds[pos]
                if next != .kwElse && next != .kwCatch && next != .kwFinally { return }
                continue
            case .rightBrace where unclosed == 0:
                return
            case .kwLet, .kwVar, .kwClass, .kwIf, .kwWhile, .kwFor, .kwReturn, .kwBreak, .kwContinue,
                 .kwThrow, .kwTry, .kwAssert, .kwImport, .kwDefer:
                if pos > start && stopsAtKeywords { return }
            case .kwFn where kinds[pos + 1] == .identifier:
                if pos > start && stopsAtKeywords { return }
            default:
                if kind.opensGroup {
                    unclosed += 1
                } else if kind.closesGroup && unclosed > 0 {
                    unclosed -= 1
                }
            }
            pos += 1
        }
    }

    /// Runs `parse` for one statement-like unit; on error, recovers and returns nil.
    func recovering<T>(_ parse: () throws -> T) -> T? {
        let start = pos
        let mark = openGroups
        let savedNewlines = ignoresNewlines
        do {
            return try parse()
        } catch {
            ignoresNewlines = savedNewlines
            synchronize(mark: mark, start: start)
            if pos == start && kinds[pos] != .eof && kinds[pos] != .rightBrace { pos += 1 }
            return nil
        }
    }
}

/// Parses `source` into a `Program` plus diagnostics. Same as `Parser.parse(_:)`.
public func parse(_ source: Source) -> (program: Program, diagnostics: [Diagnostic]) {
    Parser.parse(source)
}
