import CapsuleHost
@testable import CapsuleCommands
import Foundation
import Testing

/// `capsule plugin build DIR`: compiles with the SDK include path and checks the result.
@Suite struct PluginBuildTests {
    let sdk = PluginNewTests.sdkInclude

    func scaffold(_ name: String) throws -> String {
        let dir = try PluginNewTests().temporaryDirectory()
        let captured = CapturedConsole()
        #expect(PluginNewCommand.execute(name: name, directory: dir, sdk: sdk, console: captured.console) == 0)
        return dir + "/" + name
    }

    func request(_ dir: String, name: String? = nil) -> PluginBuildCommand.Request {
        PluginBuildCommand.Request(directory: dir, name: name, sdk: sdk, compiler: "cc", output: nil)
    }

    @Test func buildsTheScaffoldWhichThenRuns() throws {
        let dir = try scaffold("built")
        let captured = CapturedConsole()
        let status = PluginBuildCommand.execute(request(dir), console: captured.console)
        #expect(status == 0, "\(captured.err)")
        #expect(captured.out.contains("-fvisibility=hidden"))
        #expect(captured.out.contains("built \(dir)/libcapsule_built.so: built 0.1.0, 2 exports"))
        let example = dir + "/example.cap"
        let output = GoldenRunner.virtualMachine(
            GoldenInvocation(source: try String(contentsOfFile: example, encoding: .utf8),
                             name: "example.cap", path: example, gcStress: false))
        #expect(output.stdout == "42\nbuilt.divide: division by zero\n")
    }

    @Test func compilerErrorsExitWith65() throws {
        let dir = try scaffold("broken")
        try "int broken(".write(toFile: dir + "/broken.c", atomically: true, encoding: .utf8)
        let captured = CapturedConsole()
        #expect(PluginBuildCommand.execute(request(dir), console: captured.console) == 65)
        #expect(captured.err.contains("error: cc failed (exit status 1)"))
    }

    @Test func aPluginTheHostWouldRefuseFailsTheBuild() throws {
        let dir = try scaffold("named")
        let captured = CapturedConsole()
        #expect(PluginBuildCommand.execute(request(dir, name: "other"), console: captured.console) == 65)
        #expect(captured.err.contains("the plugin calls itself 'named'; `import \"other\"` would refuse it"))
        // A descriptor the loader refuses (NULL function pointer) is reported as a refusal.
        let fixture = try PluginNewTests().temporaryDirectory() + "/null_function"
        try FileManager.default.createDirectory(atPath: fixture, withIntermediateDirectories: true)
        let source = PluginNewTests.sdkInclude + "/../../Tests/PluginFixtures/null_function.c"
        try FileManager.default.copyItem(atPath: source, toPath: fixture + "/null_function.c")
        let refused = CapturedConsole()
        #expect(PluginBuildCommand.execute(request(fixture, name: "nullfn"), console: refused.console) == 65)
        #expect(refused.err.contains("the host would refuse it"))
        #expect(refused.err.contains("NULL function pointer"))
    }

    @Test func badDirectoriesAndNames() throws {
        let captured = CapturedConsole()
        #expect(PluginBuildCommand.execute(request("/nonexistent-dir"), console: captured.console) == 74)
        #expect(captured.err.contains("/nonexistent-dir is not a directory"))
        let empty = try PluginNewTests().temporaryDirectory() + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        #expect(PluginBuildCommand.execute(request(empty), console: captured.console) == 74)
        #expect(captured.err.contains("no .c files in \(empty)"))
        #expect(PluginBuildCommand.execute(request(empty, name: "Bad"), console: captured.console) == 64)
        var missingCompiler = request(try scaffold("nocc"))
        missingCompiler.compiler = "no-such-compiler-xyz"
        #expect(PluginBuildCommand.execute(missingCompiler, console: captured.console) == 74)
        #expect(captured.err.contains("cannot run no-such-compiler-xyz: No such file or directory"))
    }

    @Test func parsesLibrariesAndExtraFlags() throws {
        let command = try CapsuleCommand.parseAsRoot(["plugin", "build", "dir", "--name", "z", "-l", "z", "-l", "m", "--", "-DX=1"])
            as? PluginBuildCommand
        #expect(command?.directory == "dir")
        #expect(command?.name == "z")
        #expect(command?.libraries == ["z", "m"])
        #expect(command?.extra == ["-DX=1"])
        #expect(PluginBuildCommand.shellQuoted("a b'c") == "'a b'\\''c'")
        #expect(PluginBuildCommand.shellQuoted("-I/x/y") == "-I/x/y")
    }
}
