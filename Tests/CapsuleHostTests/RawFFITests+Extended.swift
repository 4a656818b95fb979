@testable import CapsuleHost
import Foundation
import Testing

/// Raw FFI beyond scalars: errno capture, structs by value and through `out`, script
/// callbacks through `ffi_closure` (qsort, kept callbacks, errors), variadic functions and
/// the memory helpers. Real libc calls, also under GC stress.
extension RawFFITests {
    @Test(arguments: [false, true])
    func errnoIsCapturedAsTheLastResult(gcStress: Bool) {
        let output = runFFI("""
            import "ffi"
            let libc = ffi.open(nil)
            let open = ffi.bind(libc, "open", "(str, i32) -> i32 !errno")
            print(open("/nonexistent/capsule", 0))
            let strtol = ffi.bind(libc, "strtol", "(str, ptr, i32) -> i64 !errno")
            print(strtol("12", nil, 10), strtol("99999999999999999999", nil, 10))
            let close = ffi.bind(libc, "close", "(i32) -> void !errno")
            print(close(-1))
            """, gcStress: gcStress)
        #expect(output == "[-1, 2]\n[12, 0] [9223372036854775807, 34]\n[9]\n")
    }

    @Test(arguments: [false, true])
    func gettimeofdayFillsAnOutStruct(gcStress: Bool) throws {
        let output = runFFI("""
            import "ffi"
            ffi.struct("timeval", "{i64 tv_sec, i64 tv_usec}")
            let gettimeofday = ffi.bind(ffi.open(nil), "gettimeofday", "(out timeval, ptr) -> i32")
            let r = gettimeofday(nil)
            print(r[0], r[1]["tv_sec"], r[1]["tv_usec"], r[1].keys(), ffi.sizeof("timeval"))
            """, gcStress: gcStress)
        let fields = output.split(separator: " ")
        #expect(fields.count == 6, "\(output)")
        guard fields.count == 6 else { return }
        #expect(fields[0] == "0")
        let seconds = try #require(Double(fields[1]))
        #expect(abs(seconds - Date().timeIntervalSince1970) < 60)
        let micros = try #require(Int(fields[2]))
        #expect((0..<1_000_000).contains(micros))
        #expect(fields[3...].joined(separator: " ") == #"["tv_sec", "tv_usec"] 16"# + "\n")
    }

