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

    @Test func parsesErrnoVariadicAndCallbacks() throws {
        let v = try Signature.parse("(buf, str, ...) -> i32").get()
        #expect(v.isVariadic && !v.capturesErrno && v.scriptArity == 2)
        #expect(v.description == "(buf, str, ...) -> i32")
        let e = try Signature.parse("( str , i32 )->i32  !errno").get()
        #expect(e.capturesErrno && !e.isVariadic)
        #expect(e.description == "(str, i32) -> i32 !errno")
        let q = try Signature.parse("(ptr, u64, u64, callback<(ptr, ptr) -> i32>) -> void").get()
        #expect(q.parameters[3].type == .callback(try Signature.parse("(ptr,ptr)->i32").get()))
        #expect(q.description == "(ptr, u64, u64, callback<(ptr, ptr) -> i32>) -> void")
        #expect(q.needsGeneralPath && v.needsGeneralPath && e.needsGeneralPath)
        #expect(!(try Signature.parse("(i64, out f64) -> str").get().needsGeneralPath))
        #expect(try Signature.parse("(callback<() -> void>, ...) -> void !errno").get().description
            == "(callback<() -> void>, ...) -> void !errno")
    }

    @Test func parsesStructsTheResolverKnows() throws {
        let fields = try StructType.parseFields("{i64 tv_sec, i64 tv_usec}", structs: { _ in nil }).get()
        let timeval = try #require(StructType(name: "timeval", fields: fields))
        #expect(timeval.size == 16 && timeval.alignment == 8 && timeval.fields.map(\.offset) == [0, 8])
        let mixed = try #require(StructType(name: "mixed", fields: try StructType.parseFields(
            "{u8 a, f64 b, i16 c, timeval t}", structs: { $0 == "timeval" ? timeval : nil }).get()))
        #expect(mixed.fields.map(\.offset) == [0, 8, 16, 24] && mixed.size == 40)
        #expect(mixed.layoutText == "{u8 a, f64 b, i16 c, timeval t}")
        let s = try Signature.parse("(out timeval, timeval) -> timeval", structs: { $0 == "timeval" ? timeval : nil }).get()
        #expect(s.parameters.map(\.type) == [.structure(timeval), .structure(timeval)])
        #expect(s.parameters[0].isOut && s.result == .structure(timeval))
        #expect(s.description == "(out timeval, timeval) -> timeval")
        // Without a resolver (plugins), a struct name is an unknown type.
        guard case .failure(let error) = Signature.parse("(timeval) -> void") else { Issue.record("parsed"); return }
        #expect(error.message == "unknown type 'timeval'" && error.column == 2)
    }

    @Test(arguments: [
        ("(...) -> i32", "'...' needs at least one parameter before it", 2),
        ("(str, ...,) -> i32", "expected ')' after '...', found ','", 10),
        ("(str, ... i32) -> i32", "expected ')' after '...', found 'i'", 11),
        ("(str) -> i32 !", "expected 'errno' after '!'", 15),
        ("(str) -> i32 !errnos", "expected 'errno' after '!'", 15),
        ("(str) -> i32 !errno x", "unexpected text after the result type", 21),
        ("(i32) -> callback<() -> void>", "callback cannot be a result type", 10),
        ("(callback(i32) -> void) -> void", "expected '<', found '('", 10),
        ("(callback<(i32) -> void) -> void", "expected '>', found ')'", 24),
        ("(callback<(bytes) -> void>) -> void", "a callback's parameters take numbers, bool, ptr or str, not bytes", 11),
        ("(callback<(out i32) -> void>) -> void", "a callback's parameters take numbers, bool, ptr or str, not out i32", 11),
        ("(callback<(i32, ...) -> void>) -> void", "a callback cannot be variadic or capture errno", 11),
        ("(callback<() -> str>) -> void", "a callback's result is a number, bool, ptr or void, not str", 11),
        ("(out callback<() -> void>) -> void", "out callback is not supported (out takes a number, bool, ptr or struct)", 6),
        ("(bytes, ...) -> bytes", "a bytes result cannot be combined with '...'", 17),
    ])
    func reportsErrorsInTheNewSyntax(_ text: String, _ message: String, _ column: Int) {
        guard case .failure(let error) = Signature.parse(text) else {
            Issue.record("'\(text)' parsed")
            return
        }
        #expect(error.message == message, "\(text)")
        #expect(error.column == column, "\(text)")
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
