import CapsuleHost
@testable import CapsuleCommands
import Foundation
import Testing

/// `capsule plugin inspect` and `--plugin-path`.
@Suite struct PluginCommandTests {

    @Test func inspectPrintsTheManifest() throws {
        _ = try CapsuleCommand.parseAsRoot(["plugin", "inspect", "x.so"]) as? PluginInspectCommand
        let captured = CapturedConsole()
        let status = PluginInspectCommand.execute(path: PluginHost.executableDirectory()! + "/libcapsule_cmath.so", console: captured.console)
        #expect(status == 0)
        #expect(captured.err == "")
        #expect(captured.out.hasPrefix("""
            name: cmath
            version: 1.0.0
            abi: 1
            description: Small math and string functions, and a Counter handle (the example plugin)
            capabilities: none
            runs: in-process by default (--isolate=cmath isolates it)
            handle types: Counter
            struct types: none
            exports:
              add (i64, i64) -> i64                        a + b

            """))
        #expect(captured.out.contains("  counter_close (handle<Counter>) -> void      destroys the counter now (closes its handle)\n"))
        #expect(captured.out.hasSuffix("""
            imports reaching host powers: none
            imports no list classifies (refused in-process unless trusted): none
            libraries beyond the system ones (refused in-process unless trusted): none
            unloadable: yes\n
            """))
        let sqlite = CapturedConsole()
        #expect(PluginInspectCommand.execute(path: PluginHost.executableDirectory()! + "/libcapsule_sqlite.so", console: sqlite.console) == 0)
        #expect(sqlite.out.contains("""
            capabilities: optional:fs.read, optional:fs.write
            runs: isolated by default (it declares fs.read (optional), fs.write (optional); --trust=sqlite runs it in-process)

            """))
    }

    /// Compiles `Tests/PluginFixtures/NAME.c` as sdk/README.md tells authors to (with
    /// `linkerFlags`) into `directory` as `libcapsule_NAME.so`; the library's path.
    func buildFixture(_ name: String, in directory: String, linkerFlags: [String] = [],
                      sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let library = directory + "/libcapsule_\(name).so"
        let source = PluginNewTests.sdkInclude + "/../../Tests/PluginFixtures/\(name).c"
        #expect(PluginBuildCommand.spawnAndWait(["cc", "-shared", "-fPIC", "-fvisibility=hidden"] + linkerFlags
                                                + ["-I", PluginNewTests.sdkInclude, "-o", library, source]) == .success(0),
                sourceLocation: sourceLocation)
        return library
    }

    @Test func inspectPrintsDeclaredStructTypes() throws {
        let dir = try PluginNewTests().temporaryDirectory()
        let structs = buildFixture("structs", in: dir)
        let captured = CapturedConsole()
        #expect(PluginInspectCommand.execute(path: structs, console: captured.console) == 0)
        #expect(captured.out.contains("""
            struct types: point {f64 x, f64 y}; rect {point min, point max}; color {u8 r, u8 g, u8 b, bool opaque, i32 id}
            exports:
              add (point, point) -> point
            """))
        #expect(captured.out.contains("  split (point, out point, out point) -> void"))
    }

    @Test func inspectNamesImportsThatReachHostPowers() throws {
        let dir = try PluginNewTests().temporaryDirectory()
        let sneaky = buildFixture("sneaky", in: dir)
        let captured = CapturedConsole()
        #expect(PluginInspectCommand.execute(path: sneaky, console: captured.console) == 0)
        #expect(captured.out.contains("imports reaching host powers: fs (open); net (socket); run (execve)\n"))
        // The hostile fixture declares nothing; the import audit isolates it by default.
        let hostile = buildFixture("hostile", in: dir)
        let third = CapturedConsole()
        #expect(PluginInspectCommand.execute(path: hostile, console: third.console) == 0)
        #expect(third.out.contains("runs: isolated by default (the import audit refuses it in-process without grants: imports 'creat' (fs) without an fs.read or fs.write grant; "))
        #expect(third.out.contains("; --trust=hostile runs it in-process)\n"))
        #expect(third.out.contains("""
            imports reaching host powers: fs (creat, open); run (execl, kill, system); ffi (dlopen, mprotect, syscall)
            imports no list classifies (refused in-process unless trusted): ioctl, sigaction
            libraries beyond the system ones (refused in-process unless trusted): none\n
            """), "\(third.out)")
        let pinned = buildFixture("unloadable", in: dir, linkerFlags: ["-Wl,-z,nodelete"])
        let second = CapturedConsole()
        #expect(PluginInspectCommand.execute(path: pinned, console: second.console) == 0)
        #expect(second.out.contains("unloadable: no, marked NODELETE (-z nodelete); defines STB_GNU_UNIQUE symbols (capsule_unique_counter); registers thread-local destructors"))
    }

    @Test func inspectOfAMissingFileIsAnIOError() {
        let captured = CapturedConsole()
        #expect(PluginInspectCommand.execute(path: "/nonexistent/libcapsule_x.so", console: captured.console) == 74)
        #expect(captured.err == "error: cannot read /nonexistent/libcapsule_x.so\n")
    }

    @Test func inspectOfANonPluginIsRefused() {
        let captured = CapturedConsole()
        let path = URL(fileURLWithPath: #filePath).path
        #expect(PluginInspectCommand.execute(path: path, console: captured.console) == 65)
        #expect(captured.err.hasPrefix("error: cannot load plugin \(path): "))
    }

    @Test func pluginPathIsRepeatableOnRunAndRepl() throws {
        let run = try #require(try CapsuleCommand.parseAsRoot(["run", "--plugin-path", "a", "--plugin-path", "b", "x.cap"]) as? RunCommand)
        #expect(run.options.pluginPaths == ["a", "b"])
        let repl = try #require(try CapsuleCommand.parseAsRoot(["repl", "--plugin-path", "p"]) as? ReplCommand)
        #expect(repl.options.pluginPaths == ["p"])
    }

    @Test func allowFFIIsOffByDefaultAndGatesImportFFI() throws {
        let plain = try #require(try CapsuleCommand.parseAsRoot(["run", "x.cap"]) as? RunCommand)
        #expect(plain.options.allowFFI == false)
        let run = try #require(try CapsuleCommand.parseAsRoot(["run", "--allow-ffi", "x.cap"]) as? RunCommand)
        #expect(run.options.allowFFI)
        let repl = try #require(try CapsuleCommand.parseAsRoot(["repl", "--allow-ffi"]) as? ReplCommand)
        #expect(repl.options.allowFFI)
        let source = #"import "ffi"\#nlet n = ffi.bind(ffi.open(nil), "strlen", "(str) -> u64")("four")"#
        #expect(try run.options.makeVM().run(source: source, name: "a.cap") == .ok(value: nil))
        #expect(try plain.options.makeVM().run(source: source, name: "a.cap").errorText
            .hasPrefix("a.cap:1:1: error: denied: ffi (grant with --allow-ffi)"))
    }
}
