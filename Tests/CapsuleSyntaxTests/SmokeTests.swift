import Testing
import CapsuleSyntax

@Test func smoke() {
    print(ast("let x = -a + b * 2\nprint(\"a ${f(\"x\")} ${ {\"k\":1}[\"k\"] }\")"))
    print(parsed("fn f( {\n return 1\n}\nlet = 3\nx = (1,\nlet y = 2").errors)
}
