import CapsuleHost
@testable import CapsuleCommands
import Foundation
import Testing

/// `capsule plugin inspect` and `capsule plugin build` run none of the plugin's code in the
/// capsule process: they read the descriptor from a locked-down worker with no grants
/// (docs/security.md#inspecting-a-plugin).
@Suite struct PluginVettingTests {
    let fixtures = PluginNewTests.sdkInclude + "/../../Tests/PluginFixtures"

    /// Compiles fixture `name` into `dir` as libcapsule_NAME.so with `flags`.
    func build(_ name: String, in dir: String, _ flags: [String] = []) -> String {
        let library = dir + "/libcapsule_\(name).so"
        #expect(PluginBuildCommand.spawnAndWait(["cc", "-shared", "-fPIC", "-fvisibility=hidden", "-I", PluginNewTests.sdkInclude]
                                                + flags + ["-o", library, "\(fixtures)/\(name).c"]) == .success(0))
        return library
    }

    @Test func inspectingAPluginWhoseConstructorWritesAFileWritesNothing() throws {
        let dir = try PluginNewTests().temporaryDirectory()
        let marker = dir + "/constructor-ran"
        let library = build("ctor_writes", in: dir, ["-DMARK_PATH=\"\(marker)\""])
        let (status, out, err) = try capsule(["plugin", "inspect", library], in: dir)
        #expect(status == 0, "\(err)")
        #expect(out.hasPrefix("name: ctor_writes\nversion: 1.0.0\n"))
        #expect(out.contains("\nimports reaching host powers: fs (open)\n"), "\(out)")
        #expect(out.hasSuffix("unloadable: yes\n"), "\(out)")
        #expect(!FileManager.default.fileExists(atPath: marker), "the constructor ran unconfined")
        // The fixture does write when loaded in a process (so the check above can fail).
        let control = try PluginNewTests().temporaryDirectory()
        let controlMarker = control + "/constructor-ran"
        let controlLibrary = build("ctor_writes", in: control, ["-DMARK_PATH=\"\(controlMarker)\""])
        _ = dlopen(controlLibrary, RTLD_NOW | RTLD_LOCAL)
        #expect(FileManager.default.fileExists(atPath: controlMarker))
    }

    @Test func inspectingAPluginWhoseConstructorStartsAThreadPrintsTheReport() throws {
        let dir = try PluginNewTests().temporaryDirectory()
        let library = build("thread_escape", in: dir)
        for _ in 0..<3 {
            let (status, out, err) = try capsule(["plugin", "inspect", library], in: dir)
            #expect(status == 0, "\(err)")
            #expect(out.hasPrefix("name: thread_escape\n"))
            #expect(out.contains("exports:\n  escape_report () -> str"))
        }
    }

    @Test func aPluginThatCrashesOrHangsWhileLoadingIsAClearError() throws {
        let dir = try PluginNewTests().temporaryDirectory()
        let source = dir + "/crash.c"
        try """
            #include "capsule.h"
            __attribute__((constructor)) static void crash(void) { *(volatile int *)0 = 1; }
            static const capsule_plugin plugin = { .abi_version = CAPSULE_ABI_VERSION, .struct_size = sizeof(capsule_plugin), .name = "crash" };
            CAPSULE_PLUGIN(plugin)
            """.write(toFile: source, atomically: true, encoding: .utf8)
        let library = dir + "/libcapsule_crash.so"
        #expect(PluginBuildCommand.spawnAndWait(["cc", "-shared", "-fPIC", "-fvisibility=hidden", "-I", PluginNewTests.sdkInclude, "-o", library, source]) == .success(0))
        let (status, out, err) = try capsule(["plugin", "inspect", library], in: dir)
        #expect(status == 65)
        #expect(out == "")
        #expect(err == "error: cannot load plugin \(library): worker for plugin crash died with SIGSEGV (segmentation fault) during loading\n")
    }

    @Test func buildingAPluginWhoseConstructorWritesAFileWritesNothing() throws {
        let dir = try PluginNewTests().temporaryDirectory() + "/ctor_writes"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let marker = dir + "/constructor-ran"
        let text = try String(contentsOfFile: fixtures + "/ctor_writes.c", encoding: .utf8)
        try ("#define MARK_PATH \"\(marker)\"\n" + text).write(toFile: dir + "/ctor_writes.c", atomically: true, encoding: .utf8)
        let captured = CapturedConsole()
        let request = PluginBuildCommand.Request(directory: dir, name: nil, sdk: PluginNewTests.sdkInclude, compiler: "cc", output: nil)
        #expect(PluginBuildCommand.execute(request, console: captured.console) == 0, "\(captured.err)")
        #expect(captured.out.contains("built \(dir)/libcapsule_ctor_writes.so: ctor_writes 1.0.0, 1 export"))
        #expect(!FileManager.default.fileExists(atPath: marker), "the constructor ran unconfined")
    }
}
