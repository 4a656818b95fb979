import CapsuleHost
@testable import CapsuleCommands
import Foundation
import Testing

/// `capsule plugin new`: the scaffold builds with its own build script and loads at once.
@Suite struct PluginNewTests {
    static let sdkInclude = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("sdk/include").path

    func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-new-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func scaffoldBuildsAndRuns() throws {
        let dir = try temporaryDirectory()
        let captured = CapturedConsole()
        let status = PluginNewCommand.execute(name: "hello", directory: dir, sdk: Self.sdkInclude, console: captured.console)
        #expect(status == 0, "\(captured.err)")
        let plugin = dir + "/hello"
        for file in ["hello.c", "build.sh", "example.cap", "README.md"] {
            #expect(FileManager.default.fileExists(atPath: plugin + "/" + file), "\(file)")
        }
        // Build exactly as a user would.
        let build = Process()
        build.executableURL = URL(fileURLWithPath: "/bin/sh")
        build.arguments = [plugin + "/build.sh"]
        try build.run()
        build.waitUntilExit()
        #expect(build.terminationStatus == 0)
        // Run the example through the same VM the CLI uses (the script's directory is on
        // the plugin path).
        let examplePath = plugin + "/example.cap"
        let source = try String(contentsOfFile: examplePath, encoding: .utf8)
        let output = GoldenRunner.virtualMachine(
            GoldenInvocation(source: source, name: "example.cap", path: examplePath, gcStress: false))
        #expect(output.stderr == "")
        #expect(output.stdout == "42\nhello.divide: division by zero\n")
    }

    @Test func refusesBadNamesAndExistingDirectories() throws {
        let dir = try temporaryDirectory()
        let captured = CapturedConsole()
        #expect(PluginNewCommand.execute(name: "Bad-Name", directory: dir, sdk: Self.sdkInclude, console: captured.console) == 64)
        #expect(captured.err.contains("plugin name 'Bad-Name' must be lowercase letters, digits and _"))
        #expect(PluginNewCommand.execute(name: "twice", directory: dir, sdk: Self.sdkInclude, console: captured.console) == 0)
        #expect(PluginNewCommand.execute(name: "twice", directory: dir, sdk: Self.sdkInclude, console: captured.console) == 74)
        #expect(captured.err.contains("cannot create \(dir)/twice: File exists"))
        #expect(PluginNewCommand.execute(name: "x", directory: dir, sdk: "/nonexistent", console: captured.console) == 74)
        #expect(captured.err.contains("no capsule.h in /nonexistent"))
    }

    @Test func parsesFromTheCommandLine() throws {
        let command = try CapsuleCommand.parseAsRoot(["plugin", "new", "demo", "--directory", "/tmp"]) as? PluginNewCommand
        #expect(command?.name == "demo")
        #expect(command?.directory == "/tmp")
    }
}
