import Foundation
import Testing
import CapsuleSyntax

/// Carries a result out of a thread that is joined with a semaphore.
/// NOTE: `@unchecked Sendable` because the thread writes `value` once, before the semaphore
/// it signals, and the waiting thread reads it only after the wait.
final class ResultBox<T>: @unchecked Sendable { var value: T? }

/// Runs `body` on a fresh thread with an ordinary 8 MiB stack and waits for it, so stack
/// depth tests do not depend on the test runner's threads.
func onThread<T: Sendable>(stackSize: Int = 8 << 20, _ body: @escaping @Sendable () -> T) -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        box.value = body()
        done.signal()
    }
    thread.stackSize = stackSize
    thread.start()
    done.wait()
    return box.value!
}

/// Parse on an 8 MiB thread; returns the diagnostics as `line:col: message`.
func errorsOnThread(_ text: String) -> [String] {
    onThread { errors(text) }
}

let tooDeep = "nesting is too deep (limit 256)"

@Suite struct NestingLimitTests {
    @Test func hundredThousandParentheses() {
        let n = 100_000
        let text = "x = " + String(repeating: "(", count: n) + "1" + String(repeating: ")", count: n) + "\ny = 2"
        #expect(errorsOnThread(text) == ["1:261: \(tooDeep)"])
    }

    @Test func hundredThousandBrackets() {
        let n = 100_000
        let text = "x = " + String(repeating: "[", count: n) + String(repeating: "]", count: n)
        #expect(errorsOnThread(text).map { $0.hasSuffix(tooDeep) } == [true])
    }

    @Test func hundredThousandBlocks() {
        let n = 100_000
        let text = String(repeating: "{\n", count: n) + String(repeating: "}\n", count: n) + "let y = 1"
        #expect(errorsOnThread(text).map { $0.hasSuffix(tooDeep) } == [true])
    }

    @Test func hundredThousandMapsAndUnclosedGroups() {
        let n = 100_000
        #expect(errorsOnThread("x = " + String(repeating: "{a: ", count: n) + "1" + String(repeating: "}", count: n)).count == 1)
        #expect(errorsOnThread(String(repeating: "(", count: n)).map { $0.hasSuffix(tooDeep) } == [true])
        #expect(errorsOnThread(String(repeating: "if x {", count: n)) == [
            "1:1540: \(tooDeep)", "1:600001: unexpected end of file, expected '}'",
        ])
    }

    @Test func longPrefixAndPostfixChains() {
        let n = 100_000
        for text in [String(repeating: "-", count: n) + "x", String(repeating: "not ", count: n) + "x",
                     String(repeating: "\"${", count: n) + String(repeating: "}\"", count: n),
                     "x = " + String(repeating: "fn() { return ", count: n)] {
            #expect(errorsOnThread(text).first?.hasSuffix(tooDeep) == true, "\(text.prefix(20))")
        }
        // Flat chains are not nesting: they have their own, larger budget.
        let tooLong = "expression is too long (more than \(Parser.maximumChainLinks) operators in a chain)"
        for text in ["f" + String(repeating: "()", count: n), "a" + String(repeating: ".b", count: n),
                     "x = 1" + String(repeating: " + 1", count: n)] {
            #expect(errorsOnThread(text).first?.hasSuffix(tooLong) == true, "\(text.prefix(20))")
        }
        let elseIfs = "if a {}" + String(repeating: " else if a {}", count: n)
        #expect(errorsOnThread(elseIfs).map { $0.hasSuffix(tooDeep) } == [true])
    }

    @Test func longFlatChainsAreFine() {
        // A generated expression with 1,500 operators parses (and its tree is freed) on an
        // ordinary 8 MiB stack.
        let sum = "x = " + Array(repeating: "y", count: 1_500).joined(separator: " + ")
        #expect(errorsOnThread(sum) == [])
        let calls = "x = a" + String(repeating: ".b()", count: 700)
        #expect(errorsOnThread(calls) == [])
    }

    @Test func justUnderTheLimitIsFine() {
        let text = "x = " + String(repeating: "(", count: 200) + "1" + String(repeating: ")", count: 200)
        #expect(errorsOnThread(text) == [])
        // The limit leaves plenty of room: every kind of nesting, 300 deep, fits in a quarter
        // of an ordinary stack even in a debug build.
        for (open, close) in [("(", ")"), ("[", "]"), ("{a: ", "}"), ("fn() { return ", "}"), ("-", "")] {
            let deep = "x = " + String(repeating: open, count: 300) + "1" + String(repeating: close, count: 300)
            #expect(onThread(stackSize: 2 << 20) { errors(deep).count } == 1, "\(open)")
        }
        let blocks = String(repeating: "{\n", count: 300) + String(repeating: "}\n", count: 300)
        #expect(onThread(stackSize: 2 << 20) { errors(blocks).count } == 1)
    }

    @Test func errorsAfterTheDeepPartAreStillReported() {
        let n = 1_000
        let text = "x = " + String(repeating: "(", count: n) + "1" + String(repeating: ")", count: n) + "\nlet = 1"
        #expect(errorsOnThread(text).count == 2)
    }
}

/// Large inputs parse completely and correctly. Speed is measured in Benchmarks/, never by
/// timed unit tests (they fail on a loaded machine without anything being wrong).
@Suite struct LargeInputTests {
    func parsed(_ text: String) -> (Program, [Diagnostic]) {
        let result = parse(Source(name: "big.cap", text: text))
        return (result.program, result.diagnostics)
    }

    @Test func megabyteStringLiteral() {
        let text = "let s = \"" + String(repeating: "abcdefé\\n", count: 100_000) + "\""
        let (program, diagnostics) = parsed(text)
        #expect(diagnostics.isEmpty)
        guard case .variable(_, _, let value?)? = program.statements.first?.kind,
              case .stringLiteral(let s) = value.kind else {
            Issue.record("expected a string literal")
            return
        }
        #expect(s.unicodeScalars.count == 800_000)
    }

    @Test func hundredThousandElementList() {
        let text = "let xs = [" + (0..<100_000).map(String.init).joined(separator: ", ") + "]"
        let (program, diagnostics) = parsed(text)
        #expect(diagnostics.isEmpty)
        guard case .variable(_, _, let value?)? = program.statements.first?.kind,
              case .list(let items) = value.kind else {
            Issue.record("expected a list literal")
            return
        }
        #expect(items.count == 100_000)
    }

    @Test func fiftyThousandStatements() {
        let text = (0..<50_000).map { "let v\($0) = f(v, \($0)) + 1" }.joined(separator: "\n")
        let (program, diagnostics) = parsed(text)
        #expect(diagnostics.isEmpty)
        #expect(program.statements.count == 50_000)
    }
}
