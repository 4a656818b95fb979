@testable import CapsuleHost
import Foundation
import Testing

/// A per-library FFI grant binds only what that library defines: `dlsym` on a handle also
/// searches the library's dependencies, so `ffi.open("libm.so.6")` reaches libc's `system`.
@Suite struct RawFFIGrantTests {
    let prelude = "fn t(f) { try { print(f()) } catch e { print(e.message) } }\n"

    /// A library of our own that depends on libc, opened through a symlink whose name is not
    /// its soname.
    static let library: (path: String, alias: String) = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-ffigrant-\(UUID().uuidString)").path
        // NOTE: `try!` on the test's own fresh directory under the temporary directory (a
        // UUID name, written by nobody else): it fails only on a machine whose temporary
        // directory is unwritable, where no test of this suite could run.
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try! """
            #include <unistd.h>
            __attribute__((visibility("default"))) int grant_test_twice(int a) { return a > 1000000 ? (int)getpid() : 2 * a; }
            """.write(toFile: dir + "/granttest.c", atomically: true, encoding: .utf8)
        precondition(Fixtures.compile(source: dir + "/granttest.c", output: dir + "/libgranttest.so",
                                      extraArguments: ["-Wl,-soname,libgranttest.so.1"]) == 0)
        try! FileManager.default.createSymbolicLink(atPath: dir + "/libalias.so", withDestinationPath: dir + "/libgranttest.so")
        return (dir + "/libgranttest.so", dir + "/libalias.so")
    }()

    @Test func libmGrantBindsCosButNotLibcsSystem() {
        let source = prelude + """
            import "ffi"
            let libm = ffi.open("libm.so.6")
            t(fn() { return ffi.bind(libm, "cos", "(f64) -> f64")(0) })
            t(fn() { return ffi.bind(libm, "hypot", "(f64, f64) -> f64")(3, 4) })
            t(fn() { return ffi.bind(libm, "system", "(str) -> i32") })
            t(fn() { return ffi.bind(libm, "environ", "() -> ptr") })
            """
        let out = run(source, policy: Policy(grants: [Capability(.ffi, "libm.so.6")]))
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(out)")
        guard lines.count == 4 else { return }
        #expect(lines[0] == "1.0" && lines[1] == "5.0")
        #expect(lines[2].hasPrefix("ffi.bind: 'system' is not defined by 'libm.so.6' ("), "\(lines[2])")
        #expect(lines[2].contains("libm.so.6) but by /") && lines[2].contains("/libc.so.6, which it depends on"))
        #expect(lines[2].hasSuffix("a grant of libm.so.6 covers only what it defines (open libc.so.6 and bind it there, with --allow-ffi=libc.so.6:system)"))
        // Data symbols too.
        #expect(lines[3].hasPrefix("ffi.bind: 'environ' is not defined by 'libm.so.6'"), "\(lines[3])")
    }

    /// Per-symbol grants of a library are no way around it either, nor is a grant of every
    /// library: the check is on where the symbol lies, whatever the grant.
    @Test func everyGrantFormIsChecked() {
        let source = prelude + """
            import "ffi"
            t(fn() { return ffi.bind(ffi.open("libm.so.6"), "system", "(str) -> i32") })
            """
        for grant in [Capability(.ffi, "libm.so.6:system"), Capability(.ffi)] {
            let out = run(source, policy: Policy(grants: [grant]))
            #expect(out.hasPrefix("ffi.bind: 'system' is not defined by 'libm.so.6'"), "\(grant): \(out)")
        }
        // The process handle covers everything loaded globally.
        let process = run(prelude + "import \"ffi\"\nt(fn() { return ffi.bind(ffi.open(nil), \"abs\", \"(i32) -> i32\")(-3) })",
                          policy: Policy(grants: [Capability(.ffi, "process")]))
        #expect(process == "3\n")
    }

    /// A library opened by a name other than its soname: its own function binds, libc's
    /// functions it depends on do not; messages name the path as opened and the file.
    @Test func aLibraryOpenedThroughAnotherNameBindsOnlyItsOwnSymbols() {
        let alias = Self.library.alias
        let source = prelude + """
            import "ffi"
            let lib = ffi.open("\(alias)")
            t(fn() { return ffi.bind(lib, "grant_test_twice", "(i32) -> i32")(21) })
            t(fn() { return ffi.bind(lib, "getpid", "() -> i32") })
            """
        let out = run(source, policy: Policy(grants: [Capability(.ffi, alias)]))
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.first == "42", "\(out)")
        #expect(lines.count == 2 && lines[1].hasPrefix("ffi.bind: 'getpid' is not defined by '\(alias)' ("), "\(out)")
        #expect(lines.count == 2 && lines[1].contains("/libc.so.6, which it depends on"), "\(out)")
    }

    /// IFUNC symbols resolve to the implementation the library chose, which lies in the same
    /// library: they bind.
    @Test func ifuncSymbolsOfTheGrantedLibraryBind() {
        let source = prelude + """
            import "ffi"
            let libc = ffi.open("libc.so.6")
            t(fn() { return ffi.bind(libc, "strlen", "(str) -> u64")("hello") })
            t(fn() { return ffi.bind(libc, "memchr", "(str, i32, u64) -> ptr")("abc", 98, 3) != nil })
            """
        #expect(run(source, policy: Policy(grants: [Capability(.ffi, "libc.so.6")])) == "5\ntrue\n")
    }
}
