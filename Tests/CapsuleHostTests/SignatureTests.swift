@testable import CapsuleHost
import Testing

@Suite struct SignatureTests {
    @Test func parsesScalarsAndHandles() throws {
        let s = try Signature.parse("(i64, f64, str, out u8, handle<Counter>) -> f32").get()
        #expect(s.parameters.map(\.type) == [.i64, .f64, .str, .u8, .handle("Counter")])
        #expect(s.parameters.map(\.isOut) == [false, false, false, true, false])
        #expect(s.result == .f32)
        #expect(s.scriptArity == 4)
        #expect(s.description == "(i64, f64, str, out u8, handle<Counter>) -> f32")
    }

    @Test func parsesEmptyParametersAndSpacing() throws {
        let s = try Signature.parse("()->void").get()
        #expect(s.parameters.isEmpty && s.result == .void)
        #expect(try Signature.parse("  ( bytes ,buf )  ->  u64 ").get().description == "(bytes, buf) -> u64")
    }

    @Test func parsesABytesResult() throws {
        let s = try Signature.parse("(bytes, i64) -> bytes").get()
        #expect(s.result == .bytes)
        #expect(s.scriptArity == 2)
        #expect(s.description == "(bytes, i64) -> bytes")
    }

    @Test(arguments: [
        ("(i64, ) -> i64", "expected a type", 7),
        ("i64 -> i64", "expected '(', found 'i'", 1),
        ("(i64) i64", "expected '->', found 'i'", 7),
        ("(i64)", "expected '->', found the end", 6),
        ("(int) -> i64", "unknown type 'int'", 2),
        ("(void) -> i64", "void is not a parameter type", 2),
        ("(i64) -> buf", "buf cannot be a result type", 10),
        ("(out str) -> void", "out str is not supported (out takes a number, bool, ptr or struct)", 6),
        ("(handle<>) -> void", "expected a handle type name", 9),
        ("(i64) -> i64 x", "unexpected text after the result type", 14),
    ])
    func reportsErrorsWithColumns(_ text: String, _ message: String, _ column: Int) {
        guard case .failure(let error) = Signature.parse(text) else {
            Issue.record("'\(text)' parsed")
            return
        }
        #expect(error.message == message)
        #expect(error.column == column)
    }
}
