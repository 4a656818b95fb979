@testable import CapsuleCommands
import CapsuleHost
import Foundation
import Testing

/// Runs the built `capsule` like `capsule(_:in:)`, but kills it after `seconds`: `timedOut`
/// says whether it had to (a hang is a failure, never a stuck test run).
func capsule(_ arguments: [String], in directory: String, killAfter seconds: Double)
    throws -> (status: Int32, out: String, err: String, timedOut: Bool) {
    let binary = try #require(PluginHost.executableDirectory()).appending("/capsule")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    let outFile = directory + "/.stdout-\(UUID().uuidString)", errFile = directory + "/.stderr-\(UUID().uuidString)"
    FileManager.default.createFile(atPath: outFile, contents: nil)
    FileManager.default.createFile(atPath: errFile, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: outFile); try? FileManager.default.removeItem(atPath: errFile) }
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outFile))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errFile))
    try process.run()
    let deadline = Date().addingTimeInterval(seconds)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    let timedOut = process.isRunning
    if timedOut { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    let out = FileManager.default.contents(atPath: outFile).map { String(decoding: $0, as: UTF8.self) } ?? ""
    let err = FileManager.default.contents(atPath: errFile).map { String(decoding: $0, as: UTF8.self) } ?? ""
    return (process.terminationStatus, out, err, timedOut)
}

/// Script `import` is code loading under a rule (docs/security.md#imports), and nothing
/// the host opens on a script's behalf can block it.
@Suite struct ImportRuleCLITests {
    /// A tree: `app/main.cap` (the script), `app/lib/util.cap` (its own tree),
    /// `elsewhere/secret.cap` (with a syntax error that would echo its line), and
    /// `shared/common.cap` (a library directory given with --module-path).
    func tree() throws -> ScratchDirectory {
        let dir = try ScratchDirectory()
        try dir.write("app/lib/util.cap", "let name = \"util\"\n")
        try dir.write("elsewhere/secret.cap", "let token = \"TOP-SECRET-VALUE\"\nlet = oops TOP-SECRET-LINE\n")
        try dir.write("elsewhere/fine.cap", "let token = \"FINE-VALUE\"\n")
        try dir.write("shared/common.cap", "let name = \"common\"\n")
        return dir
    }

