@testable import CapsuleHost
@testable import CapsuleSystem
import Foundation
import Testing

/// The `proc` module: how `run:` grants match names and paths, what the child inherits,
/// the audit records, and the limits (the script's timeout, the VM's deadline, groups).
@Suite struct ProcModuleTests {
    let prelude = "fn t(f) { try { print(f()) } catch e { print(e.message) } }\nimport \"proc\"\n"

    @Test func aBareNameIsAllowedByItsNameOrByThePathItResolvesTo() throws {
        let sh = try #require(ProcModule.lookUp("sh"))
        let source = prelude + """
            t(fn() { return proc.run("sh", ["-c", "echo by-name"])["stdout"] })
            t(fn() { return proc.run("/bin/sh", ["-c", "echo by-path"])["stdout"] })
            t(fn() { return proc.run("\(sh)", ["-c", "echo resolved"])["stdout"] })
            """
        // A name grant allows the name only, not a path.
        #expect(run(source, policy: Policy(grants: [Capability(.run, "sh")])) == """
            by-name\n
            denied: run /bin/sh (grant with --allow-run=/bin/sh)
            denied: run \(sh) (grant with --allow-run=\(sh))\n
            """)
        // A grant of the path PATH finds allows the name too (it is what runs).
        #expect(run(source, policy: Policy(grants: [Capability(.run, sh)])).hasPrefix("by-name\n\n"))
        #expect(run(source, policy: Policy(grants: [Capability(.run, sh)])).hasSuffix("resolved\n\n"))
    }

    @Test func grantsOfPathsAreAbsoluteAndExact() {
        #expect(Capability.parse("run:./bin/tool", baseDirectory: "/srv/app") == .success(Capability(.run, "/srv/app/bin/tool")))
        #expect(Capability.parse("run:/opt/x/../tool", baseDirectory: "/") == .success(Capability(.run, "/opt/tool")))
        #expect(Capability.parse("run:git", baseDirectory: "/srv") == .success(Capability(.run, "git")))
        // Requests keep `..`: /usr/bin/../bin/echo is not /usr/bin/echo to the grant, and no
        // grant can name it (a grant's `..` is applied): the advice is its resolved path.
        let out = run(prelude + #"t(fn() { return proc.run("/usr/bin/../bin/echo", ["x"]) })"#,
                      policy: Policy(grants: [Capability(.run, "/usr/bin/echo")]))
        #expect(out == "denied: run /usr/bin/../bin/echo (a program path is matched as written, and no grant has '..' in it: "
            + "write it as /usr/bin/echo (grant with --allow-run=/usr/bin/echo))\n")
    }

    @Test func theChildGetsOnlyStandardDescriptorsAndTheGivenEnvironment() throws {
        let sh = Capability(.run, "/bin/sh")
        // fd 3 is ls's own directory descriptor; nothing of the host (the test runner's
        // files, sockets, pipes) is open in the child.
        let fds = run(prelude + #"print(proc.run("/bin/sh", ["-c", "ls /proc/self/fd"])["stdout"])"#,
                      policy: Policy(grants: [sh]))
        #expect(fds == "0\n1\n2\n3\n\n")
        let path = String(cString: try #require(getenv("PATH")))
        let env = run(prelude + """
            print(proc.run("/usr/bin/env")["stdout"] == "")
            print(proc.run("/usr/bin/env", [], {"env": {"A": "1", "B": "two words"}})["stdout"])
            print(proc.run("/usr/bin/env", [], {"inherit_env": true})["stdout"] == "PATH=\(path)\n")
            print(proc.run("/usr/bin/env", [], {"inherit_env": ["PATH"], "env": {"PATH": "/x"}})["stdout"])
            """, policy: Policy(grants: [Capability(.run, "/usr/bin/env"), Capability(.env, "PATH")]))
        #expect(env == "true\nA=1\nB=two words\n\ntrue\nPATH=/x\n\n")
    }

    @Test func auditRecordsRunEnvAndTheWorkingDirectory() throws {
        let sh = try #require(ProcModule.lookUp("sh"))
        let lines = OutputCapture()
        _ = run(prelude + """
            t(fn() { return proc.run("sh", ["-c", "true"], {"cwd": "/tmp", "inherit_env": ["PATH"]})["code"] })
            t(fn() { return proc.run("/bin/cat") })
            """, policy: Policy(grants: [Capability(.run, sh), Capability(.fsRead, "/tmp"), Capability(.env, "PATH")]),
            audit: AuditLog { lines.append($0) })
        let records = lines.text.split(separator: "\n").map { String($0.drop(while: { $0 != "," }).dropFirst()) }
        #expect(records == [
            #""who":"script","capability":"run","resource":"\#(sh)","allowed":true}"#,
            #""who":"script","capability":"env","resource":"PATH","allowed":true}"#,
            #""who":"script","capability":"fs.read","resource":"/tmp","allowed":true}"#,
            #""who":"script","capability":"run","resource":"/bin/cat","allowed":false}"#,
        ])
    }

    @Test func theTimeoutKillsTheWholeProcessGroup() throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-proc-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let start = Date()
        let out = run(prelude + """
            t(fn() { return proc.run("/bin/sh", ["-c", "sleep 30 & echo $! > \(marker); sleep 30"], {"timeout": 0.3}) })
            """, policy: Policy(grants: [Capability(.run, "/bin/sh")]))
        #expect(out == "proc.run: /bin/sh timed out after 0.3s and was killed\n")
        #expect(Date().timeIntervalSince(start) < 5)
        let pid = try #require(Int32(try String(contentsOfFile: marker, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        // The background sleep is gone (or a zombie waiting for init): never still sleeping.
        var gone = false
        for _ in 0..<100 {
            let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
            if stat == nil || stat!.contains(") Z ") || stat!.contains(") X ") { gone = true; break }
            usleep(10_000)
        }
        #expect(gone)
    }

    @Test func theVMsTimeoutEndsTheRunWhileAChildIsRunning() {
        let capture = OutputCapture()
        var configuration = Configuration()
        configuration.policy = Policy(grants: [Capability(.run, "/bin/sleep")])
        configuration.timeout = .milliseconds(300)
        configuration.output = { capture.append($0) }
        let vm = VM(configuration: configuration)
        PluginHost(environment: [:]).install(on: vm)
        let start = Date()
        let outcome = vm.run(source: prelude + #"try { proc.run("/bin/sleep", ["30"]) } catch e { print("caught", e.message) }"#, name: "t.cap")
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(outcome.errorText.hasPrefix("error: timeout of 300ms exceeded"))
        #expect(capture.text == "")
    }

    @Test func worksUnderGCStress() {
        let out = run(prelude + """
            let r = proc.run("/bin/sh", ["-c", "echo out; echo err >&2; exit 2"], {"input": "ignored", "env": {"A": "1"}})
            print(r["code"], r["stdout"], r["stderr"], r["signal"])
            """, gcStress: true, policy: Policy(grants: [Capability(.run, "/bin/sh")]))
        #expect(out == "2 out\n err\n nil\n")
    }
}
