import ArgumentParser
@testable import CapsuleCommands
import CapsuleHost
import Foundation
import Testing

/// `--isolate` and `--trust` (CapabilityOptions), the manifest's per-plugin `isolate` and
/// `trusted`, and sqlite isolated by default through the real `capsule` executable.
@Suite struct IsolationCLITests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test func isolateAndTrustFlagsBecomeThePolicy() throws {
        let run = try runCommand(["run", "--isolate=cmath,zlib", "--trust", "sqlite", "--isolate=values", "x.cap", "--trust=y"])
        #expect(run.arguments == ["--trust=y"])
        let policy = try run.options.capabilities.flagPolicy(directory: "/")
        #expect(policy.isolated == ["cmath", "zlib", "values"])
        #expect(policy.trusted == ["sqlite"])
        #expect(CapabilityOptions.normalize(["run", "--isolate", "cmath", "--allow-read", "x.cap"])
            == ["run", "--isolate", "cmath", "--allow-read=" + CapabilityOptions.everything, "x.cap"])
    }

    @Test(arguments: [
        (["run", "--isolate=sqlite", "--trust=sqlite", "x.cap"], "plugin sqlite cannot be both isolated (--isolate) and trusted (--trust)"),
        (["run", "--trust=lib-z", "x.cap"], "--trust: 'lib-z' is not a plugin name ([A-Za-z_][A-Za-z0-9_]*)"),
        (["run", "--isolate=a,,b", "x.cap"], "--isolate: '' is not a plugin name ([A-Za-z_][A-Za-z0-9_]*)"),
    ])
    func badPluginFlagsAreUsageErrors(_ arguments: [String], _ message: String) {
        expectUsageError(arguments, message)
    }

    /// The sqlite example runs isolated by default with the same output as trusted; a
    /// database file works once its directory is granted, through the manifest.
    @Test func sqliteRunsIsolatedByDefaultAndReachesOnlyItsGrants() throws {
        let dir = try ScratchDirectory()
        let example = try String(contentsOfFile: Self.repository + "/examples/sqlite_demo.cap", encoding: .utf8)
        let expected = try String(contentsOfFile: Self.repository + "/Tests/Scripts/examples/sqlite_demo.out", encoding: .utf8)
        try dir.write("demo.cap", example)
        let isolated = try capsule(["run", "demo.cap"], in: dir.path)
        #expect(isolated.status == 0 && isolated.out == expected && isolated.err == "")
        let trusted = try capsule(["run", "--trust=sqlite", "demo.cap"], in: dir.path)
        #expect(trusted.status == 0 && trusted.out == expected)

        try dir.write("data/.keep", "")
        try dir.write("app.cap", """
            import "sqlite"
            let db = sqlite.open("data/app.db")
            sqlite.exec(db, "create table if not exists t(x); insert into t values (1)")
            print(sqlite.query_lists(db, "select count(*) from t", nil))
            try { sqlite.open("elsewhere.db") } catch e { print(e.message) }
            """)
        let ungranted = try capsule(["run", "app.cap"], in: dir.path)
        #expect(ungranted.status == 70)
        // Refused by the grants (Landlock in the worker): the error says denied and names the flag.
        #expect(ungranted.err.hasPrefix("app.cap:2:10: error: sqlite.open: plugin:sqlite: denied: fs.read \(dir.path)/data (grant with --allow-plugin=sqlite=fs.read:\(dir.path)/data or under \"plugins\" in capsule.json)"))
        try dir.write("capsule.json", """
            {"plugins": {"sqlite": {"allow": ["fs.read:data", "fs.write:data"]}}}
            """)
        let granted = try capsule(["run", "-P", "app.cap"], in: dir.path)
        #expect(granted.out == "[[1]]\nsqlite.open: plugin:sqlite: denied: fs.read \(dir.path) (grant with --allow-plugin=sqlite=fs.read:\(dir.path) or under \"plugins\" in capsule.json)\n")
        #expect(granted.status == 0)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/elsewhere.db"))
        // Trusted by the manifest: in-process, where SQLite opens what the process can.
        try dir.write("capsule.json", """
            {"plugins": {"sqlite": {"allow": ["fs.read:data", "fs.write:data"], "trusted": true}}}
            """)
        let inProcess = try capsule(["run", "-P", "app.cap"], in: dir.path)
        #expect(inProcess.out == "[[2]]\n" && inProcess.status == 0)
        #expect(FileManager.default.fileExists(atPath: dir.path + "/elsewhere.db"))
        // The manifest and the flags must not disagree.
        let conflict = try capsule(["run", "-P", "--isolate=sqlite", "app.cap"], in: dir.path)
        #expect(conflict.status == 64)
        #expect(conflict.err == "error: plugin sqlite is trusted by the manifest (\"trusted\": true) and isolated by --isolate\n")
    }

    /// The one-run route to a manifest covers a plugin that opens files itself: under
    /// --allow-all sqlite runs in-process, asks the host about the database's directory
    /// (host->check_capability), and the audit log has it, so `policy suggest` grants it and
    /// the isolated run with that manifest opens the database.
    @Test func sqliteFileUsesReachTheAuditLogAndPolicySuggest() throws {
        let dir = try ScratchDirectory()
        try dir.write("data/.keep", "")
        try dir.write("app.cap", """
            import "sqlite"
            let db = sqlite.open("data/app.db")
            sqlite.exec(db, "create table if not exists t(x); insert into t values (1)")
            print(sqlite.query_lists(db, "select count(*) from t", nil))
            """)
        let recorded = try capsule(["run", "--allow-all", "--audit", "audit.jsonl", "app.cap"], in: dir.path)
        #expect(recorded.status == 0 && recorded.out == "[[1]]\n", "\(recorded.err)")
        let audit = try String(contentsOfFile: dir.path + "/audit.jsonl", encoding: .utf8)
        #expect(audit.contains("\"who\":\"plugin:sqlite\",\"capability\":\"fs.write\",\"resource\":\"\(dir.path)/data\",\"allowed\":true"))
        let suggested = try capsule(["policy", "suggest", "audit.jsonl"], in: dir.path)
        #expect(suggested.status == 0)
        #expect(suggested.out.contains("\"fs.read:\(dir.path)/data\"") && suggested.out.contains("\"fs.write:\(dir.path)/data\""), "\(suggested.out)")
        try dir.write("capsule.json", suggested.out)
        let confined = try capsule(["run", "-P", "app.cap"], in: dir.path)
        #expect(confined.status == 0 && confined.out == "[[2]]\n", "\(confined.err)")
        // The same grants as flags: --allow-plugin=sqlite=…, which work on their own.
        let flags = try capsule(["policy", "suggest", "--flags", "audit.jsonl"], in: dir.path)
        #expect(flags.out == "--allow-plugin=sqlite=fs.read:\(dir.path)/data --allow-plugin=sqlite=fs.write:\(dir.path)/data\n")
        let words = flags.out.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        let flagged = try capsule(["run"] + words + ["app.cap"], in: dir.path)
        #expect(flagged.status == 0 && flagged.out == "[[3]]\n", "\(flagged.err)")
        // Without it, isolated: denied, naming the flag.
        try FileManager.default.removeItem(atPath: dir.path + "/capsule.json")
        let denied = try capsule(["run", "--audit", "denied.jsonl", "app.cap"], in: dir.path)
        #expect(denied.status == 70)
        #expect(denied.err.hasPrefix("app.cap:2:10: error: sqlite.open: plugin:sqlite: denied: fs.read \(dir.path)/data (grant with --allow-plugin=sqlite=fs.read:\(dir.path)/data"))
        // The worker's denial reaches the host's audit log too.
        let deniedLog = try String(contentsOfFile: dir.path + "/denied.jsonl", encoding: .utf8)
        #expect(deniedLog.contains("\"who\":\"plugin:sqlite\",\"capability\":\"fs.read\",\"resource\":\"\(dir.path)/data\",\"allowed\":false"), "\(deniedLog)")
    }
}
