@testable import CapsuleHost
import Foundation
import Testing

/// Isolated plugins: the worker process, its lockdown, the call protocol, and the host
/// surviving whatever the plugin does (docs/security.md#isolated-plugins).
@Suite struct IsolationTests {
    /// Runs `source` with every plugin isolated under `settings`.
    func isolated(_ source: String, _ settings: IsolationSettings = IsolationSettings(), gcStress: Bool = false) -> String {
        run(source, pluginPaths: [Fixtures.directory], gcStress: gcStress, isolation: .all(settings))
    }

    @Test func theSneakyPluginIsBlockedAndTheHostSurvives() {
        let output = isolated("""
            import "sneaky"
            print(sneaky.add(2, 3))
            print(sneaky.read_passwd())
            print(sneaky.open_socket())
            try { sneaky.run_program() } catch e { print(e.message) }
            print(sneaky.add(40, 2))
            """)
        // open: EACCES from Landlock; socket: EPERM from seccomp; execve: killed (SIGSYS).
        #expect(output == """
            5
            -\(EACCES)
            -\(EPERM)
            worker for plugin sneaky died with SIGSYS (blocked system call) during run_program
            42

            """)
    }

    @Test func aGrantedPathIsReadableAndNothingElse() {
        let output = isolated("""
            import "sneaky"
            print(sneaky.read_passwd() > 0)
            import "unruly"
            print(unruly.read_file("/etc/passwd") > 0, unruly.read_file("/etc/hostname"))
            """, IsolationSettings(readablePaths: ["/etc/passwd"]))
        #expect(output == "true\ntrue -\(EACCES)\n")
    }

    @Test func writeGrantsAllowWritingBeneathTheDirectoryOnly() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-iso-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let output = isolated("""
            import "unruly"
            print(unruly.write_file("\(dir)/out.txt", "hello"))
            print(unruly.read_file("\(dir)/out.txt"))
            print(unruly.write_file("\(dir)-elsewhere.txt", "x"))
            """, IsolationSettings(readablePaths: [dir], writablePaths: [dir]))
        #expect(output == "5\n5\n-\(EACCES)\n")
        #expect(try String(contentsOfFile: dir + "/out.txt", encoding: .utf8) == "hello")
        #expect(!FileManager.default.fileExists(atPath: dir + "-elsewhere.txt"))
    }

    /// A listening TCP socket on 127.0.0.1 and its port.
    static func listener() -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(fd, 8)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    @Test func networkGrantsAreTCPPortsOnly() {
        let (a, portA) = Self.listener(), (b, portB) = Self.listener()
        defer { close(a); close(b) }
        let source = """
            import "unruly"
            print(unruly.connect_port(\(portA)), unruly.connect_port(\(portB)), unruly.udp_socket())
            """
        #expect(isolated(source) == "-\(EPERM) -\(EPERM) -\(EPERM)\n")
        #expect(isolated(source, IsolationSettings(connectPorts: .only([portA]))) == "0 -\(EACCES) -\(EPERM)\n")
        #expect(isolated(source, IsolationSettings(connectPorts: .any)) == "0 0 -\(EPERM)\n")
    }

    @Test func thePluginRunsInAnotherProcess() {
        let output = isolated("""
            import "unruly"
            print(unruly.worker_pid())
            """)
        let pid = Int32(output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(pid > 0 && pid != getpid())
    }

    @Test func crashesAbortsAndExitsAreCatchableAndTheWorkerRestarts() {
        let output = isolated("""
            import "unruly"
            let first = unruly.worker_pid()
            try { unruly.segfault() } catch e { print(e.message) }
            print(unruly.add(1, 2), unruly.worker_pid() != first)
            try { unruly.abort_now() } catch e { print(e.message) }
            try { unruly.exit_now(3) } catch e { print(e.message) }
            print(unruly.add(3, 4))
            """)
        #expect(output == """
            worker for plugin unruly died with SIGSEGV (segmentation fault) during segfault
            3 true
            worker for plugin unruly died with SIGABRT (abort) during abort_now
            worker for plugin unruly exited with status 3 during exit_now
            7

            """)
    }

    @Test func aCallPastItsDeadlineKillsTheWorker() {
        let start = Date()
        let output = isolated("""
            import "unruly"
            try { unruly.spin() } catch e { print(e.message) }
            print(unruly.add(1, 1))
            """, IsolationSettings(callDeadline: 0.3))
        #expect(output == "worker for plugin unruly exceeded its deadline of 0.3 s during spin and was killed\n2\n")
        #expect(Date().timeIntervalSince(start) < 5)
    }

    @Test func protocolViolationsKillTheWorker() {
        let output = isolated("""
            import "unruly"
            try { unruly.scribble("x") } catch e { print(e.message) }
            try { unruly.noise() } catch e { print(e.message) }
            try { unruly.hangup() } catch e { print(e.message) }
            print(unruly.add(2, 2))
            """)
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines.first?.hasPrefix("worker for plugin unruly broke the protocol during scribble (it wrote response number 3735928559 while request") == true)
        #expect(lines.dropFirst().first == "worker for plugin unruly broke the protocol during noise (it wrote unexpected data to its socket) and was killed")
        #expect(lines.dropFirst(2).first == "worker for plugin unruly broke the protocol during hangup (it closed its socket) and was killed")
        #expect(lines.last == "4")
    }

    @Test func raiseAndArgumentChecksReadAsInProcess() {
        let output = isolated("""
            import "unruly"
            try { unruly.fail("bad input") } catch e { print(e.message) }
            try { unruly.add(1.5, 2) } catch e { print(e.message) }
            try { unruly.add(1) } catch e { print(e.message) }
            try { unruly.upper("a\\u{0}b") } catch e { print(e.message) }
            """)
        #expect(output == """
            unruly.fail: bad input
            unruly.add: argument 1: expected i64, got float 1.5
            unruly.add expects 2 arguments, got 1
            unruly.upper: argument 1: expected str, got a string with a NUL byte at index 1

            """)
    }

    @Test func stringsBytesAndBuffersCrossTheBoundary() {
        let output = isolated("""
            import "unruly"
            print(unruly.upper("hello, worker"))
            print(unruly.repeat("ab", 3) == bytes("ababab"), len(unruly.repeat("", 5)))
            var b = bytes(4)
            unruly.fill(b, 7)
            print(b.hex())
            """)
        #expect(output == "HELLO, WORKER\ntrue 0\n07070707\n")
    }

    @Test func payloadsLargerThanTheBufferAreClearErrors() {
        let output = isolated("""
            import "unruly"
            try { unruly.upper("x" * 10000) } catch e { print(e.message) }
            try { unruly.repeat("xy", 4000) } catch e { print(e.message) }
            print(unruly.add(1, 1))
            """, IsolationSettings(bufferSize: 4096))  // (rounded up to whole pages: 6368 bytes)
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(output)")
        #expect(lines.first?.hasPrefix("unruly.upper: argument 1: a str of 10000 bytes does not fit in the isolation buffer") == true)
        #expect(lines.dropFirst().first?.hasPrefix("unruly.repeat: the bytes result of 8000 bytes does not fit in the isolation buffer") == true)
        #expect(lines.last == "2")
    }

    @Test func handlesOfARestartedWorkerAreInvalid() {
        let output = isolated("""
            import "unruly"
            let b = unruly.box_new(7)
            print(unruly.box_get(b))
            try { unruly.segfault() } catch e { print(e.message) }
            try { unruly.box_get(b) } catch e { print(e.message) }
            let c = unruly.box_new(8)
            print(unruly.box_get(c))
            """)
        #expect(output == """
            7
            worker for plugin unruly died with SIGSEGV (segmentation fault) during segfault
            unruly.box_get: argument 1: handle belongs to a worker that was restarted (plugin unruly's worker died; its handles died with it)
            8

            """)
    }

    /// The in-process test of handle lifetimes, isolated: destructors run in the worker.
    @Test(.serialized, arguments: [false, true])
    func handlesAreDestroyedWhenUnreachable(gcStress: Bool) {
        #expect(run(FFIBridgeTests.handleLifetimeScript, gcStress: gcStress, isolation: .plugins(["cmath"]))
                == FFIBridgeTests.handleLifetimeOutput)
    }

    /// Thousands of proxies collected under GC stress: every destruction reaches the worker
    /// exactly once (in batches), and none reaches a worker that did not make the handle.
    @Test func gcStressOnProxyHandles() {
        let output = isolated("""
            import "unruly"
            for i in 0..1000 {
                let b = unruly.box_new(i)
                if unruly.box_get(b) != i { print("wrong value", i) }
            }
            gc()
            // (The last box may still sit in a dead register.)
            let n = unruly.box_destroyed()
            print(n >= 999 and n <= 1000)
            let kept = unruly.box_new(1)
            try { unruly.segfault() } catch e { print("crashed") }
            for i in 0..300 { unruly.box_new(i) }
            gc()
            let m = unruly.box_destroyed()
            print(m >= 299 and m <= 300)
            """, gcStress: true)
        #expect(output == "true\ncrashed\ntrue\n")
    }

    /// The bundled plugins give the same output isolated as in-process.
    @Test(arguments: ["bundled_cmath", "zlib_roundtrip"])
    func bundledPluginsBehaveTheSameIsolated(script: String) throws {
        let source = try String(contentsOfFile: Paths.repository + "/Tests/Scripts/plugins/\(script).cap", encoding: .utf8)
        let inProcess = run(source)
        let isolated = run(source, isolation: .all(IsolationSettings()))
        #expect(isolated == inProcess)
        #expect(!inProcess.isEmpty)
    }

    /// `value` arguments and results cross as deep copies; what cannot be copied (functions,
    /// handles, errors…) comes back as itself. Output identical to in-process.
    @Test(arguments: [false, true])
    func valuesCrossAsDeepCopies(gcStress: Bool) {
        let source = """
            import "values"
            let data = {"a": [1, 2.5, nil, true, "héllo ✓", bytes([0, 255])], 7: {"x": -9223372036854775808},
                        1.5: 9223372036854775807, "e": [], "m": {}, "b": bytes("")}
            print(values.copy(data))
            var big = []
            for i in 0..\(gcStress ? 100 : 2000) { big.push({"i": i, "s": "row ${i}", "l": [i, i * 2]}) }
            print(str(values.copy(big)) == str(big))
            // (A list or map comes back as a copy, so echo(data) == data only in-process.)
            print(str(values.echo(data)) == str(data), values.echo(nil), values.echo(3), values.echo(print) == print)
            for v in [nil, true, 5, 2.5, "hé", bytes(3), [1, 2], {"k": 1}, print, Error("x"), values.probe_new()] {
                print(values.describe(v))
            }
            let m = {"a": 1, 7: "seven"}
            print(values.lookup(m, "a"), values.lookup(m, 7.0), values.lookup(m, "zz"))
            """
        let inProcess = run(source, pluginPaths: [Fixtures.directory], gcStress: gcStress)
        #expect(isolated(source, gcStress: gcStress) == inProcess)
        #expect(!inProcess.contains("ERROR"))
    }

    @Test func aCyclicValueIsAClearError() {
        let output = isolated("""
            import "values"
            var l = [1]
            l.push(l)
            try { values.copy(l) } catch e { print(e.message) }
            """)
        #expect(output == "values.copy: argument 1: a value nested more than 64 deep (or containing itself) cannot cross into an isolated plugin\n")
    }

    /// The sqlite example, isolated (sqlite's default) and trusted (in-process): rows as maps
    /// and lists, blobs, transactions, errors.
    @Test func theSqliteExampleRunsTheSameIsolated() throws {
        let source = try String(contentsOfFile: Paths.repository + "/examples/sqlite_demo.cap", encoding: .utf8)
        var placements: [Set<String>] = []
        let inProcess = run(source, policy: Policy(trusted: ["sqlite"])) { placements.append(Set($0.bridges.keys)) }
        #expect(run(source) { placements.append(Set($0.isolated.keys)) } == inProcess)
        #expect(placements == [["sqlite"], ["sqlite"]])
        #expect(!inProcess.contains("ERROR"))
    }

    @Test func initFailuresAndRefusalsReadAsInProcess() {
        for name in ["init_fails", "wrong_abi", "bad_signature", "null_function"] {
            let inProcess = run("import \"\(name)\"", pluginPaths: [Fixtures.directory])
            let isolated = isolated("import \"\(name)\"")
            #expect(isolated == inProcess, "\(name)")
            #expect(inProcess.hasPrefix("ERROR: error: cannot load plugin"), "\(name)")
        }
    }

    @Test func aMissingWorkerExecutableIsAClearRefusal() {
        let output = isolated("import \"unruly\"", IsolationSettings(workerPath: "/nonexistent/capsule-worker"))
        #expect(output == "ERROR: error: cannot load plugin \(Fixtures.path("unruly")): cannot isolate plugin unruly: no worker executable at /nonexistent/capsule-worker (swift build builds capsule-worker; CAPSULE_WORKER overrides the path)")
    }
}
