@testable import CapsuleHost
import Foundation
import Testing

/// Raw FFI (`import "ffi"`): real libc and libm calls, the same argument checks as plugin
/// calls, the `--allow-ffi` gate, and library lifetime.
@Suite struct RawFFITests {
    /// Runs `source` in a fresh VM whose host allows FFI (unless `allowFFI` is false).
    func runFFI(_ source: String, allowFFI: Bool = true, gcStress: Bool = false) -> String {
        let capture = OutputCapture()
        var configuration = Configuration()
        configuration.gcStress = gcStress
        configuration.output = { capture.append($0) }
        let vm = VM(configuration: configuration)
        PluginHost(environment: [:], allowFFI: allowFFI).install(on: vm)
        let outcome = vm.run(source: source, name: "test.cap")
        if case .ok = outcome { return capture.text }
        return capture.text + "ERROR: " + firstErrorLine(outcome)
    }

    @Test(arguments: [false, true])
    func getpidMatchesTheTestProcess(gcStress: Bool) {
        let output = runFFI("""
            import "ffi"
            let getpid = ffi.bind(ffi.open(nil), "getpid", "() -> i32")
            print(getpid())
            """, gcStress: gcStress)
        #expect(output == "\(getpid())\n")
    }

    @Test(arguments: [false, true])
    func strlenHypotAndAbs(gcStress: Bool) {
        let output = runFFI("""
            import "ffi"
            let libc = ffi.open("")
            let strlen = ffi.bind(libc, "strlen", "(str) -> u64")
            print(strlen("hello"), strlen(""), strlen("héllo"))
            let hypot = ffi.bind(ffi.open("libm.so.6"), "hypot", "(f64, f64) -> f64")
            print(hypot(3, 4), hypot(1.5, 2.0))
            let abs = ffi.bind(libc, "abs", "(i32) -> i32")
            print(abs(-7), abs(2147483647))
            print(libc, abs)
            """, gcStress: gcStress)
        #expect(output == "5 0 6\n5.0 2.5\n7 2147483647\n<handle ffi.Library> <native fn ffi.abs>\n")
    }

    @Test(arguments: [
        ("abs(1099511627776)", "ffi.abs: argument 1: expected i32 (-2147483648 to 2147483647), got 1099511627776"),
        ("abs(-2147483649)", "ffi.abs: argument 1: expected i32 (-2147483648 to 2147483647), got -2147483649"),
        (#"abs("1")"#, "ffi.abs: argument 1: expected i32, got string"),
        ("abs(1.5)", "ffi.abs: argument 1: expected i32, got float 1.5"),
        ("abs()", "ffi.abs expects 1 argument, got 0"),
        ("abs(1, 2)", "ffi.abs expects 1 argument, got 2"),
        (#"strlen("a\u{0}b")"#, "ffi.strlen: argument 1: expected str, got a string with a NUL byte at index 1"),
        ("strlen(nil)", "ffi.strlen: argument 1: expected str, got nil"),
    ])
    func argumentsAreCheckedLikePluginCalls(call: String, message: String) {
        let output = runFFI("""
            import "ffi"
            let libc = ffi.open(nil)
            let abs = ffi.bind(libc, "abs", "(i32) -> i32")
            let strlen = ffi.bind(libc, "strlen", "(str) -> u64")
            try { \(call) } catch e { print(e.message) }
            """)
        #expect(output == message + "\n")
    }

    @Test func importIsDeniedWithoutTheFlag() {
        #expect(runFFI(#"import "ffi""#, allowFFI: false) == "ERROR: error: denied: ffi (grant with --allow-ffi)")
        #expect(runFFI(#"try { import "ffi" } catch e { print(e.message) }"#, allowFFI: false)
            == "denied: ffi (grant with --allow-ffi)\n")
        // The default host denies.
        #expect(run(#"import "ffi""#) == "ERROR: error: denied: ffi (grant with --allow-ffi)")
        #expect(PluginHost(environment: [:]).allowFFI == false)
    }

    @Test(arguments: [
        (#"ffi.open("/nonexistent/libnope.so")"#,
         "ffi.open: cannot open '/nonexistent/libnope.so': /nonexistent/libnope.so: cannot open shared object file: No such file or directory"),
        ("ffi.open(42)", "ffi.open: argument 1: expected a library path (str) or nil, got int"),
        (#"ffi.bind(libc, "capsule_no_such_symbol", "() -> void")"#,
         "ffi.bind: no symbol 'capsule_no_such_symbol' in the process: "),
        (#"ffi.bind(libm, "capsule_no_such_symbol", "() -> void")"#,
         "ffi.bind: no symbol 'capsule_no_such_symbol' in 'libm.so.6': "),
        (#"ffi.bind(libc, "abs", "(i32 -> i32")"#,
         "ffi.bind: malformed signature '(i32 -> i32' for 'abs': expected ')', found '-' at column 6"),
        (#"ffi.bind(libc, "abs", "(int) -> int")"#,
         "ffi.bind: malformed signature '(int) -> int' for 'abs': unknown type 'int' at column 2"),
        (#"ffi.bind(libc, "abs", "(handle<T>) -> i32")"#,
         "ffi.bind: signature '(handle<T>) -> i32' for 'abs': handle<T> is not supported in raw FFI (use ptr)"),
        (#"ffi.bind(1, "abs", "(i32) -> i32")"#, "ffi.bind: argument 1: expected handle<ffi.Library>, got int"),
        (#"ffi.bind(libc, nil, "(i32) -> i32")"#, "ffi.bind: argument 2: expected a symbol name (str), got nil"),
    ])
    func openAndBindErrorsAreClear(code: String, messagePrefix: String) {
        let output = runFFI("""
            import "ffi"
            let libc = ffi.open(nil)
            let libm = ffi.open("libm.so.6")
            try { \(code) } catch e { print(e.message) }
            """)
        #expect(output.hasPrefix(messagePrefix), "\(output)")
    }

    /// A library stays open while its handle or a function bound from it is reachable, and is
    /// dlclosed by the GC once neither is.
    @Test func aLibraryIsClosedOnlyWhenUnreachable() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-rawffi-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let library = dir + "/libffitest.so"
        try #"__attribute__((visibility("default"))) int ffi_test_add(int a, int b) { return a + b; }"#
            .write(toFile: dir + "/ffitest.c", atomically: true, encoding: .utf8)
        #expect(Fixtures.compile(source: dir + "/ffitest.c", output: library) == 0)
        // dlopen with RTLD_NOLOAD (4) | RTLD_NOW (2) finds a library only if it is loaded.
        let output = runFFI("""
            import "ffi"
            let libc = ffi.open(nil)
            let dlopen = ffi.bind(libc, "dlopen", "(str, i32) -> ptr")
            let dlclose = ffi.bind(libc, "dlclose", "(ptr) -> i32")
            let loaded = fn() {
                let h = dlopen("\(library)", 6)
                if h != nil { dlclose(h) }
                return h != nil
            }
            print(loaded())
            var lib = ffi.open("\(library)")
            var add = ffi.bind(lib, "ffi_test_add", "(i32, i32) -> i32")
            print(loaded())
            lib = nil
            gc()
            print(loaded(), add(2, 3))
            add = nil
            gc()
            print(loaded())
            """)
        #expect(output == "false\ntrue\ntrue 5\nfalse\n")
    }
}
