@testable import CapsuleCommands
import CapsuleHost
import Foundation
import Testing

/// `--allow-run` and `--allow-net` through the real `capsule` executable, the audit log →
/// `capsule policy suggest` → manifest round trip for run: and net grants, and the golden
/// runner's `// flags:` lines.
@Suite struct ProcNetCLITests {
    @Test func allowRunAndAllowNetWorkEndToEnd() throws {
        let dir = try ScratchDirectory()
        try dir.write("tool.cap", """
            import "proc"
            import "net"
            print(proc.run("/bin/echo", ["from", "echo"])["stdout"].trim())
            let server = net.listen("127.0.0.1", 0)
            let c = net.connect("127.0.0.1", net.port(server))
            net.write(net.accept(server), "over tcp\\n")
            print(net.read_line(c))
            """)
        let granted = try capsule(["run", "--allow-run=/bin/echo", "--allow-net=127.0.0.1,127.0.0.1:0", "tool.cap"], in: dir.path)
        #expect(granted.err == "")
        #expect(granted.out == "from echo\nover tcp\n")
        #expect(granted.status == 0)
        let noRun = try capsule(["run", "--allow-net", "tool.cap"], in: dir.path)
        #expect(noRun.status == 70)
        #expect(noRun.err.hasPrefix("tool.cap:3:7: error: denied: run /bin/echo (grant with --allow-run=/bin/echo)\n"))
        // --allow-net=127.0.0.1 allows connecting but not listening (that needs a port).
        let noListen = try capsule(["run", "--allow-run", "--allow-net=127.0.0.1", "tool.cap"], in: dir.path)
        #expect(noListen.status == 70)
        #expect(noListen.err.hasPrefix("tool.cap:4:14: error: denied: net.listen 127.0.0.1:0 (grant with --allow-net=127.0.0.1:0)\n"))
    }

    @Test func runFlagsResolveRelativePathsAndKeepNames() throws {
        let run = try runCommand(["run", "--allow-run=git,./bin/tool,/usr/bin/env", "x.cap"])
        let policy = try run.options.capabilities.flagPolicy(directory: "/w")
        #expect(policy.grants.map(\.description) == ["run:git", "run:/w/bin/tool", "run:/usr/bin/env"])
    }

    @Test func auditThenSuggestProducesRunAndNetGrants() throws {
        let dir = try ScratchDirectory()
        try dir.write("sub/keep.txt", "")
        try dir.write("tool.cap", """
            import "proc"
            import "net"
            print(proc.run("/bin/echo", ["hi"])["stdout"].trim())
            print(proc.run("sh", ["-c", "pwd"], {"cwd": "sub"})["stdout"].trim().ends_with("/sub"))
            let server = net.listen("127.0.0.1", 0)
            print(net.port(server) > 0)
            // Nothing listens on port 1: refused, caught; a denial is thrown on.
            try { net.connect("127.0.0.1", 1) } catch e {
                if e.message.starts_with("denied") { throw e }
                print(e.message)
            }
            """)
        try dir.write("capsule.json", "{}")   // -P applies it; each round replaces it
        var suggestion = (status: Int32(0), out: "", err: "")
        var last = (status: Int32(0), out: "", err: "")
        var rounds = 0
        while true {
            rounds += 1
            last = try capsule(["run", "-P", "--audit", "audit.jsonl", "tool.cap"], in: dir.path)
            if last.status == 0 || rounds == 10 { break }
            #expect(last.err.contains(": error: denied: "))
            suggestion = try capsule(["policy", "suggest", "audit.jsonl"], in: dir.path)
            #expect(suggestion.status == 0)
            try dir.write("capsule.json", suggestion.out)
        }
        #expect(rounds == 6)   // /bin/echo, sh, the cwd, the listen, the connect; then it passes
        #expect(last.out == "hi\ntrue\ntrue\nnet.connect: 127.0.0.1:1: Connection refused\n")
        #expect(suggestion.out == """
            {
              "allow": [
                "fs.read:\(dir.path)/sub",
                "net.connect:127.0.0.1:1",
                "net.listen:127.0.0.1:0",
                "run:/bin/echo",
                "run:sh"
              ]
            }\n
            """)
        // The manifest allows exactly that: another program is still denied.
        try dir.write("other.cap", #"import "proc"\#nproc.run("/bin/cat")"#)
        let other = try capsule(["run", "-P", "other.cap"], in: dir.path)
        #expect(other.status == 70)
        #expect(other.err.hasPrefix("other.cap:2:1: error: denied: run /bin/cat (grant with --allow-run=/bin/cat)"))
    }

    @Test func goldenFlagLinesGrantAndLimit() throws {
        #expect(GoldenFlags.words(in: "// flags: --allow-run=/bin/sh  --timeout 2s\n// flags: --allow-clock\n// flags: --x\nprint(1)")
                == ["--allow-run=/bin/sh", "--timeout", "2s", "--allow-clock", "--x"])
        // Only the comment block at the top counts.
        #expect(GoldenFlags.words(in: "print(1)\n// flags: --allow-run") == [])
        let dir = try ScratchDirectory()
        try dir.write("granted.cap", "// flags: --allow-run=/bin/echo --allow-read=.\nimport \"proc\"\nprint(proc.run(\"/bin/echo\", [\"ok\"], {\"cwd\": \"\(dir.path)\"})[\"stdout\"])")
        try dir.write("granted.out", "ok\n\n")
        try dir.write("bad.cap", "// flags: --allow-net=h:99999\nprint(1)")
        try dir.write("bad.err", "error: bad // flags: line: --allow-net: net.connect: expected HOST or HOST:PORT, got 'h:99999'\n")
        try dir.write("audit.cap", "// flags: --audit log.jsonl\nprint(1)")
        try dir.write("audit.err", "error: bad // flags: line: --audit, --manifest and -P are not allowed in a golden case's flags\n")
        try dir.write("manifest.cap", "// flags: -P\nprint(1)")
        try dir.write("manifest.err", "error: bad // flags: line: --audit, --manifest and -P are not allowed in a golden case's flags\n")
        let runner = GoldenRunner(root: dir.path)
        let results = runner.discover().map { runner.run($0) }
        #expect(results.count == 4)
        for r in results { #expect(r.passed, "\(r.testCase.name):\n\(r.diff())") }
        #expect(dir.read("log.jsonl") == nil)
    }
}
