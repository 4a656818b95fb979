@testable import CapsuleHost
@testable import CapsuleSystem
import Foundation
import Testing

/// The fs, env and time modules under grants, the audit log, per-plugin grants through the
/// host-API table, plugin admission, and raw FFI per library and symbol.
@Suite struct HostModuleTests {
    let prelude = "fn t(f) { try { print(f()) } catch e { print(e.message) } }\n"

    @Test func withoutGrantsImportWorksButEveryOperationIsDeniedAndCatchable() {
        let out = run(prelude + """
            import "fs"
            import "env"
            import "time"
            t(fn() { return fs.read("/etc/passwd") })
            t(fn() { return fs.write("/tmp/x", "y") })
            t(fn() { return env.get("HOME") })
            t(fn() { return time.now() })
            t(fn() { return time.sleep(0) })
            print(time.monotonic() > 0)
            try { fs.read("/etc/passwd") } catch e { print(e.message) }
            """)
        #expect(out == """
            denied: fs.read /etc/passwd (grant with --allow-read=/etc/passwd)
            denied: fs.write /tmp/x (grant with --allow-write=/tmp/x)
            denied: env HOME (grant with --allow-env=HOME)
            denied: clock (grant with --allow-clock)
            denied: clock (grant with --allow-clock)
            true
            denied: fs.read /etc/passwd (grant with --allow-read=/etc/passwd)\n
            """)
        // Uncaught, a denial is an ordinary runtime error.
        #expect(run(#"import "fs"\#nfs.read("/etc/passwd")"#) == "ERROR: error: denied: fs.read /etc/passwd (grant with --allow-read=/etc/passwd)")
    }

    @Test func fsOperationsWorkInsideAWriteAndReadGrant() {
        let s = Sandbox()
        let g = s.granted
        let out = run(prelude + """
            import "fs"
            fs.write("\(g)/a.txt", "one\\n")
            fs.append("\(g)/a.txt", "two\\nthree")
            print(fs.read("\(g)/a.txt"))
            print(len(fs.read_bytes("\(g)/a.txt")))
            fs.mkdir("\(g)/d")
            fs.rename("\(g)/a.txt", "\(g)/d/b.txt")
            print(fs.list("\(g)"))
            print(fs.list("\(g)/d"))
            let st = fs.stat("\(g)/d/b.txt")
            print(st["type"], st["size"], fs.stat("\(g)/d")["type"])
            print(fs.exists("\(g)/d/b.txt"), fs.exists("\(g)/nope"))
            let f = fs.open("\(g)/d/b.txt", "r")
            print(fs.read_line(f), fs.read_chunk(f, 3).decode(), fs.read_line(f), fs.read_line(f), fs.read_line(f))
            fs.close(f)
            t(fn() { return fs.read_line(f) })
            let w = fs.open("\(g)/d/c.txt", "w")
            print(fs.write_chunk(w, "abc"), fs.write_chunk(w, bytes("de")))
            fs.close(w)
            print(fs.read("\(g)/d/c.txt"))
            fs.remove("\(g)/d/b.txt")
            fs.remove("\(g)/d/c.txt")
            fs.remove("\(g)/d")
            print(fs.exists("\(g)/d"))
            t(fn() { return fs.read("\(g)/nope") })
            t(fn() { return fs.open("\(g)/inside.txt", "x") })
            """, policy: Policy(grants: [Capability(.fsRead, g), Capability(.fsWrite, g)]))
        #expect(out == """
            one
            two
            three
            13
            ["d", "inside.txt", "sub"]
            ["b.txt"]
            file 13 dir
            true false
            one two  three nil
            fs.read_line: argument 1: the file is closed
            3 2
            abcde
            false
            fs.read: \(g)/nope: No such file or directory
            fs.open: unknown mode 'x' (use "r", "w", "a" or "r+")\n
            """)
    }

    /// Reads variables the test process already has: calling setenv while other tests'
    /// threads read the environment is a data race in glibc (env.set is tested through
    /// the CLI, in a process of its own).
    @Test func envGrantsByNameAndPattern() throws {
        let path = String(cString: try #require(getenv("PATH")))
        let out = run(prelude + """
            import "env"
            t(fn() { return env.get("PATH") == "\(path)" })
            t(fn() { return env.get("HOME") })
            t(fn() { return env.get("CAPSULE_APP_UNSET") })
            t(fn() { return env.get("A=B") })
            t(fn() { return env.set("HOME", "/tmp") })
            """, policy: Policy(grants: [Capability(.env, "PATH"), Capability(.env, "CAPSULE_APP_*")]))
        #expect(out == """
            true
            denied: env HOME (grant with --allow-env=HOME)
            nil
            denied: env A=B (not a valid variable name)
            denied: env HOME (grant with --allow-env=HOME)\n
            """)
    }

    @Test func timeWithClock() {
        let out = run(prelude + """
            import "time"
            let t0 = time.monotonic()
            time.sleep(0.01)
            print(time.monotonic() - t0 >= 0.01, time.now() > 1700000000)
            t(fn() { return time.sleep(-1) })
            """, policy: Policy(grants: [Capability(.clock)]))
        #expect(out == "true true\ntime.sleep: argument 1: expected a finite number of seconds >= 0, got -1\n")
    }

    @Test func auditRecordsEveryUseAllowedOrDenied() {
        let s = Sandbox()
        let lines = OutputCapture()
        let audit = AuditLog { lines.append($0) }
        _ = run(prelude + """
            import "fs"
            import "time"
            t(fn() { return fs.read("\(s.granted)/inside.txt") })
            t(fn() { return fs.read("\(s.outside)") })
            t(fn() { return fs.read("\(s.granted)/../outside.txt") })
            t(fn() { return time.now() })
            """, policy: Policy(grants: s.readGrant), audit: audit)
        let records = lines.text.split(separator: "\n").map { line in
            String(line.drop(while: { $0 != "," }).dropFirst())   // without the time
        }
        #expect(records == [
            #""who":"script","capability":"fs.read","resource":"\#(s.granted)/inside.txt","allowed":true}"#,
            #""who":"script","capability":"fs.read","resource":"\#(s.outside)","allowed":false}"#,
            #""who":"script","capability":"fs.read","resource":"\#(s.outside)","allowed":false}"#,   // resolved: the grant that would work,
            #""who":"script","capability":"clock","allowed":false}"#,
        ])
        #expect(lines.text.hasPrefix("{\"time\":\"20"))
    }

    @Test func pluginsUseTheirOwnGrantsNotTheScripts() throws {
        let s = Sandbox()
        let source = prelude + """
            import "host_services"
            t(fn() { return host_services.read_head("\(s.granted)/inside.txt") })
            t(fn() { return host_services.write_text("\(s.granted)/w.txt", "written") })
            t(fn() { return host_services.read_head("\(s.granted)/../outside.txt") })
            t(fn() { return host_services.get("PATH") == "\(String(cString: getenv("PATH")))" })
            """
        // The script's grants do not reach the plugin.
        let scriptOnly = run(source, pluginPaths: [Fixtures.directory], policy: Policy(grants: s.readGrant + [Capability(.env)]))
        let hint = "or under \"plugins\" in capsule.json)"
        #expect(scriptOnly == """
            host_services.read_head: plugin:host_services: denied: fs.read \(s.granted)/inside.txt (grant with --allow-plugin=host_services=fs.read:\(s.granted)/inside.txt \(hint)
            host_services.write_text: plugin:host_services: denied: fs.write \(s.granted)/w.txt (grant with --allow-plugin=host_services=fs.write:\(s.granted)/w.txt \(hint)
            host_services.read_head: plugin:host_services: denied: fs.read \(s.granted)/../outside.txt (it resolves to \(s.outside): grant with --allow-plugin=host_services=fs.read:\(s.outside) \(hint)
            host_services.get: plugin:host_services: denied: env PATH (grant with --allow-plugin=host_services=env:PATH \(hint)\n
            """)
        // Its own grants do: read only, so writing is still denied, and confinement holds.
        let own = run(source, pluginPaths: [Fixtures.directory],
                      policy: Policy(plugins: ["host_services": [Capability(.fsRead, s.granted), Capability(.env, "PAT*")]]))
        #expect(own == """
            inside\n
            host_services.write_text: plugin:host_services: denied: fs.write \(s.granted)/w.txt (grant with --allow-plugin=host_services=fs.write:\(s.granted)/w.txt \(hint)
            host_services.read_head: plugin:host_services: denied: fs.read \(s.granted)/../outside.txt (it resolves to \(s.outside): grant with --allow-plugin=host_services=fs.read:\(s.outside) \(hint)
            true\n
            """)
        let writer = run(source, pluginPaths: [Fixtures.directory],
                         policy: Policy(plugins: ["host_services": [Capability(.fsWrite, s.granted)]]))
        #expect(writer.split(separator: "\n")[1] == "7")
        #expect(try String(contentsOfFile: s.granted + "/w.txt", encoding: .utf8) == "written")
    }

    @Test func aPluginRequiringACapabilityLoadsOnceItIsGrantedToIt() {
        let cwd = CapabilityEnforcer.currentDirectory()
        let refused = "cannot load plugin \(Fixtures.path("needs_capability")): plugin needs_capability requires capability fs.read:./data, which is not granted"
        // Granted to the script only: still refused.
        #expect(run(#"import "needs_capability""#, pluginPaths: [Fixtures.directory],
                    policy: Policy(grants: [Capability(.fsRead)])).hasPrefix("ERROR: error: " + refused))
        // Granted to the plugin (a directory above ./data covers it).
        #expect(run(#"import "needs_capability"\#nprint("loaded")"#, pluginPaths: [Fixtures.directory],
                    policy: Policy(plugins: ["needs_capability": [Capability(.fsRead, cwd)]])) == "loaded\n")
        // A narrower grant does not.
        #expect(run(#"import "needs_capability""#, pluginPaths: [Fixtures.directory],
                    policy: Policy(plugins: ["needs_capability": [Capability(.fsRead, cwd + "/data/sub")]])).hasPrefix("ERROR: error: " + refused))
        #expect(run(#"import "needs_capability"\#nprint("loaded")"#, pluginPaths: [Fixtures.directory], policy: .all) == "loaded\n")
    }

    @Test func rawFFIPerLibraryAndPerSymbol() {
        let source = prelude + """
            import "ffi"
            let libc = ffi.open(nil)
            t(fn() { return ffi.bind(libc, "abs", "(i32) -> i32")(-4) })
            t(fn() { return ffi.bind(libc, "getpid", "() -> i32") })
            t(fn() { return ffi.open("libm.so.6") })
            """
        let out = run(source, policy: Policy(grants: [Capability(.ffi, "process:abs,labs")]))
        #expect(out == """
            4
            denied: ffi process:getpid (grant with --allow-ffi=process:getpid)
            denied: ffi libm.so.6 (grant with --allow-ffi=libm.so.6)\n
            """)
        #expect(run(#"import "ffi""#, policy: Policy(grants: [Capability(.fsRead)])) == "ERROR: error: denied: ffi (grant with --allow-ffi)")
    }
}
