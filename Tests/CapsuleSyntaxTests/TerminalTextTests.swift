import Testing
import CapsuleSyntax

/// `TerminalText`, the one mechanism that makes outside text safe for a terminal, and the
/// capped, linear rendering of many diagnostics.
@Suite struct TerminalTextTests {
    /// Every class of unsafe character becomes `?`; printable text, other non-ASCII text and
    /// (in multi-line mode) line feeds and tabs are kept.
    @Test func unsafeCharactersBecomeQuestionMarks() {
        let unsafe: [Unicode.Scalar] = ["\u{0}", "\u{7}", "\u{8}", "\r", "\u{1b}", "\u{1f}", "\u{7f}", "\u{80}", "\u{9b}", "\u{9d}", "\u{9f}",
                                        "\u{61c}", "\u{200e}", "\u{200f}", "\u{202a}", "\u{202b}", "\u{202c}", "\u{202d}", "\u{202e}",
                                        "\u{2066}", "\u{2067}", "\u{2068}", "\u{2069}"]
        for scalar in unsafe {
            #expect(TerminalText.safe("a\(Character(scalar))b") == "a?b", "U+\(String(scalar.value, radix: 16))")
            #expect(TerminalText.safe("a\(Character(scalar))b", multiline: true) == "a?b")
        }
        #expect(TerminalText.safe("a\nb\tc") == "a?b?c")
        #expect(TerminalText.safe("a\nb\tc", multiline: true) == "a\nb\tc")
        for kept in ["plain ascii ~", "héllo wörld", "日本語", "emoji 😀", "\u{a0}nbsp", "\u{200d}zwj", "\u{2070}", "\u{2065}"] {
            #expect(TerminalText.safe(kept) == kept)
        }
        #expect(TerminalText.safe("\u{1b}[31mred\u{1b}[0m") == "?[31mred?[0m")
        #expect(TerminalText.safe(bytes: [0x61, 0xff, 0x1b, 0x62] as [UInt8]) == "a\u{fffd}?b")
    }

    /// Past the limit, one line counts the rest; file name, message and source line are
    /// escaped; a long line is cut around the column with the caret under it.
    @Test func renderingCapsAndEscapes() {
        let source = Source(name: "x\u{1b}[2J.cap", text: "a\u{202e}b\n" + String(repeating: "y", count: 1000) + "Z" + String(repeating: "y", count: 1000))
        let one = Diagnostic(.error, "bad \u{1b}]0;t\u{7}", at: SourceLocation(line: 1, column: 3, offset: 3), in: source.name)
        #expect(one.render(source: source) == "x?[2J.cap:1:3: error: bad ?]0;t?\n    a?b\n      ^")
        let far = Diagnostic(.error, "here", at: SourceLocation(line: 2, column: 1001, offset: 1006), in: "f")
        let lines = far.render(source: source).split(separator: "\n")
        #expect(lines.count == 3 && lines[1].count < 1100)
        let caret = lines[2].count - 1
        #expect(Array(lines[1])[caret] == "Z")
        let many = Array(repeating: one, count: 250)
        let text = Diagnostic.render(many, source: source)
        #expect(text.hasSuffix("\ntoo many errors (150 more not shown)\n"))
        #expect(text.components(separatedBy: ": error: ").count - 1 == 100)
        #expect(Diagnostic.render(Array(many.prefix(100)), source: source).contains("too many") == false)
    }
}
