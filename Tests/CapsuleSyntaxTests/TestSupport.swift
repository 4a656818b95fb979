import CapsuleSyntax

/// Parses `text` and returns the S-expression dump and the diagnostics as `line:col: message`.
func parsed(_ text: String) -> (ast: String, errors: [String]) {
    let (program, diagnostics) = parse(Source(name: "test.cap", text: text))
    return (dump(program), diagnostics.map { "\($0.location.line):\($0.location.column): \($0.message)" })
}

/// The dump of `text`, which must parse without diagnostics ("ERRORS: …" otherwise).
func ast(_ text: String) -> String {
    let result = parsed(text)
    return result.errors.isEmpty ? result.ast : "ERRORS: " + result.errors.joined(separator: " | ")
}

/// Just the diagnostics of `text`.
func errors(_ text: String) -> [String] { parsed(text).errors }

/// Token kinds of `text`, without the final `.eof`.
func kinds(_ text: String) -> [TokenKind] {
    Lexer.tokenize(Source(name: "t", text: text)).tokens.dropLast().map(\.kind)
}

func lex(_ text: String) -> Lexer.Result {
    Lexer.tokenize(Source(name: "t", text: text))
}

/// Lexer diagnostics of `text` as `line:col: message`.
func lexErrors(_ text: String) -> [String] {
    lex(text).diagnostics.map { "\($0.location.line):\($0.location.column): \($0.message)" }
}
