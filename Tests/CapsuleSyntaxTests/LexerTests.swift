import Testing
import CapsuleSyntax

@Suite struct LexerTests {
    @Test func everyKeyword() {
        for (word, kind) in TokenKind.keywords {
            #expect(kinds(word) == [kind], "\(word)")
        }
        #expect(TokenKind.keywords.count == 29)
        #expect(kinds("andy self_ Fn") == [.identifier, .identifier, .identifier])
    }

    @Test func everyOperatorAndPunctuation() {
        let table: [(String, TokenKind)] = [
            ("+", .plus), ("-", .minus), ("*", .star), ("/", .slash), ("%", .percent),
            ("&", .ampersand), ("|", .pipe), ("^", .caret), ("~", .tilde), ("<<", .lessLess),
            (">>", .greaterGreater), ("==", .equalEqual), ("!=", .bangEqual), ("<", .less),
            ("<=", .lessEqual), (">", .greater), (">=", .greaterEqual), ("=", .equal),
            ("+=", .plusEqual), ("-=", .minusEqual), ("*=", .starEqual), ("/=", .slashEqual),
            ("%=", .percentEqual), ("&=", .ampersandEqual), ("|=", .pipeEqual), ("^=", .caretEqual),
            ("<<=", .lessLessEqual), (">>=", .greaterGreaterEqual), ("..", .dotDot),
            ("..=", .dotDotEqual), ("...", .ellipsis), (".", .dot), (",", .comma), (":", .colon), (";", .semicolon),
            ("(", .leftParen), (")", .rightParen), ("[", .leftBracket), ("]", .rightBracket),
            ("{", .leftBrace), ("}", .rightBrace),
        ]
        for (text, kind) in table {
            #expect(kinds(text) == [kind], "\(text)")
        }
        // Longest match, no spaces needed.
        #expect(kinds("a<<=b>>c") == [.identifier, .lessLessEqual, .identifier, .greaterGreater, .identifier])
        #expect(kinds("0..=9") == [.integer, .dotDotEqual, .integer])
        #expect(kinds("f(...xs)") == [.identifier, .leftParen, .ellipsis, .identifier, .rightParen])
    }

    @Test func identifiersCarryTheirNames() {
        let tokens = lex("_a1 Zed").tokens
        #expect(tokens.map(\.text) == ["_a1", "Zed", ""])
        #expect(tokens.last?.kind == .eof)
    }

    @Test func newlinesAreFoldedAndCommentsSkipped() {
        #expect(kinds("a\n\n  \n// c\nb") == [.identifier, .newline, .identifier])
        #expect(kinds("\n\na") == [.identifier])
        #expect(kinds("a /* x */ b") == [.identifier, .identifier])
        #expect(kinds("a /* x\n */ b") == [.identifier, .newline, .identifier])
        #expect(kinds("a /* /* nested */ still comment */ b") == [.identifier, .identifier])
        #expect(kinds("a // c") == [.identifier])
        #expect(kinds("a\r\nb") == [.identifier, .newline, .identifier])
    }

    @Test func integerLiterals() {
        func value(_ text: String) -> UInt64? {
            let result = lex(text)
            guard result.diagnostics.isEmpty, result.tokens.count == 2,
                  case .integer(let value) = result.tokens[0].value else { return nil }
            return value
        }
        #expect(value("0") == 0)
        #expect(value("42") == 42)
        #expect(value("1_000_000") == 1_000_000)
        #expect(value("0xff") == 255)
        #expect(value("0XFF") == 255)
        #expect(value("0b1010") == 10)
        #expect(value("0o17") == 15)
        #expect(value("0x_dead_beef") == 0xdead_beef)
        #expect(value("9223372036854775807") == UInt64(Int64.max))
        // 2^63 is kept for the parser, which accepts it only after a unary minus.
        #expect(value("9223372036854775808") == 1 << 63)
        #expect(value("0x7fffffffffffffff") == UInt64(Int64.max))
    }

    @Test func integerLiteralsThatAreTooLarge() {
        #expect(lexErrors("9223372036854775809") == ["1:1: integer literal is too large"])
        #expect(lexErrors("x = 99999999999999999999999") == ["1:5: integer literal is too large"])
        #expect(lexErrors("0xffffffffffffffffff") == ["1:1: integer literal is too large"])
        #expect(errors("9223372036854775808") == ["1:1: integer literal is too large"])
        #expect(errors("x = 0x8000000000000000") == ["1:5: integer literal is too large"])
    }

    @Test func malformedNumbers() {
        #expect(lexErrors("0x") == ["1:3: expected hexadecimal digits after '0x'"])
        #expect(lexErrors("0b102") == ["1:5: invalid character '2' in binary literal"])
        #expect(lexErrors("12abc") == ["1:3: invalid character 'a' in decimal literal"])
        #expect(lexErrors("1e") == ["1:3: expected digits in the exponent of a float literal"])
        #expect(lexErrors("1e999") == ["1:1: float literal is too large"])
    }

    @Test func floatLiterals() {
        func value(_ text: String) -> Double? {
            let tokens = lex(text).tokens
            guard case .float(let value) = tokens[0].value else { return nil }
            return value
        }
        #expect(value("1.5") == 1.5)
        #expect(value("1e9") == 1e9)
        #expect(value("6.02e23") == 6.02e23)
        #expect(value("1.5e-3") == 1.5e-3)
        #expect(value("2E+2") == 200)
        #expect(value("1_000.5") == 1000.5)
        // `2.` is an int and a dot; `1..3` is a range; `1.x` is a member access.
        #expect(kinds("2.") == [.integer, .dot])
        #expect(kinds("1..3") == [.integer, .dotDot, .integer])
        #expect(kinds("1.x") == [.integer, .dot, .identifier])
    }

