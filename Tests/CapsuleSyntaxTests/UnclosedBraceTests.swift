import CapsuleSyntax
import Testing

/// A missing `}` is reported at the end of the file with a note at the brace left open.
@Suite struct UnclosedBraceTests {
    @Test func anUnclosedBraceIsReportedAtTheEndWithANoteAtTheBrace() {
        let source = Source(name: "m.cap", text: "fn f() {\n    if x {\n        g()\n    }\n")
        let diagnostics = Parser.parse(source).diagnostics
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.notes.map(\.location.line) == [1])
        #expect(Diagnostic.render(diagnostics, source: source) == """
            m.cap:5:1: error: unexpected end of file, expected '}'
                
                ^
            m.cap:1:8: note: this '{' is never closed
                fn f() {
                       ^

            """)
    }
}
