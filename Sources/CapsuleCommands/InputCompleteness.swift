import CapsuleSyntax

/// Whether `text` needs more lines before it can be compiled: it ends inside an open bracket,
/// string, interpolation or block comment, or right after an operator, `,` or `=`. The REPL
/// asks only this function; the lexer and parser decide (`CapsuleSyntax.isIncomplete`).
func inputIsIncomplete(_ text: String) -> Bool {
    CapsuleSyntax.isIncomplete(text)
}
