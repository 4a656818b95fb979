import Testing
import CapsuleSyntax

@Suite struct ErrorMessageTests {
    @Test func expectedXGotY() {
        #expect(errors("f(1, 2}") == ["1:7: expected ')' after arguments, got '}'"])
        #expect(errors("x = else") == ["1:5: expected expression, got 'else'"])
        #expect(errors("if x\n{ }") == ["1:5: expected '{' before if body, got newline"])
        #expect(errors("while x y") == ["1:9: expected '{' before while body, got 'y'"])
        #expect(errors("x = [1 2]") == ["1:8: expected ']' after list elements, got '2'"])
        #expect(errors("x = {a 1}") == ["1:8: expected ':' after map key, got '1'"])
        #expect(errors("x.1") == ["1:3: expected member name after '.', got '1'"])
        #expect(errors("x = 1 2") == ["1:7: expected newline or ';' after statement, got '2'"])
        #expect(errors("x = \"${}\"") == ["1:8: expected expression, got '}'"])
        #expect(errors("a[]") == ["1:3: expected expression, got ']'"])
    }

    @Test func declarationErrors() {
        #expect(errors("let x") == ["1:1: 'let' needs a value; use 'var' for a variable without one"])
        #expect(errors("let = 3") == ["1:5: expected variable name after 'let', got '='"])
        #expect(errors("fn f(a, b, a) {}") == ["1:12: duplicate parameter 'a'"])
        #expect(errors("x = fn(a, a) {}") == ["1:11: duplicate parameter 'a'"])
        #expect(errors("import x") == ["1:8: expected module path string after 'import', got 'x'"])
        #expect(errors("for in x {}") == ["1:5: expected loop variable name after 'for', got 'in'"])
        #expect(errors("for x y {}") == ["1:7: expected 'in' after loop variable, got 'y'"])
        #expect(errors("try {} x") == ["1:8: expected 'catch' or 'finally' after try block, got 'x'"])
        #expect(errors("class A {\n  let x = 1\n  m() {}\n}") == ["2:3: expected method name, got 'let'"])
    }

    @Test func invalidAssignmentTargets() {
        #expect(errors("1 = 2") == ["1:1: invalid assignment target"])
        #expect(errors("f() = 3") == ["1:1: invalid assignment target"])
        #expect(errors("a[1:2] = 3") == ["1:1: invalid assignment target"])
        #expect(errors("a + b += 1") == ["1:1: invalid assignment target"])
        #expect(errors("a = b = c") == ["1:7: expected newline or ';' after statement, got '='"])
    }

    @Test func chainedComparisons() {
        #expect(errors("a < b < c") == ["1:7: comparison operators cannot be chained"])
        #expect(errors("x = a == b != c") == ["1:12: comparison operators cannot be chained"])
        #expect(errors("a..b..c") == ["1:5: range operators cannot be chained"])
        #expect(errors("(a < b) < c") == [])
    }

    @Test func unexpectedEndOfFile() {
        #expect(errors("fn f() {") == ["1:9: unexpected end of file, expected '}'"])
        #expect(errors("fn f() {\n  if x {\n") == ["3:1: unexpected end of file, expected '}'"])
        #expect(errors("x = (a +\n") == ["2:1: unexpected end of file, expected expression"])
        #expect(errors("f(1,") == ["1:5: unexpected end of file, expected expression"])
    }

    @Test func unterminatedLiteralsDoNotAlsoReportTheEndOfFile() {
        #expect(errors("let x = \"abc") == ["1:9: unterminated string"])
        #expect(errors("f(/* unterminated") == ["1:3: unterminated block comment"])
        #expect(errors("f(\"${x") == ["1:3: unterminated string"])
    }

    @Test func renderedDiagnostic() {
        let source = Source(name: "main.cap", text: "let a = 1\nlet b = (a +)\n")
        let (_, diagnostics) = parse(source)
        #expect(diagnostics.map { $0.render(source: source) } == [
            "main.cap:2:13: error: expected expression, got ')'\n    let b = (a +)\n                ^",
        ])
    }
}

