/// Whether `text` needs more lines before it can be compiled (an open bracket, string or
/// block comment). The REPL asks only this function.
///
/// TODO: call `CapsuleSyntax.isIncomplete(_:)` once it lands in the syntax module; it also
/// knows the lexer's continuation rules (a trailing binary operator, `,`, `=`, …).
func inputIsIncomplete(_ text: String) -> Bool {
    BracketScanner.isIncomplete(text)
}

/// A stand-in for the real lexer's check: counts `(` `[` `{` left open outside strings and
/// comments, and notices unterminated strings (including `${…}` inside them) and block
/// comments (which nest). A stray closer means the input is complete (and wrong): the
/// compiler reports it.
enum BracketScanner {
    static func isIncomplete(_ text: String) -> Bool {
        // Open constructs, innermost last: ( [ { brackets, " a string, $ a `${` in a string.
        var open: [Unicode.Scalar] = []
        let scalars = Array(text.unicodeScalars)
        var i = 0
        func peek(_ offset: Int) -> Unicode.Scalar? {
            i + offset < scalars.count ? scalars[i + offset] : nil
        }
        while i < scalars.count {
            let c = scalars[i]
            if open.last == "\"" {
                switch c {
                case "\\": i += 1
                case "\"": open.removeLast()
                case "$" where peek(1) == "{": open.append("$"); i += 1
                default: break
                }
                i += 1
                continue
            }
            switch c {
            case "/" where peek(1) == "/":
                while i < scalars.count, scalars[i] != "\n" { i += 1 }
            case "/" where peek(1) == "*":
                var depth = 0
                while i < scalars.count {
                    if scalars[i] == "/", peek(1) == "*" { depth += 1; i += 2 }
                    else if scalars[i] == "*", peek(1) == "/" { depth -= 1; i += 2; if depth == 0 { break } }
                    else { i += 1 }
                }
                if depth > 0 { return true }
                continue
            case "\"", "(", "[", "{":
                open.append(c)
            case ")", "]", "}":
                let opener: Unicode.Scalar = c == ")" ? "(" : c == "]" ? "[" : "{"
                guard let last = open.last, last == opener || (c == "}" && last == "$") else { return false }
                open.removeLast()
            default:
                break
            }
            i += 1
        }
        return !open.isEmpty
    }
}