    @Test func importsComeFromTheScriptsTreeTheModulePathAndReadGrantsOnly() throws {
        let dir = try tree()
        let root = dir.path
        try dir.write("app/main.cap", """
            import "lib/util"
            print(util.name)
            try { import "\(root)/elsewhere/secret" } catch e { print(e.message) }
            try { import "\(root)/elsewhere/fine" } catch e { print(e.message) }
            try { import "../elsewhere/fine" } catch e { print(e.message) }
            """)
        let denied = try capsule(["run", "app/main.cap"], in: root)
        #expect(denied.status == 0)
        #expect(denied.out == """
            util
            denied: import \(root)/elsewhere/secret.cap (outside the script's directory, the module path and the fs.read grants; grant with --allow-read=\(root)/elsewhere/secret.cap or --module-path=\(root)/elsewhere)
            denied: import \(root)/elsewhere/fine.cap (outside the script's directory, the module path and the fs.read grants; grant with --allow-read=\(root)/elsewhere/fine.cap or --module-path=\(root)/elsewhere)
            denied: import \(root)/app/../elsewhere/fine.cap (its real path \(root)/elsewhere/fine.cap is outside the script's directory, the module path and the fs.read grants; grant with --allow-read=\(root)/elsewhere/fine.cap)\n
            """)
        #expect(!denied.out.contains("TOP-SECRET") && !denied.err.contains("TOP-SECRET"))
        // A read grant, or the module path, allows them.
        let granted = try capsule(["run", "--allow-read=elsewhere/fine.cap", "app/main.cap"], in: root)
        // fine.cap imports (printing nothing), twice under two names; secret.cap is still denied.
        #expect(granted.out.hasPrefix("util\ndenied: import \(root)/elsewhere/secret.cap (outside"), "\(granted.out)")
        #expect(granted.out.split(separator: "\n").count == 2 && granted.status == 0, "\(granted.out)\(granted.err)")
        try dir.write("app/second.cap", """
            import "common"
            print(common.name)
            import "fine"
            print(fine.token)
            """)
        let viaPath = try capsule(["run", "--module-path", "shared", "--module-path", "elsewhere", "app/second.cap"], in: root)
        #expect(viaPath.out == "common\nFINE-VALUE\n" && viaPath.status == 0)
    }

    /// A symlink in the script's tree pointing out is judged by where it leads; a compile
    /// error of a denied file is never shown, and the denial is audited as `fs.read`.
    @Test func symlinksOutAreDeniedAndNothingOfTheFileIsEchoed() throws {
        let dir = try tree()
        let root = dir.path
        try FileManager.default.createSymbolicLink(atPath: root + "/app/secret.cap", withDestinationPath: root + "/elsewhere/secret.cap")
        try dir.write("app/main.cap", "import \"secret\"\nprint(secret.token)\n")
        let result = try capsule(["run", "--audit", "audit.jsonl", "app/main.cap"], in: root)
        #expect(result.status == 70)
        #expect(result.err.hasPrefix("app/main.cap:1:1: error: denied: import \(root)/app/secret.cap (its real path \(root)/elsewhere/secret.cap is outside"))
        #expect(!result.err.contains("TOP-SECRET") && !result.out.contains("TOP-SECRET"))
        let audit = dir.read("audit.jsonl") ?? ""
        #expect(audit.contains(#""capability":"fs.read","resource":"\#(root)/elsewhere/secret.cap","allowed":false"#), "\(audit)")
        // Granted, the same import is read, and its compile error then shows its line as
        // usual (exit 65: an imported module that does not compile is a compile error).
        let granted = try capsule(["run", "--allow-read=elsewhere", "app/main.cap"], in: root)
        #expect(granted.status == 65 && granted.err.contains("TOP-SECRET-LINE"))
    }

    /// `modules.reload` re-checks the rule: a module replaced by a symlink out is refused.
    @Test func reloadChecksTheRuleAgain() throws {
        let dir = try tree()
        let root = dir.path
        try dir.write("app/mod.cap", "let v = 1\n")
        try dir.write("app/main.cap", """
            import "mod"
            import "modules"
            print(mod.v)
            import "proc"
            proc.run("/bin/ln", ["-sf", "\(root)/elsewhere/fine.cap", "\(root)/app/mod.cap"])
            try { modules.reload(mod) } catch e { print(e.message) }
            print(mod.v)
            """)
        let result = try capsule(["run", "--allow-run=/bin/ln", "app/main.cap"], in: root)
        #expect(result.out == """
            1
            reload of module 'app/mod.cap' refused: denied: import \(root)/app/mod.cap (its real path \(root)/elsewhere/fine.cap is outside the script's directory, the module path and the fs.read grants; grant with --allow-read=\(root)/elsewhere/fine.cap)
            1\n
            """, "\(result.err)")
    }

    /// A hard link in the script's tree to a module outside every root is refused like
    /// `fs.read` refuses it (one link only, unless every path is importable), on import and
    /// on `modules.reload`, and none of the linked file's lines is shown.
    @Test func hardLinksToOutsideModulesAreRefusedOnImportAndReload() throws {
        let dir = try tree()
        let root = dir.path
        #expect(link(root + "/elsewhere/secret.cap", root + "/app/linked.cap") == 0)
        try dir.write("app/mod.cap", "let v = 1\n")
        try dir.write("app/main.cap", """
            import "modules"
            import "mod"
            try { import "linked" } catch e { print(e.message) }
            import "proc"
            proc.run("/bin/ln", ["-f", "\(root)/elsewhere/secret.cap", "\(root)/app/mod.cap"])
            try { modules.reload(mod) } catch e { print(e.message) }
            print(mod.v)
            """)
        let result = try capsule(["run", "--allow-run=/bin/ln", "app/main.cap"], in: root)
        let why = "the file has 3 hard links, and the others may be outside the script's directory, the module path and the fs.read grants"
        #expect(result.out == """
            cannot read module app/linked.cap: the file has 2 hard links, and the others may be outside the script's directory, the module path and the fs.read grants
            reload of module 'app/mod.cap' refused: cannot read \(root)/app/mod.cap: \(why)
            1\n
            """, "\(result.err)")
        #expect(!result.out.contains("TOP-SECRET") && !result.err.contains("TOP-SECRET"))
        // Under a bare --allow-read every path is importable, and the rule does not apply.
        try dir.write("app/all.cap", "import \"linked\"\n")
        let all = try capsule(["run", "--allow-read", "app/all.cap"], in: root)
        #expect(all.err.contains("TOP-SECRET-LINE"), "\(all.err)")
    }

    /// FIFOs named like a script module, a plugin, a manifest or an audit log never block:
    /// each is refused (or, for the log, fails to open) at once.
    @Test func fifosNeverBlockImportsPluginsManifestsOrTheAuditLog() throws {
        let dir = try tree()
        let root = dir.path
        #expect(mkfifo(root + "/app/pipe.cap", 0o600) == 0)
        #expect(mkfifo(root + "/app/libcapsule_fifo.so", 0o600) == 0)
        try dir.write("app/main.cap", """
            try { import "pipe" } catch e { print(e.message) }
            try { import "fifo" } catch e { print(e.message) }
            """)
        let imports = try capsule(["run", "--timeout", "5s", "app/main.cap"], in: root, killAfter: 20)
        #expect(!imports.timedOut)
        #expect(imports.out == """
            cannot read module app/pipe.cap: not a regular file (FIFOs, devices and sockets are not read)
            cannot load plugin \(root)/app/libcapsule_fifo.so: not a regular file (FIFOs, devices and sockets are never opened as plugins)\n
            """, "\(imports.err)")
        #expect(mkfifo(root + "/app/capsule.json", 0o600) == 0)
        let manifest = try capsule(["run", "-P", "app/main.cap"], in: root, killAfter: 20)
        #expect(!manifest.timedOut)
        #expect(manifest.status == 74)
        #expect(manifest.err == "error: cannot read app/capsule.json: not a regular file (FIFOs, devices and sockets are not read) (the policy manifest)\n")
        #expect(mkfifo(root + "/audit.fifo", 0o600) == 0)
        let audit = try capsule(["run", "--audit", "audit.fifo", "app/lib/util.cap"], in: root, killAfter: 20)
        #expect(!audit.timedOut)
        #expect(audit.status == 74, "\(audit.err)")
    }
}
