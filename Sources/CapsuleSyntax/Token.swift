/// The kinds of token the `Lexer` produces.
///
/// Keywords are prefixed with `kw` (`kwWhile`) so that none of them needs backticks.
/// A string without interpolation is a single `.string` token. A string with interpolation
/// is split at each `${` … `}`: `"a ${x} b ${y} c"` lexes as
/// `interpolationStart("a ")`, `x`, `interpolationMiddle(" b ")`, `y`, `interpolationEnd(" c")`.
public enum TokenKind: UInt8, Sendable, Equatable, Hashable, CaseIterable {
    // Keywords.
    case kwAnd, kwAs, kwAssert, kwBreak, kwCatch, kwClass, kwContinue, kwDefer, kwElse, kwFalse, kwFinally, kwFn
    case kwFor, kwIf, kwImport, kwIn, kwIs, kwLet, kwNil, kwNot, kwOr, kwReturn, kwSelf, kwSuper
    case kwThrow, kwTrue, kwTry, kwVar, kwWhile

    // Arithmetic and bitwise operators.
    case plus, minus, star, slash, percent, ampersand, pipe, caret, tilde, lessLess, greaterGreater
    // Comparison.
    case equalEqual, bangEqual, less, lessEqual, greater, greaterEqual
    // Assignment.
    case equal, plusEqual, minusEqual, starEqual, slashEqual, percentEqual
    case ampersandEqual, pipeEqual, caretEqual, lessLessEqual, greaterGreaterEqual
    // Ranges and punctuation.
    case dotDot, dotDotEqual, dot, comma, colon, semicolon
    /// `...`: a rest parameter or pattern, or spreading a list into a call or list literal.
    case ellipsis
    case leftParen, rightParen, leftBracket, rightBracket, leftBrace, rightBrace

    // Names and literals.
    case identifier
    /// An integer literal; its value is the magnitude as `UInt64` (at most 2^63, so that
    /// the parser can fold `-9223372036854775808`).
    case integer
    case float
    /// A complete string literal without interpolation.
    case string
    /// `"text${`: the start of an interpolated string.
    case interpolationStart
    /// `}text${`: literal text between two interpolations.
    case interpolationMiddle
    /// `}text"`: the end of an interpolated string.
    case interpolationEnd

    /// One or more line breaks (blank lines and comments in between are folded into one token).
    case newline
    /// End of input; always the last token.
    case eof
}

extension TokenKind {
    /// The reserved words and their kinds.
    public static let keywords: [String: TokenKind] = [
        "and": .kwAnd, "as": .kwAs, "assert": .kwAssert, "break": .kwBreak, "catch": .kwCatch,
        "class": .kwClass, "continue": .kwContinue, "defer": .kwDefer, "else": .kwElse, "false": .kwFalse,
        "finally": .kwFinally,
        "fn": .kwFn, "for": .kwFor, "if": .kwIf, "import": .kwImport, "in": .kwIn, "is": .kwIs,
        "let": .kwLet, "nil": .kwNil, "not": .kwNot, "or": .kwOr, "return": .kwReturn,
        "self": .kwSelf, "super": .kwSuper, "throw": .kwThrow, "true": .kwTrue, "try": .kwTry,
        "var": .kwVar, "while": .kwWhile,
    ]

    /// Tokens that open a bracketed group: `(`, `[`, `{` and the `${` of a string.
    public var opensGroup: Bool {
        switch self {
        case .leftParen, .leftBracket, .leftBrace, .interpolationStart: return true
        default: return false
        }
    }

    /// Tokens that close a bracketed group: `)`, `]`, `}` and the end of an interpolated string.
    public var closesGroup: Bool {
        switch self {
        case .rightParen, .rightBracket, .rightBrace, .interpolationEnd: return true
        default: return false
        }
    }
}

/// The decoded value carried by literal and identifier tokens.
public enum TokenValue: Sendable, Equatable {
    case none
    /// The magnitude of an integer literal.
    case integer(UInt64)
    case float(Double)
    /// An identifier's name, or a string segment with its escapes decoded.
    case text(String)
}

/// One token: its kind, where it starts, how many UTF-8 bytes of source it covers and its value.
public struct Token: Sendable, Equatable {
    public var kind: TokenKind
    public var loc: SourceLocation
    /// Length of the token's source text in UTF-8 bytes.
    public var length: Int32
    public var value: TokenValue

    public init(kind: TokenKind, loc: SourceLocation, length: Int32, value: TokenValue = .none) {
        self.kind = kind; self.loc = loc; self.length = length; self.value = value
    }

    /// The identifier name or decoded string text ("" for other tokens).
    public var text: String {
        if case .text(let text) = value { return text }
        return ""
    }
}
