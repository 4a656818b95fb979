import ArgumentParser
@testable import CapsuleCommands
import CapsuleHost
import Foundation
import Testing

/// The capability flags, the manifest (with its errors), `--audit` and `capsule policy
/// suggest`, through the parser and through the real `capsule` executable.
@Suite struct CapabilityCLITests {
    @Test func bareFlagsAreRewrittenOnlyBeforeTheScript() {
        let all = CapabilityOptions.everything
        #expect(CapabilityOptions.normalize(["run", "--allow-read", "--module-path", "--allow-env", "x.cap", "--allow-read"])
            == ["run", "--allow-read=" + all, "--module-path", "--allow-env", "x.cap", "--allow-read"])
        #expect(CapabilityOptions.normalize(["repl", "--allow-ffi"]) == ["repl", "--allow-ffi=" + all])
        #expect(CapabilityOptions.normalize(["run", "--", "--allow-read"]) == ["run", "--", "--allow-read"])
        #expect(CapabilityOptions.normalize(["policy", "suggest", "f", "--allow-net"]) == ["policy", "suggest", "f", "--allow-net"])
    }

    @Test func flagsBecomeThePolicy() throws {
        let run = try runCommand([
            "run", "--allow-read=data,/etc/hosts", "--allow-write", "--allow-env=HOME,APP_*",
            "--allow-net=example.com:443,8080", "--allow-run=git", "--allow-ffi=libm.so.6:sin,cos",
            "--allow-ffi=libz.so.1", "--allow-clock", "--allow-plugin=sqlite=fs.write:db", "x.cap", "--allow-all",
        ])
        #expect(run.arguments == ["--allow-all"])
        let policy = try run.options.capabilities.flagPolicy(directory: "/w")
        #expect(policy.grants.map(\.description) == [
            "fs.read:/w/data", "fs.read:/etc/hosts", "fs.write", "net.connect:example.com:443", "net.connect:8080",
            "net.listen:example.com:443", "net.listen:8080", "env:HOME", "env:APP_*", "run:git",
            "ffi:libm.so.6:sin,cos", "ffi:libz.so.1", "clock",
        ])
        #expect(policy.plugins == ["sqlite": [Capability(.fsWrite, "/w/db")]])
        #expect(!policy.allowsAll)
        #expect(try runCommand(["run", "--allow-all", "x.cap"]).options.capabilities.flagPolicy(directory: "/").allowsAll)
        #expect(try runCommand(["run", "x.cap"]).options.capabilities.flagPolicy(directory: "/") == Policy())
    }

    @Test(arguments: [
        (["run", "--allow-net=host:99999", "x.cap"], "--allow-net: net.connect: expected HOST or HOST:PORT, got 'host:99999'"),
        (["run", "--allow-plugin=fs.read:x", "x.cap"], "--allow-plugin: expected NAME=CAPABILITY, got 'fs.read:x'"),
        (["run", "--allow-read=a,,b", "x.cap"], "--allow-read: capability fs.read: the resource is empty (to grant every resource, give the kind alone)"),
        (["run", "--allow-env=A,", "x.cap"], "--allow-env: capability env: the resource is empty (to grant every resource, give the kind alone)"),
        (["run", "--allow-read=", "/etc/hostname", "x.cap"], "--allow-read: capability fs.read: the resource is empty (to grant every resource, give the kind alone)"),
        (["run", "--allow-write=", "/tmp", "x.cap"], "--allow-write: capability fs.write: the resource is empty (to grant every resource, give the kind alone)"),
        (["run", "--allow-env=", "x.cap"], "--allow-env: capability env: the resource is empty (to grant every resource, give the kind alone)"),
        (["run", "--allow-run=", "sh", "x.cap"], "--allow-run: capability run: the resource is empty (to grant every resource, give the kind alone)"),
        (["run", "--allow-net=", "example.com", "x.cap"], "--allow-net: capability net.connect: the resource is empty (to grant every resource, give the kind alone)"),
        (["run", "--allow-ffi=", "libc.so.6", "x.cap"], "--allow-ffi: capability ffi: the resource is empty (to grant every resource, give the kind alone)"),
        (["run", "--allow-plugin=x=fs.read:", "x.cap"], "--allow-plugin: capability fs.read: the resource is empty (to grant every resource, give the kind alone)"),
        (["run", "--allow-plugin=no-name=clock", "x.cap"], "--allow-plugin: 'no-name' is not a plugin name ([A-Za-z_][A-Za-z0-9_]*)"),
    ])
    func malformedFlagsAreUsageErrors(_ arguments: [String], _ message: String) {
        expectUsageError(arguments, message)
    }

    @Test func manifestErrorsExit65WithLineAndColumn() throws {
        let dir = try ScratchDirectory()
        try dir.write("tool.cap", "print(1)\n")
        try dir.write("capsule.json", "{\n  \"allow\": [\"clock\"],\n  \"plugin\": {}\n}\n")
        let result = try capsule(["run", "-P", "tool.cap"], in: dir.path)
        #expect(result.status == 65)
        #expect(result.err == "./capsule.json:3:3: error: unknown key \"plugin\" (known: \"allow\", \"allow-all\", \"plugins\")\n")
        #expect(result.out == "")
        // --manifest picks another file; a missing one is an I/O error.
        let missing = try capsule(["run", "--manifest", "nope.json", "tool.cap"], in: dir.path)
        #expect(missing.status == 74)
        #expect(missing.err == "error: cannot read nope.json: No such file or directory (the policy manifest)\n")
    }

    /// A manifest is applied only when asked for (-P, --manifest): one shipped beside a
    /// script is reported in one stderr line and grants nothing.
    @Test func aManifestBesideTheScriptIsNeverAppliedSilently() throws {
        let dir = try ScratchDirectory()
        try dir.write("tool.cap", "import \"env\"\nprint(env.get(\"HOME\") != nil)\n")
        try dir.write("capsule.json", #"{"allow-all": true}"#)
        let plain = try capsule(["run", "tool.cap"], in: dir.path)
        #expect(plain.status == 70)
        #expect(plain.err == """
            capsule: note: ./capsule.json was not applied: a manifest grants nothing unless asked (apply it with -P, or --manifest ./capsule.json)
            tool.cap:2:7: error: denied: env HOME (grant with --allow-env=HOME)
                print(env.get("HOME") != nil)
                      ^
              at <script> (tool.cap:2:7)\n
            """)
        let asked = try capsule(["run", "-P", "tool.cap"], in: dir.path)
        #expect(asked.status == 0 && asked.out == "true\n" && asked.err == "")
        let named = try capsule(["run", "--manifest", "capsule.json", "tool.cap"], in: dir.path)
        #expect(named.status == 0 && named.out == "true\n" && named.err == "")
        let both = try capsule(["run", "-P", "--manifest", "capsule.json", "tool.cap"], in: dir.path)
        #expect(both.status == 64)
        try FileManager.default.removeItem(atPath: dir.path + "/capsule.json")
        let none = try capsule(["run", "-P", "tool.cap"], in: dir.path)
        #expect(none.status == 74 && none.err == "error: -P: there is no capsule.json in .\n")
    }

    /// The manifest's grants go through the flags' validator: `"fs.read:"` is an error with
    /// its position, as `--allow-read=` is a usage error, never a grant of every path.
    @Test func anEmptyResourceInTheManifestIsAnError() throws {
        let dir = try ScratchDirectory()
        try dir.write("tool.cap", "import \"fs\"\nprint(fs.read(\"/etc/hostname\"))\n")
        try dir.write("capsule.json", "{\n  \"allow\": [\"fs.read:\"]\n}\n")
        let result = try capsule(["run", "-P", "tool.cap"], in: dir.path)
        #expect(result.status == 65)
        #expect(result.err == "./capsule.json:2:13: error: capability fs.read: the resource is empty (to grant every resource, give the kind alone)\n")
        #expect(result.out == "")
        let flag = try capsule(["run", "--allow-read=a,,b", "tool.cap"], in: dir.path)
        #expect(flag.status == 64)
        // `--allow-read=` with nothing after `=` never grants the next word.
        let empty = try capsule(["run", "--allow-read=", "/etc/hostname", "tool.cap"], in: dir.path)
        #expect(empty.status == 64)
        #expect(empty.err.contains("--allow-read: capability fs.read: the resource is empty"), "\(empty.err)")
        #expect(empty.out == "")
    }

    @Test func auditThenSuggestThenRerunWithTheManifest() throws {
        let dir = try ScratchDirectory()
        try dir.write("data/a.txt", "A")
        try dir.write("data/b.txt", "B")
        try dir.write("data/c.txt", "C")
        try dir.write("notes.txt", "N")
        try dir.write("tool.cap", """
            import "fs"
            import "env"
            import "time"
            let total = fs.read("data/a.txt") + fs.read("data/b.txt") + fs.read("data/c.txt") + fs.read("notes.txt")
            fs.write("out.txt", total)
            print(total, env.get("CAPSULE_AUDIT_TEST") != 1, time.now() > 0)
            """)
        // No grants: denied at the first read, and the log says so.
        let first = try capsule(["run", "--audit", "audit.jsonl", "tool.cap"], in: dir.path)
        #expect(first.status == 70)
        #expect(first.err.hasPrefix("tool.cap:4:13: error: denied: fs.read \(dir.path)/data/a.txt (grant with --allow-read=\(dir.path)/data/a.txt)\n"))
        // Suggest a manifest from the log and rerun under it (still auditing) until the run
        // passes: each round adds what the previous one was denied.
        var suggestion = (status: Int32(0), out: "", err: "")
        var rounds = 0
        while true {
            rounds += 1
            suggestion = try capsule(["policy", "suggest", "audit.jsonl"], in: dir.path)
            #expect(suggestion.status == 0)
            try dir.write("capsule.json", suggestion.out)
            let again = try capsule(["run", "-P", "--audit", "audit.jsonl", "tool.cap"], in: dir.path)
            if again.status == 0 || rounds == 10 { break }
            #expect(again.err.contains(": error: denied: "))
        }
        #expect(rounds == 7)   // a.txt, b.txt, c.txt, notes.txt, out.txt, the env var, the clock
        #expect(suggestion.out == """
            {
              "allow": [
                "fs.read:\(dir.path)/data",
                "fs.read:\(dir.path)/notes.txt",
                "fs.write:\(dir.path)/out.txt",
                "env:CAPSULE_AUDIT_TEST",
                "clock"
              ]
            }\n
            """)
        // The suggested manifest, applied with -P, lets the run pass.
        try FileManager.default.removeItem(atPath: dir.path + "/out.txt")
        let rerun = try capsule(["run", "-P", "tool.cap"], in: dir.path)
        #expect(rerun.err == "")
        #expect(rerun.status == 0)
        #expect(rerun.out == "ABCN true true\n")
        #expect(dir.read("out.txt") == "ABCN")
        // …and nothing more: another file is still denied.
        try dir.write("other.cap", #"import "fs"\#nfs.read("tool.cap")"#)
        let other = try capsule(["run", "-P", "other.cap"], in: dir.path)
        #expect(other.status == 70)
        #expect(other.err.hasPrefix("other.cap:2:1: error: denied: fs.read \(dir.path)/tool.cap"))
    }

    @Test func envSetAndGetInAProcessOfItsOwn() throws {
        let dir = try ScratchDirectory()
        try dir.write("uses_env.cap", """
            import "env"
            env.set("CAPSULE_APP_MODE", "test")
            print(env.get("CAPSULE_APP_MODE"))
            try { env.set("PATH", "") } catch e { print(e.message) }
            """)
        let result = try capsule(["run", "--allow-env=CAPSULE_APP_*", "uses_env.cap"], in: dir.path)
        #expect(result.out == "test\ndenied: env PATH (grant with --allow-env=PATH)\n")
        #expect(result.status == 0)
    }

    @Test func suggestGroupsPluginsAndMergesFFISymbols() throws {
        let log = """
            {"time":"t","who":"script","capability":"ffi","resource":"libm.so.6","allowed":true}
            {"time":"t","who":"script","capability":"ffi","resource":"libm.so.6:sin","allowed":true}
            {"time":"t","who":"script","capability":"ffi","resource":"libm.so.6:cos","allowed":false}
            {"time":"t","who":"plugin:sqlite","capability":"fs.write","resource":"/d/x.db","allowed":false}
            {"time":"t","who":"script","capability":"fs.read","resource":"/d/x.db","allowed":true}
            {"time":"t","who":"script","capability":"fs.read","resource":"/d","allowed":true}

            """
        let policy = try PolicySuggestion.manifest(auditLog: log, fileName: "a.jsonl").get()
        #expect(policy.grants.map(\.description) == ["fs.read:/d", "ffi:libm.so.6:sin,cos"])
        #expect(policy.plugins == ["sqlite": [Capability(.fsWrite, "/d/x.db")]])
        guard case .failure(let error) = PolicySuggestion.manifest(auditLog: log + "{\"who\":\"script\"}\n", fileName: "a.jsonl") else {
            Issue.record("accepted a bad record")
            return
        }
        #expect(error.description == "a.jsonl:7:1: error: an audit record needs \"who\" and \"capability\" strings")
    }

    /// A denied use no grant can name (a control character in the path) is left out and
    /// reported, so the suggested manifest always loads.
    @Test func suggestLeavesOutUsesNoGrantCanName() throws {
        let log = """
            {"time":"t","who":"script","capability":"fs.read","resource":"/d/a\\u001b[2Jb","allowed":false}
            {"time":"t","who":"script","capability":"fs.read","resource":"/d/x","allowed":true}

            """
        var skipped: [String] = []
        let policy = try PolicySuggestion.manifest(auditLog: log, fileName: "a.jsonl", skipped: &skipped).get()
        #expect(policy.grants.map(\.description) == ["fs.read:/d/x"])
        #expect(skipped == ["fs.read:/d/a?[2Jb (line 1): capability fs.read: the resource contains a control character"])
        let text = PolicyManifest.render(policy)
        #expect(throws: Never.self) { try PolicyManifest.parse(text, fileName: "capsule.json", baseDirectory: "/").get() }
    }
}
