@testable import CapsuleHost
import Foundation
import Testing

/// Where plugins run (the policy's `isolated`/`trusted` sets and the default rule) and how a
/// plugin's grants bind its worker (docs/security.md#isolated-plugins). The `unruly` fixture
/// declares optional fs, net and env capabilities, so it runs isolated by default.
@Suite struct IsolationPolicyTests {
    /// Runs `source` with the fixtures on the plugin path under `policy`; also returns which
    /// plugins ran isolated and which in-process.
    func placed(_ source: String, _ policy: Policy = .none, environment: [String: String] = [:],
                isolation: IsolationPolicy = .none, pluginPaths: [String] = [Fixtures.directory])
        -> (output: String, isolated: Set<String>, inProcess: Set<String>) {
        var isolated: Set<String> = [], inProcess: Set<String> = []
        let output = run(source, pluginPaths: pluginPaths, policy: policy, isolation: isolation, environment: environment) { host in
            isolated = Set(host.isolated.keys)
            inProcess = Set(host.bridges.keys)
        }
        return (output, isolated, inProcess)
    }

    static func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-isopolicy-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func fsGrantsBecomeTheWorkersLandlockPaths() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let policy = Policy(plugins: ["unruly": [Capability(.fsRead, "/etc/passwd"), Capability(.fsRead, dir), Capability(.fsWrite, dir)]])
        let result = placed("""
            import "unruly"
            print(unruly.read_file("/etc/passwd") > 0, unruly.read_file("/etc/hostname"))
            print(unruly.write_file("\(dir)/out.txt", "hello"), unruly.read_file("\(dir)/out.txt"))
            print(unruly.write_file("\(dir)-outside.txt", "x"))
            """, policy)
        #expect(result.output == "true -\(EACCES)\n5 5\n-\(EACCES)\n")
        #expect(result.isolated == ["unruly"])
        #expect(!FileManager.default.fileExists(atPath: dir + "-outside.txt"))
        // The script's own grants are not the plugin's.
        let scriptOnly = placed("import \"unruly\"\nprint(unruly.read_file(\"/etc/passwd\"))",
                                Policy(grants: [Capability(.fsRead, "/etc/passwd")]))
        #expect(scriptOnly.output == "-\(EACCES)\n")
    }

    @Test func netGrantsBecomePortsOnAnyHost() {
        let (a, portA) = IsolationTests.listener(), (b, portB) = IsolationTests.listener()
        defer { close(a); close(b) }
        let source = """
            import "unruly"
            print(unruly.connect_port(\(portA)), unruly.connect_port(\(portB)))
            """
        #expect(placed(source).output == "-\(EPERM) -\(EPERM)\n")
        // The host part is not enforced in the worker: only the port is.
        let onePort = Policy(plugins: ["unruly": [Capability(.netConnect, "example.org:\(portA)")]])
        #expect(placed(source, onePort).output == "0 -\(EACCES)\n")
        let anyPort = Policy(plugins: ["unruly": [Capability(.netConnect, "127.0.0.1")]])
        #expect(placed(source, anyPort).output == "0 0\n")
    }

    @Test func envGrantsCopyOnlyTheGrantedVariables() {
        let environment = ["CAPSULE_ISO_A": "alpha", "CAPSULE_ISO_B": "beta", "SECRET_TOKEN": "hunter2", "HOME": "/root"]
        let source = """
            import "unruly"
            print(unruly.env_get("CAPSULE_ISO_A"), unruly.env_get("CAPSULE_ISO_B"), unruly.env_get("SECRET_TOKEN"), unruly.env_get("HOME"))
            """
        #expect(placed(source, environment: environment).output == "(unset) (unset) (unset) (unset)\n")
        let pattern = Policy(plugins: ["unruly": [Capability(.env, "CAPSULE_ISO_*"), Capability(.env, "HOME")]])
        #expect(placed(source, pattern, environment: environment).output == "alpha beta (unset) /root\n")
    }

    @Test func pureComputationRunsInProcessAndEverythingElseIsolated() {
        let source = """
            import "cmath"
            import "unruly"
            print(cmath.add(1, 2), unruly.worker_pid() != \(getpid()))
            """
        let byDefault = placed(source)
        #expect(byDefault.output == "3 true\n")
        #expect(byDefault.isolated == ["unruly"] && byDefault.inProcess == ["cmath"])
        // --isolate=cmath: isolated although it declares nothing.
        let isolatedCmath = placed(source, Policy(isolated: ["cmath"]))
        #expect(isolatedCmath.isolated == ["cmath", "unruly"] && isolatedCmath.inProcess.isEmpty)
    }

    @Test func trustedPluginsRunInProcessWithTheirGrantsStillChecked() {
        let source = "import \"unruly\"\nprint(unruly.worker_pid() == \(getpid()))"
        let grants = [Capability(.fsRead, "/tmp"), Capability(.netConnect, "localhost"), Capability(.env, "X")]
        let trusted = placed(source, Policy(plugins: ["unruly": grants], trusted: ["unruly"]))
        #expect(trusted.output == "true\n")
        #expect(trusted.inProcess == ["unruly"] && trusted.isolated.isEmpty)
        // Trusted but not granted what it imports: the import audit still refuses it, also
        // now that the process has it loaded for another VM.
        let refused = placed(source, Policy(trusted: ["unruly"]))
        #expect(refused.output.contains(": plugin unruly imports "))
        #expect(refused.output.contains("imports 'open' (fs) without an fs.read or fs.write grant"))
        // --allow-all trusts too; isolation wins over trust.
        #expect(placed(source, .all).inProcess == ["unruly"])
        let both = placed(source, Policy(plugins: ["unruly": grants], isolated: ["unruly"], trusted: ["unruly"]))
        #expect(both.output == "false\n" && both.isolated == ["unruly"])
    }

    @Test func withoutIsolationDeclaredPowersAreRefusedWithTheWayOut() {
        let unavailable = IsolationPolicy(defaults: IsolationSettings(workerPath: "/nonexistent/capsule-worker"))
        let grants = [Capability(.fsRead, "/tmp"), Capability(.netConnect, "localhost"), Capability(.env, "X")]
        let result = placed("import \"cmath\"\nprint(cmath.add(2, 2))\nimport \"unruly\"",
                            Policy(plugins: ["unruly": grants]), isolation: unavailable)
        #expect(result.output == "4\nERROR: error: cannot load plugin \(Fixtures.path("unruly")): plugin unruly must run isolated, but isolation is unavailable here: cannot isolate plugin unruly: no worker executable at /nonexistent/capsule-worker (swift build builds capsule-worker; CAPSULE_WORKER overrides the path); plugin unruly runs isolated by default because it declares fs.read (optional), fs.write (optional), net.connect (optional), env (optional); to run it in the capsule process, trust it with --trust=unruly or \"trusted\": true for it under \"plugins\" in capsule.json")
        #expect(result.inProcess == ["cmath"] && result.isolated.isEmpty)
    }

    @Test func anExportThatCannotRunIsolatedSaysHowToTrustThePlugin() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let built = Fixtures.compile(source: Paths.fixtures + "/unruly.c", output: dir + "/" + PluginHost.fileName(forModule: "unruly"),
                                     extraArguments: ["-DWITH_ERRNO_EXPORT"])
        #expect(built == 0)
        let isolated = placed("import \"unruly\"\nprint(unruly.add(20, 22))\nunruly.close_fd(-1)", pluginPaths: [dir])
        #expect(isolated.isolated == ["unruly"])
        #expect(isolated.output.hasPrefix("42\n"))
        #expect(isolated.output.contains("unruly.close_fd: its signature (i32) -> i32 !errno cannot run isolated (structs, callbacks, variadics and errno capture are in-process only; trust the plugin to run it in-process: --trust=unruly)"))
        let grants = [Capability(.fsRead, "/tmp"), Capability(.netConnect, "localhost"), Capability(.env, "X")]
        let trusted = placed("import \"unruly\"\nprint(unruly.add(20, 22))", Policy(plugins: ["unruly": grants], trusted: ["unruly"]), pluginPaths: [dir])
        #expect(trusted.output == "42\n")
    }

    @Test func aRequiredCapabilityIsCheckedBeforeTheWorkerServes() {
        let cwd = FileManager.default.currentDirectoryPath
        let refused = placed("import \"needs_capability\"")
        #expect(refused.output.hasSuffix("plugin needs_capability requires capability fs.read:./data, which is not granted (grant with --allow-plugin=needs_capability=fs.read:./data or under \"plugins\" in capsule.json)"))
        let granted = placed("import \"needs_capability\"\nprint(\"loaded\")", Policy(plugins: ["needs_capability": [Capability(.fsRead, cwd)]]))
        #expect(granted.output == "loaded\n" && granted.isolated == ["needs_capability"])
    }

    @Test func reloadOfAnIsolatedPluginPointsToReloadPlugin() {
        var reason = ""
        var reloaded = ""
        let output = run("import \"unruly\"\nprint(unruly.add(1, 1))", pluginPaths: [Fixtures.directory]) { host in
            if case .failure(let e) = host.reload(module: "unruly") { reason = e.reason }
            if case .success(let version) = host.reloadPlugin(named: "unruly") { reloaded = version }
        }
        #expect(output == "2\n")
        #expect(reason == "plugin unruly runs isolated: reload it with reloadPlugin(named:), which starts a new worker")
        #expect(!reloaded.isEmpty)
    }
}
