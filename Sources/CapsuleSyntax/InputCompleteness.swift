/// Whether a REPL should read another line before parsing `text`.
///
/// True when the text ends inside an open `(`, `[`, `{`, `${`, string literal or block
/// comment, or right after a token that continues onto the next line (a binary operator,
/// `,`, `=`, a compound assignment or `.`).
public func isIncomplete(_ text: String) -> Bool {
    let lexed = Lexer.tokenize(Source(name: "<repl>", text: text))
    if lexed.endsInsideLiteralOrComment { return true }
    var open = 0
    var last: TokenKind?
    for token in lexed.tokens {
        if token.kind.opensGroup {
            open += 1
        } else if token.kind.closesGroup {
            open = max(0, open - 1)
        }
        if token.kind != .newline && token.kind != .eof { last = token.kind }
    }
    if open > 0 { return true }
    guard let last else { return false }
    if Parser.InfixOperator(last) != nil || AssignmentOperator(last) != nil { return true }
    return last == .comma || last == .dot || last == .kwNot
}
