import Testing
import CapsuleSyntax

@Suite struct StatementTests {
    @Test func variables() {
        #expect(ast("let x = 1\nvar y = 2\nvar z") == "(let x 1)\n(var y 2)\n(var z)")
    }

    @Test func assignments() {
        #expect(ast("x = 1; a.b = 2; a[0] = 3") == "(= x 1)\n(= (. a b) 2)\n(= (index a 0) 3)")
        let compound = ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]
        for op in compound {
            #expect(ast("x \(op)= 1") == "(\(op)= x 1)")
        }
    }

    @Test func functionDeclarations() {
        #expect(ast("fn add(a, b) { return a + b }") == "(fn add (a b) {(return (+ a b))})")
        #expect(ast("fn f() {\n}") == "(fn f () {})")
        #expect(ast("fn f(\n  a,\n  b,\n) {}") == "(fn f (a b) {})")
    }

    @Test func functionEndLocation() throws {
        let (program, _) = parse(Source(name: "t", text: "fn f() {\n  x\n}"))
        guard case .function(let function) = program.statements.first?.kind else {
            Issue.record("not a function")
            return
        }
        #expect(function.loc == SourceLocation(line: 1, column: 1, offset: 0))
        #expect(function.endLoc == SourceLocation(line: 3, column: 1, offset: 13))
    }

    @Test func classes() {
        let source = """
        class Dog < Animal {
            init(name) { super.init(name); self.tricks = [] }
            fn speak() { return super.speak() + " (woof)" }

            other() {}
        }
        """
        #expect(ast(source) == #"(class Dog < Animal (fn init (name) {(call (super init) name) (= (. self tricks) (list))}) (fn speak () {(return (+ (call (super speak)) " (woof)"))}) (fn other () {}))"#)
        #expect(ast("class A {}") == "(class A)")
    }

    @Test func imports() {
        #expect(ast("import \"util\"\nimport \"lib/strings\" as s") == "(import \"util\")\n(import \"lib/strings\" as s)")
    }

    @Test func ifElseChains() {
        #expect(ast("if a { x } else if b { y } else { z }") == "(if a {x} {(if b {y} {z})})")
        #expect(ast("if a {\n  x\n}\nelse {\n  y\n}") == "(if a {x} {y})")
        #expect(ast("if a { x }\nelse if b { y }\nelse { z }") == "(if a {x} {(if b {y} {z})})")
        #expect(ast("if a {}\n\nb") == "(if a {})\nb")
    }

    @Test func loops() {
        #expect(ast("while x < 3 { x += 1 }") == "(while (< x 3) {(+= x 1)})")
        #expect(ast("for i in 0..10 { break }") == "(for i (.. 0 10) {(break)})")
        #expect(ast("for k, v in m { continue }") == "(for (k v) m {(continue)})")
    }

    @Test func returns() {
        #expect(ast("fn f() { return }") == "(fn f () {(return)})")
        #expect(ast("fn f() {\n  return\n  x\n}") == "(fn f () {(return) x})")
        #expect(ast("fn f() { return; }") == "(fn f () {(return)})")
        #expect(ast("fn f() { return x }") == "(fn f () {(return x)})")
    }

    @Test func throwTryAssert() {
        #expect(ast("throw \"bad\"") == "(throw \"bad\")")
        #expect(ast("try { f() } catch e { print(e) }") == "(try {(call f)} (catch e {(call print e)}))")
        #expect(ast("try { f() }\ncatch { }") == "(try {(call f)} (catch {}))")
        #expect(ast("assert x\nassert x > 0, \"positive\"") == "(assert x)\n(assert (> x 0) \"positive\")")
    }

    @Test func blocks() {
        #expect(ast("{ let x = 1; x }") == "(block {(let x 1) x})")
        #expect(ast("{}") == "(block {})")
        #expect(ast("{\n{\n}\n}") == "(block {(block {})})")
    }

    @Test func statementLocations() {
        let (program, _) = parse(Source(name: "t", text: "  x = 1\nif y {}"))
        #expect(program.statements.map(\.loc.line) == [1, 2])
        #expect(program.statements.map(\.loc.column) == [3, 1])
    }

    @Test func fizzbuzzFromTheReference() {
        let source = """
        // fizzbuzz.cap
        fn fizzbuzz(n) {
            for i in 1..=n {
                if i % 15 == 0 { print("FizzBuzz") }
                else if i % 3 == 0 { print("Fizz") }
                else if i % 5 == 0 { print("Buzz") }
                else { print(i) }
            }
        }
        fizzbuzz(15)
        """
        let result = parsed(source)
        #expect(result.errors == [])
        #expect(result.ast.hasSuffix("\n(call fizzbuzz 15)"))
    }
}

@Suite struct NewlineTests {
    @Test func newlinesEndStatements() {
        #expect(ast("a\nb") == "a\nb")
        #expect(ast("a;b;;c") == "a\nb\nc")
        #expect(ast("f\n(x)") == "f\nx")
    }

    @Test func newlinesInsideBrackets() {
        #expect(ast("f(\n1,\n2\n)") == "(call f 1 2)")
        #expect(ast("x = [\n1,\n2,\n]") == "(= x (list 1 2))")
        #expect(ast("x = (\na\n+\nb\n)") == "(= x (+ a b))")
        #expect(ast("x = {\n\"a\"\n:\n1\n,\nb: 2\n}") == "(= x (map (\"a\" 1) (\"b\" 2)))")
        #expect(ast("x = a[\n1\n:\n2\n]") == "(= x (slice a 1 2))")
    }

    @Test func newlinesAfterOperatorsAssignmentAndDot() {
        #expect(ast("x = a +\n b") == "(= x (+ a b))")
        #expect(ast("x = a and\n b") == "(= x (and a b))")
        #expect(ast("x =\n 1") == "(= x 1)")
        #expect(ast("let x =\n 1") == "(let x 1)")
        #expect(ast("x +=\n 1") == "(+= x 1)")
        #expect(ast("a.\nb") == "(. a b)")
        #expect(ast("assert a,\n\"m\"") == "(assert a \"m\")")
    }

    @Test func blocksInsideParenthesesSeeNewlines() {
        #expect(ast("f(fn() {\n a\n b\n})\ng") == "(call f (fn () {a b}))\ng")
    }
}