@Suite struct RecoveryTests {
    @Test func severalIndependentErrorsAreAllReported() {
        let source = """
        let a = 1 +
        let b = (
        let c = 2 2
        fn f(x, x) {
            return x +
        }
        if a { print(a) } else b
        let d = 4
        """
        #expect(errors(source) == [
            "2:1: expected expression, got 'let'",
            "3:1: expected expression, got 'let'",
            "3:11: expected newline or ';' after statement, got '2'",
            "4:9: duplicate parameter 'x'",
            "6:1: expected expression, got '}'",
            "7:24: expected '{' before else body, got 'b'",
        ])
        // What could be parsed is still there.
        let result = parsed(source)
        #expect(result.ast.contains("(fn f (x x) {})"))
        #expect(result.ast.hasSuffix("(let d 4)"))
    }

    @Test func errorsInsideBlocksRecoverInsideTheBlock() {
        let source = "fn f() {\n  x = )\n  y = 1\n}\nfn g() {\n  z = ]\n}\nh()"
        let result = parsed(source)
        #expect(result.errors == ["2:7: expected expression, got ')'", "6:7: expected expression, got ']'"])
        #expect(result.ast == "(fn f () {(= y 1)})\n(fn g () {})\n(call h)")
    }

    @Test func oneMistakeDoesNotCascade() {
        // An unclosed call swallows to the next statement keyword, not to the end of file.
        #expect(errors("print(a, b\nlet x = 1\nlet y = 2\nx = y") == ["2:1: expected ')' after arguments, got 'let'"])
        #expect(errors("x = [1, 2\n]\n") == [])
        #expect(errors("}\n}\nx") == ["1:1: unexpected '}'", "2:1: unexpected '}'"])
        #expect(errors("@@@ x") == ["1:1: unexpected character '@'"])
        #expect(errors("let a = b x") == ["1:11: expected newline or ';' after statement, got 'x'"])
        // A statement that ends in a block may be followed by another on the same line.
        #expect(errors("if a {} else {} x") == [])
    }

    @Test func newlineBeforeElseDoesNotEndRecovery() {
        let source = "if (a { }\nelse { }\nlet ok = 1"
        let result = parsed(source)
        #expect(result.errors.count == 1)
        #expect(result.ast == "(let ok 1)")
    }
}

@Suite struct IncompleteInputTests {
    @Test func openConstructsNeedMoreInput() {
        for text in ["fn f() {", "print(1,", "x = [1,\n2", "\"abc", "\"a ${x", "/* comment", "/* a /* b */",
                     "x = {", "x = 1 +", "x =", "a.", "if x {\n  y\n"] {
            #expect(isIncomplete(text), "\(text)")
        }
    }

    @Test func newSyntaxNeedsMoreInput() {
        // Issue 14: if-expressions, membership, destructuring, defaults, spread, names.
        for text in ["let v = if c {", "let v = if c { 1 } else {", "x in", "x not in", "x not",
                     "let [a, b] =", "let {x,", "fn f(a, b =", "f(...", "f(a, indent:", "for [k, v] in"] {
            #expect(isIncomplete(text), "\(text)")
        }
        for text in ["let v = if c { 1 } else { 2 }", "1 in [1]", "let [a, b] = p", "f(...xs)", "f(a, indent: 2)"] {
            #expect(!isIncomplete(text), "\(text)")
        }
    }

    @Test func completeInputIsComplete() {
        for text in ["", "x", "fn f() {}", "print(1)", "\"abc\"", "\"a ${x}\"", "/* c */", "x = {}\n", "f(x) // (",
                     "x = \"{\"", "}", "a)"] {
            #expect(!isIncomplete(text), "\(text)")
        }
    }
}