    @Test(arguments: [false, true])
    func structsByValueAsResults(gcStress: Bool) {
        let output = runFFI("""
            import "ffi"
            let libc = ffi.open(nil)
            ffi.struct("div_t", "{i32 quot, i32 rem}")
            ffi.struct("ldiv_t", "{i64 quot, i64 rem}")
            let div = ffi.bind(libc, "div", "(i32, i32) -> div_t")
            let ldiv = ffi.bind(libc, "ldiv", "(i64, i64) -> ldiv_t")
            print(div(7, 2), div(-7, 2), ldiv(10000000000, 3))
            print(ffi.sizeof("div_t"), ffi.sizeof("ldiv_t"), ffi.sizeof("i16"))
            """, gcStress: gcStress)
        #expect(output == """
            {"quot": 3, "rem": 1} {"quot": -3, "rem": -1} {"quot": 3333333333, "rem": 1}
            8 16 2

            """)
    }

    /// A test library with struct arguments and results (small, mixed and memory-class),
    /// and a callback C keeps.
    static let structLibrary: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-ffistruct-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try! """
            #include <stdint.h>
            #define API __attribute__((visibility("default")))
            typedef struct { int32_t a; double b; } pair;
            typedef struct { int64_t x, y, z; } big;
            typedef struct { pair p; uint8_t flag; } nested;
            API double pair_sum(pair p) { return p.a + p.b; }
            API pair pair_make(int32_t a, double b) { pair p = { a, b }; return p; }
            API big big_scale(big v, int64_t k) { big r = { v.x * k, v.y * k, v.z * k }; return r; }
            API double nested_total(nested n) { return n.p.a + n.p.b + n.flag; }
            static int32_t (*kept)(int32_t);
            API void keep(int32_t (*f)(int32_t)) { kept = f; }
            API int32_t fire(int32_t x) { return kept ? kept(x) : -1; }
            """.write(toFile: dir + "/ffistruct.c", atomically: true, encoding: .utf8)
        let library = dir + "/libffistruct.so"
        precondition(Fixtures.compile(source: dir + "/ffistruct.c", output: library) == 0)
        return library
    }()

    @Test(arguments: [false, true])
    func structsByValueAsArguments(gcStress: Bool) {
        let output = runFFI("""
            import "ffi"
            let lib = ffi.open("\(Self.structLibrary)")
            ffi.struct("pair", "{i32 a, f64 b}")
            ffi.struct("big", "{i64 x, i64 y, i64 z}")
            ffi.struct("nested", "{pair p, u8 flag}")
            let sum = ffi.bind(lib, "pair_sum", "(pair) -> f64")
            let make = ffi.bind(lib, "pair_make", "(i32, f64) -> pair")
            let scale = ffi.bind(lib, "big_scale", "(big, i64) -> big")
            let total = ffi.bind(lib, "nested_total", "(nested) -> f64")
            print(sum({"a": 2, "b": 0.5}), make(3, 1.25), sum(make(4, 0.25)))
            print(scale({"x": 1, "y": -2, "z": 3}, 10))
            print(total({"p": {"a": 1, "b": 2.5}, "flag": 3}), ffi.sizeof("nested"))
            """, gcStress: gcStress)
        #expect(output == """
            2.5 {"a": 3, "b": 1.25} 4.25
            {"x": 10, "y": -20, "z": 30}
            6.5 24

            """)
    }

    @Test(arguments: [
        (#"sum(1)"#, "ffi.pair_sum: argument 1: expected pair (a map with fields a, b), got int"),
        (#"sum({"a": 1})"#, "ffi.pair_sum: argument 1: expected pair, got a map without the field 'b'"),
        (#"sum({"a": 1, "b": 2, "c": 3})"#, "ffi.pair_sum: argument 1: expected pair, got a map with the unknown field 'c'"),
        (#"sum({"a": 1.5, "b": 2})"#, "ffi.pair_sum: argument 1: field 'a': expected i32, got float 1.5"),
        (#"sum({"a": 4294967296, "b": 2})"#, "ffi.pair_sum: argument 1: field 'a': expected i32 (-2147483648 to 2147483647), got 4294967296"),
        (#"ffi.struct("pair", "{i64 a, f64 b}")"#, "ffi.struct: 'pair' is already declared as {i32 a, f64 b}"),
        (#"ffi.struct("p2", "{i32 a, str s}")"#, "ffi.struct: malformed fields '{i32 a, str s}' for 'p2': a struct field cannot be str (fields take numbers, bool, ptr or structs) at column 9"),
        (#"ffi.struct("p2", "{i32 a i32 b}")"#, "ffi.struct: malformed fields '{i32 a i32 b}' for 'p2': expected '}', found 'i' at column 8"),
        (#"ffi.struct("p2", "{i32 a, i32 a}")"#, "ffi.struct: malformed fields '{i32 a, i32 a}' for 'p2': field 'a' is declared twice at column 13"),
        (#"ffi.struct("p2", "{}")"#, "ffi.struct: malformed fields '{}' for 'p2': expected a type at column 2"),
        (#"ffi.struct("i32", "{i32 a}")"#, "ffi.struct: argument 1: expected a struct name (an identifier that is not a type name), got 'i32'"),
        (#"ffi.bind(lib, "pair_sum", "(pear) -> f64")"#, "ffi.bind: malformed signature '(pear) -> f64' for 'pair_sum': unknown type 'pear' at column 2"),
    ])
    func structErrorsAreClear(code: String, message: String) {
        let output = runFFI("""
            import "ffi"
            let lib = ffi.open("\(Self.structLibrary)")
            ffi.struct("pair", "{i32 a, f64 b}")
            ffi.struct("pair", "{i32 a, f64 b}")
            let sum = ffi.bind(lib, "pair_sum", "(pair) -> f64")
            try { \(code) } catch e { print(e.message) }
            """)
        #expect(output == message + "\n")
    }

    /// The ints 5 3 9 1 7 -2 as i32s in a bytes value, `qsort` and `show`.
    static let qsortPrelude = """
        import "ffi"
        let libc = ffi.open(nil)
        let qsort = ffi.bind(libc, "qsort", "(ptr, u64, u64, callback<(ptr, ptr) -> i32>) -> void")
        let xs = [5, 3, 9, 1, 7, -2]
        let data = bytes(4 * xs.len())
        for i in 0..xs.len() { ffi.write(data, "i32", xs[i], 4 * i) }
        let show = fn() {
            var out = []
            for i in 0..xs.len() { out.push(ffi.read(data, "i32", 4 * i)) }
            return out
        }
        let ascending = fn(a, b) { return ffi.read(a, "i32") - ffi.read(b, "i32") }

        """

    @Test(arguments: [false, true])
    func qsortWithAScriptComparator(gcStress: Bool) {
        let output = runFFI(Self.qsortPrelude + """
            var calls = 0
            qsort(data, xs.len(), 4, fn(a, b) {
                calls += 1
                let x = ffi.read(a, "i32")
                let y = ffi.read(b, "i32")
                if x < y { return -1 }
                if x > y { return 1 }
                return 0
            })
            print(show(), calls > 0)
            // Nested: the comparator itself calls qsort (the same binding) on another buffer.
            let inner = bytes(8)
            ffi.write(inner, "i32", 2, 0)
            ffi.write(inner, "i32", 1, 4)
            qsort(data, xs.len(), 4, fn(a, b) {
                qsort(inner, 2, 4, ascending)
                return ffi.read(b, "i32") - ffi.read(a, "i32")
            })
            print(show(), ffi.read(inner, "i32"), ffi.read(inner, "i32", 4))
            qsort(data, 0, 4, nil)
            """, gcStress: gcStress)
        #expect(output == "[-2, 1, 3, 5, 7, 9] true\n[9, 7, 5, 3, 1, -2] 1 2\n")
    }

    @Test(arguments: [false, true])
    func aCallbackErrorIsRaisedWhenTheCallReturns(gcStress: Bool) {
        let output = runFFI(Self.qsortPrelude + """
            var calls = 0
            try {
                qsort(data, xs.len(), 4, fn(a, b) { calls += 1; throw "boom" })
            } catch e { print("caught", e, calls) }
            try { qsort(data, xs.len(), 4, fn(a, b) { return "x" }) } catch e { print(e.message) }
            try { qsort(data, xs.len(), 4, fn(a) { return 0 }) } catch e { print(e.message) }
            try { qsort(data, xs.len(), 4, fn(a, b) { return 1 / 0 }) } catch e { print(e.message) }
            try { qsort(data, xs.len(), 4, 42) } catch e { print(e.message) }
            // Still usable afterwards.
            qsort(data, xs.len(), 4, ascending)
            print(show())
            """, gcStress: gcStress)
        #expect(output == """
            caught boom 1
            ffi.qsort: argument 4: callback result: expected i32, got string
            <fn> expects 1 argument, got 2
            division by zero
            ffi.qsort: argument 4: expected callback<(ptr, ptr) -> i32> (a function), got int
            [-2, 1, 3, 5, 7, 9]

            """)
    }

    /// An `ffi.callback` handle keeps its function (and what it captures) alive while C holds
    /// the pointer; closing it frees the closure. Serialized: the library's kept pointer is
    /// one C global shared by both cases.
    @Test(.serialized, arguments: [false, true])
    func aKeptCallbackSurvivesCollection(gcStress: Bool) {
        let output = runFFI(Self.qsortPrelude + """
            let lib = ffi.open("\(Self.structLibrary)")
            let keep = ffi.bind(lib, "keep", "(callback<(i32) -> i32>) -> void")
            let fire = ffi.bind(lib, "fire", "(i32) -> i32")
            var cb = fn() {
                let offset = [100]
                return ffi.callback(fn(x) { return x + offset[0] }, "(i32) -> i32")
            }()
            keep(cb)
            gc()
            var junk = []
            for i in 0..200 { junk.push([i, "x" + str(i)]) }
            gc()
            print(fire(1), fire(-5), cb)
            let descending = ffi.callback(fn(a, b) { return ffi.read(b, "i32") - ffi.read(a, "i32") }, "(ptr, ptr) -> i32")
            qsort(data, xs.len(), 4, descending)
            print(show())
            try { keep(descending) } catch e { print(e.message) }
            let failing = ffi.callback(fn(x) { throw "kept boom" }, "(i32) -> i32")
            keep(failing)
            try { fire(1) } catch e { print("caught", e) }
            keep(cb)
            print(fire(2))
            ffi.close(cb)
            ffi.close(cb)
            try { keep(cb) } catch e { print(e.message) }
            keep(nil)
            print(fire(3))
            """, gcStress: gcStress)
        #expect(output == """
            101 95 <handle ffi.Callback>
            [9, 7, 5, 3, 1, -2]
            ffi.keep: argument 1: expected callback<(i32) -> i32>, got an ffi.callback of type (ptr, ptr) -> i32
            caught kept boom
            102
            ffi.keep: argument 1: expected callback<(i32) -> i32>, got a closed handle<ffi.Callback>
            -1

            """)
    }

    @Test(arguments: [false, true])
    func snprintfIsVariadic(gcStress: Bool) {
        let output = runFFI("""
            import "ffi"
            let libc = ffi.open(nil)
            let snprintf = ffi.bind(libc, "snprintf", "(buf, str, ...) -> i32")
            let b = bytes(64)
            var n = snprintf(b, "%d %s %.2f", 42, "hi", 3.14159)
            print(n, b[:n].decode())
            n = snprintf(b, "%ld|%5.1f|%s|%c|%d", -9000000000, 2.0, nil, 65, true)
            print(n, b[:n].decode())
            n = snprintf(b, "no args")
            print(n, b[:n].decode())
            let small = bytes(4)
            print(snprintf(small, "%s", "truncated"), small.decode() == "tru\\u{0}")
            for i in 0..3 { snprintf(b, "%d %d", i, i * 2) }
            print(b[:3].decode())
            print(snprintf)
            """, gcStress: gcStress)
        #expect(output == """
            10 42 hi 3.14
            28 -9000000000|  2.0|(null)|A|1
            7 no args
            9 true
            2 4
            <native fn ffi.snprintf>

            """)
    }

    @Test(arguments: [
        ("snprintf(b)", "ffi.snprintf expects at least 2 arguments, got 1"),
        (#"snprintf(b, "%d", [1])"#, "ffi.snprintf: argument 3: expected int, float, bool, str, bytes or nil for '...', got list"),
        (#"snprintf(b, "%s", "a\u{0}b")"#, "ffi.snprintf: argument 3: expected str, got a string with a NUL byte at index 1"),
        (#"snprintf(b, 1)"#, "ffi.snprintf: argument 2: expected str, got int"),
        (#"ffi.bind(libc, "printf", "(...) -> i32")"#,
         "ffi.bind: malformed signature '(...) -> i32' for 'printf': '...' needs at least one parameter before it at column 2"),
        (#"ffi.bind(libc, "printf", "(str, ..., i32) -> i32")"#,
         "ffi.bind: malformed signature '(str, ..., i32) -> i32' for 'printf': expected ')' after '...', found ',' at column 10"),
        (#"ffi.bind(libc, "open", "(str, i32) -> i32 !erno")"#,
         "ffi.bind: malformed signature '(str, i32) -> i32 !erno' for 'open': expected 'errno' after '!' at column 20"),
    ])
    func variadicAndErrnoErrorsAreClear(code: String, message: String) {
        let output = runFFI("""
            import "ffi"
            let libc = ffi.open(nil)
            let snprintf = ffi.bind(libc, "snprintf", "(buf, str, ...) -> i32")
            let b = bytes(16)
            try { \(code) } catch e { print(e.message) }
            """)
        #expect(output == message + "\n")
    }

    @Test(arguments: [false, true])
    func readAndWriteMemory(gcStress: Bool) {
        let output = runFFI("""
            import "ffi"
            let libc = ffi.open(nil)
            ffi.struct("pt", "{i16 x, f32 y, u8 z}")
            let b = bytes(16)
            ffi.write(b, "pt", {"x": -3, "y": 1.5, "z": 255})
            print(ffi.read(b, "pt"), ffi.sizeof("pt"), ffi.read(b, "i16"), ffi.read(b, "u8", 8))
            let malloc = ffi.bind(libc, "malloc", "(u64) -> ptr")
            let free = ffi.bind(libc, "free", "(ptr) -> void")
            let p = malloc(16)
            ffi.write(p, "f64", 2.5, 8)
            ffi.write(p, "ptr", p)
            print(ffi.read(p, "f64", 8), ffi.read(p, "ptr") == p)
            free(p)
            let strdup = ffi.bind(libc, "strdup", "(str) -> ptr")
            let s = strdup("copied")
            let cell = bytes(8)
            ffi.write(cell, "ptr", s)
            print(ffi.read(cell, "str"))
            free(s)
            try { ffi.read(b, "i64", 12) } catch e { print(e.message) }
            try { ffi.read(b, "i32", -1) } catch e { print(e.message) }
            try { ffi.read(0, "i32") } catch e { print(e.message) }
            try { ffi.read(b, "int") } catch e { print(e.message) }
            try { ffi.write(b, "u8", 256) } catch e { print(e.message) }
            try { ffi.write(b, "pt", {"x": 1}) } catch e { print(e.message) }
            try { ffi.write(b, "str", "x") } catch e { print(e.message) }
            try { ffi.read(b) } catch e { print(e.message) }
            """, gcStress: gcStress)
        #expect(output == """
            {"x": -3, "y": 1.5, "z": 255} 12 -3 255
            2.5 true
            copied
            ffi.read: 8 bytes at offset 12 are outside the 16-byte buffer
            ffi.read: 4 bytes at offset -1 are outside the 16-byte buffer
            ffi.read: argument 1: expected a ptr (a non-zero int address) or bytes, got int
            ffi.read: argument 2: expected a number type, bool, ptr, str or a declared struct, got 'int'
            ffi.write: argument 3: expected u8 (0 to 255), got 256
            ffi.write: argument 3: expected pt, got a map without the field 'y'
            ffi.write: argument 2: expected a number type, bool, ptr or a declared struct, got 'str'
            ffi.read expects 2 or 3 arguments (target, type, offset), got 1

            """)
    }
}