    @Test func stringEscapes() {
        let tokens = lex(#""a\n\t\r\0\\\"\$\{\u{41}\u{1F600}é""#).tokens
        #expect(tokens[0].kind == .string)
        #expect(tokens[0].text == "a\n\t\r\0\\\"${A😀é")
        #expect(lex(#""$x and $""#).tokens[0].text == "$x and $")
        #expect(lex("\"two\nlines\"").tokens[0].text == "two\nlines")
    }

    @Test func badEscapesAreReportedAndLexingContinues() {
        #expect(lexErrors(#""a\qb" + "\u{D800}" + "\u{110000}" + "\u41""#) == [
            "1:3: invalid escape sequence '\\q'",
            "1:11: invalid unicode escape: U+D800 is not a Unicode scalar",
            "1:24: invalid unicode escape: U+110000 is not a Unicode scalar",
            "1:39: invalid unicode escape: expected '{' after '\\u'",
        ])
        #expect(lex(#""a\qb""#).tokens[0].text == "aqb")
        #expect(lexErrors(#""\u{}""#) == ["1:2: invalid unicode escape: expected 1 to 8 hex digits and '}'"])
        #expect(lexErrors(#""\u{123456789}""#) == ["1:2: invalid unicode escape: expected 1 to 8 hex digits and '}'"])
    }

    @Test func interpolationTokens() {
        let tokens = lex(#""a ${x} b ${y} c""#).tokens
        #expect(tokens.map(\.kind) == [.interpolationStart, .identifier, .interpolationMiddle, .identifier, .interpolationEnd, .eof])
        #expect(tokens.map(\.text) == ["a ", "x", " b ", "y", " c", ""])
    }

    @Test func interpolationWithNestedBracesAndStrings() {
        let source = #""a ${f("x")} ${ {"k":1}["k"] }""#
        #expect(kinds(source) == [
            .interpolationStart, .identifier, .leftParen, .string, .rightParen,
            .interpolationMiddle, .leftBrace, .string, .colon, .integer, .rightBrace,
            .leftBracket, .string, .rightBracket, .interpolationEnd,
        ])
        #expect(kinds(#""${ "${ "deep" }" }""#) == [.interpolationStart, .interpolationStart, .string, .interpolationEnd, .interpolationEnd])
    }

    @Test func positionsCountScalarsAndBytes() {
        let tokens = lex("héllo = 1\n  ☃ x\n\"é\" y").tokens
        // héllo is not an identifier: h, then é is unexpected, then llo.
        let ids = tokens.filter { $0.kind == .identifier }
        #expect(ids.map(\.text) == ["h", "llo", "x", "y"])
        #expect(ids.map(\.loc.column) == [1, 3, 5, 5])
        #expect(ids.map(\.loc.line) == [1, 1, 2, 3])
        #expect(ids.map(\.loc.offset) == [0, 3, 17, 24])
        let string = tokens.first { $0.kind == .string }
        #expect(string?.loc == SourceLocation(line: 3, column: 1, offset: 19))
        #expect(string?.length == 4)
    }

    @Test func positionsAfterMultiLineStringsAndComments() {
        let tokens = lex("\"a\nbc\" x /* \n\n */ y").tokens.filter { $0.kind == .identifier }
        #expect(tokens.map { "\($0.loc.line):\($0.loc.column)" } == ["2:5", "4:5"])
    }

    @Test func unexpectedCharactersAreReportedOncePerRun() {
        #expect(lexErrors("a # b @@@ c\n  é") == [
            "1:3: unexpected character '#'",
            "1:7: unexpected character '@'",
            "2:3: unexpected character 'é'",
        ])
        #expect(kinds("a # b") == [.identifier, .identifier])
        #expect(lexErrors("!") == ["1:1: unexpected character '!'"])
        #expect(lexErrors("\u{7}") == ["1:1: unexpected character U+0007"])
    }

    @Test func unterminatedStringsAndComments() {
        let string = lex("x = \"abc\n def")
        #expect(string.diagnostics.map(\.message) == ["unterminated string"])
        #expect(string.diagnostics.first?.location == SourceLocation(line: 1, column: 5, offset: 4))
        #expect(string.endsInsideLiteralOrComment)
        let comment = lex("x /* a /* b */ c")
        #expect(comment.diagnostics.map(\.message) == ["unterminated block comment"])
        #expect(comment.diagnostics.first?.location.column == 3)
        #expect(lexErrors("\"a ${x") == ["1:1: unterminated string"])
        #expect(lexErrors("\"a ${x} b") == ["1:1: unterminated string"])
        #expect(lexErrors("\"ab\\") == ["1:1: unterminated string"])
    }

    @Test func eofLocationIsTheEndOfTheText() {
        #expect(lex("ab").tokens.last?.loc == SourceLocation(line: 1, column: 3, offset: 2))
        #expect(lex("ab\n").tokens.last?.loc == SourceLocation(line: 2, column: 1, offset: 3))
        #expect(lex("").tokens.map(\.kind) == [.eof])
    }
}
