import Testing
import CapsuleSyntax

@Suite struct ExpressionTests {
    @Test func literals() {
        #expect(ast("nil; true; false; 42; 1.5; \"hi\"") == "nil\ntrue\nfalse\n42\n1.5\n\"hi\"")
        #expect(ast("x; self") == "x\nself")
    }

    @Test func arithmeticPrecedenceAndAssociativity() {
        #expect(ast("a + b * c - d / e % f") == "(- (+ a (* b c)) (% (/ d e) f))")
        #expect(ast("a - b - c") == "(- (- a b) c)")
        #expect(ast("(a + b) * c") == "(* (+ a b) c)")
    }

    @Test func bitwiseAndShiftPrecedence() {
        #expect(ast("a | b ^ c & d << e + f") == "(| a (^ b (& c (<< d (+ e f)))))")
        #expect(ast("a >> 1 << 2") == "(<< (>> a 1) 2)")
        #expect(ast("a & b | c") == "(| (& a b) c)")
    }

    @Test func rangesComparisonsAndLogic() {
        #expect(ast("a..b + 1") == "(.. a (+ b 1))")
        #expect(ast("0..=n | m") == "(..= 0 (| n m))")
        #expect(ast("a < b..c") == "(< a (.. b c))")
        #expect(ast("a == b and c != d or e") == "(or (and (== a b) (!= c d)) e)")
        #expect(ast("a or b and c") == "(or a (and b c))")
    }

    @Test func notBindsLooserThanComparison() {
        #expect(ast("not a == b") == "(not (== a b))")
        #expect(ast("not a and not b") == "(and (not a) (not b))")
        #expect(ast("not not x") == "(not (not x))")
        #expect(ast("a or not b") == "(or a (not b))")
    }

    @Test func prefixOperators() {
        #expect(ast("-a * b") == "(* (- a) b)")
        #expect(ast("~x + 1") == "(+ (~ x) 1)")
        #expect(ast("- -a") == "(- (- a))")
        #expect(ast("-a.b(c)") == "(- (call (. a b) c))")
    }

    @Test func negativeLiteralsAreFolded() {
        #expect(ast("-5") == "-5")
        #expect(ast("-1.5") == "-1.5")
        #expect(ast("-9223372036854775808") == "-9223372036854775808")
        #expect(ast("x = -9223372036854775808 + 1") == "(= x (+ -9223372036854775808 1))")
        #expect(ast("-(5)") == "-5")
        #expect(ast("- - 5") == "5")
        // Found by fuzzing: folding this would overflow.
        #expect(ast("- -9223372036854775808") == "(- -9223372036854775808)")
    }

    @Test func postfixCallIndexSliceMember() {
        #expect(ast("a.b.c(1, 2)[3]") == "(index (call (. (. a b) c) 1 2) 3)")
        #expect(ast("f()()") == "(call (call f))")
        #expect(ast("a[i:j]; a[:j]; a[i:]; a[:]") == "(slice a i j)\n(slice a _ j)\n(slice a i _)\n(slice a _ _)")
        #expect(ast("f(a,)") == "(call f a)")
        #expect(ast("super.init(x)") == "(call (super init) x)")
        #expect(ast("1.x") == "(. 1 x)")
    }

    @Test func listsAndMaps() {
        #expect(ast("x = [1, [2], []]") == "(= x (list 1 (list 2) (list)))")
        #expect(ast("x = [1, 2,]") == "(= x (list 1 2))")
        #expect(ast("x = {}") == "(= x (map))")
        #expect(ast("x = {\"a\": 1, b: 2, 3: c, (d): 4,}") == "(= x (map (\"a\" 1) (\"b\" 2) (3 c) (d 4)))")
        #expect(ast("f({a: {b: 1}})") == "(call f (map (\"a\" (map (\"b\" 1)))))")
    }

    @Test func interpolation() {
        #expect(ast(#"s = "x = ${x}, next = ${x + 1}""#) == #"(= s (interp "x = " x ", next = " (+ x 1)))"#)
        #expect(ast(#"s = "${x}""#) == "(= s (interp x))")
        #expect(ast(#"s = "a ${f("x")} ${ {"k":1}["k"] }""#) == #"(= s (interp "a " (call f "x") " " (index (map ("k" 1)) "k")))"#)
        #expect(ast(#"s = "${ "${ 1 }" }""#) == "(= s (interp (interp 1)))")
    }

    @Test func anonymousFunctions() {
        #expect(ast("let f = fn(a, b) { return a + b }") == "(let f (fn (a b) {(return (+ a b))}))")
        #expect(ast("fn() {}()") == "(call (fn () {}))")
        #expect(ast("xs.map(fn(x) {\n  let y = x\n  return y\n})") == "(call (. xs map) (fn (x) {(let y x) (return y)}))")
    }

    @Test func issue14Syntax() {
        #expect(ast("x = if a { 1 } else if b { 2 } else { 3 }") == "(= x (if-expr a 1 (if-expr b 2 3)))")
        #expect(ast("a + 1 in xs and b not in ys") == "(and (in (+ a 1) xs) (not in b ys))")
        #expect(ast("not a in b") == "(not (in a b))")
        #expect(ast("fn f(a, b = a + 1, ...r) {}") == "(fn f (a (= b (+ a 1)) ...r) {})")
        #expect(ast("f(a, ...xs, b: 2)").hasPrefix("ERRORS: "))  // spread and names do not mix
        #expect(ast("f(a, ...xs)") == "(call f a (... xs))")
        #expect(ast("f(a, b: 2, c: d)") == "(call f a (b: 2) (c: d))")
        #expect(ast("[...a, 1]") == "(list (... a) 1)")
        #expect(ast("let [a, ...b] = xs; var {x, y: z} = m") == "(let [a ...b] xs)\n(var {x y:z} m)")
        #expect(ast("[a, b] = [b, a]") == "(= (list a b) (list b a))")
    }
}
