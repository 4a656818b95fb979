import CapsuleHost
@testable import CapsuleCommands
import Foundation
import Testing

/// The import audit's dependency rule through the real `capsule` executable, in a fresh
/// process where zlib is not loaded yet: a plugin that links `libz.so.1` and carries a
/// `DT_RUNPATH` holding a look-alike `libz.so.1` gets the system's zlib, so the look-alike's
/// constructor never runs in the capsule process.
@Suite struct ImportAuditCLITests {
    @Test func aKnownLibraryCannotBeShadowedThroughTheRunPath() throws {
        let dir = try PluginNewTests().temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let evil = dir + "/evil", marker = dir + "/constructor-ran"
        try FileManager.default.createDirectory(atPath: evil, withIntermediateDirectories: true)
        try """
            #include <fcntl.h>
            #include <unistd.h>
            __attribute__((constructor)) static void payload(void) {
                int fd = open("\(marker)", O_WRONLY | O_CREAT, 0600);
                if (fd >= 0) close(fd);
            }
            __attribute__((visibility("default"))) const char *zlibVersion(void) { return "look-alike"; }
            """.write(toFile: evil + "/fakez.c", atomically: true, encoding: .utf8)
        #expect(PluginBuildCommand.spawnAndWait(["cc", "-shared", "-fPIC", "-Wl,-soname,libz.so.1", "-o", evil + "/libz.so.1",
                                                 evil + "/fakez.c"]) == .success(0))
        try """
            #include "capsule.h"
            const char *zlibVersion(void);
            static const char *version(void) { return zlibVersion(); }
            static const capsule_export exports[] = {{"version", "() -> str", (void (*)(void))version, 0, "zlib's version"}};
            static const capsule_plugin plugin = {
                .abi_version = CAPSULE_ABI_VERSION, .struct_size = sizeof(capsule_plugin), .name = "shadow",
                .version = "1.0.0", .exports = exports, .export_count = 1,
            };
            CAPSULE_PLUGIN(plugin)
            """.write(toFile: dir + "/shadow.c", atomically: true, encoding: .utf8)
        #expect(PluginBuildCommand.spawnAndWait(["cc", "-shared", "-fPIC", "-fvisibility=hidden", "-I", PluginNewTests.sdkInclude,
                                                 "-o", dir + "/libcapsule_shadow.so", dir + "/shadow.c", evil + "/libz.so.1",
                                                 "-Wl,--enable-new-dtags,-rpath," + evil]) == .success(0))
        let image = try ELFImage.read(path: dir + "/libcapsule_shadow.so").get()
        #expect(image.needed.contains("libz.so.1") && image.runPaths == [evil])
        try "import \"shadow\"\nprint(shadow.version())\n".write(toFile: dir + "/x.cap", atomically: true, encoding: .utf8)
        // Untrusted, it cannot run isolated (its search path is outside the trusted library
        // directories) and is refused, naming the entry; nothing of the look-alike runs.
        let refused = try capsule(["run", "x.cap"], in: dir)
        #expect(refused.status == 70, "\(refused.err)")
        #expect(refused.err.contains("DT_RUNPATH"), "\(refused.err)")
        #expect(!FileManager.default.fileExists(atPath: marker))
        // Trusted, it runs in-process, and the known library it needs is the system's.
        let run = try capsule(["run", "--trust=shadow", "x.cap"], in: dir)
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out != "look-alike\n" && run.out.hasPrefix("1."), "\(run.out)")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }
}
