@testable import CapsuleHost
import Foundation
import Testing

/// Hot reload of an isolated plugin (`--isolate=NAME`): a new worker on the new file, state
/// migrated over the protocol, the old worker stopped; refusals keep the old worker serving.
@Suite(.serialized) final class IsolatedReloadTests {
    let isolation = IsolationPolicy.plugins(["reloadable"])

    /// The worker process serving `reloadable` in `host`.
    func workerPID(_ host: PluginHost) -> pid_t? { host.isolatedPlugin("reloadable")?.worker?.pid }

    /// Regression: a worker is started from a thread that never exits. Each VM entry runs on
    /// a fresh thread, and the worker's parent-death signal follows the thread that started
    /// it, so a worker started during one REPL line was killed when the line finished.
    @Test func testTheWorkerOutlivesTheEntryThatStartedIt() {
        let fixture = ReloadFixture()
        let (_, _, evaluate) = fixture.session(isolation: isolation)
        #expect(evaluate("import \"reloadable\"\nprint(reloadable.value())") == "101\n")
        usleep(50_000)
        #expect(evaluate("print(reloadable.value())") == "102\n")
    }

    @Test func testReloadStartsANewWorkerWithTheOldState() {
        let fixture = ReloadFixture()
        let (_, host, evaluate) = fixture.session(isolation: isolation)
        #expect(evaluate("import \"reloadable\"\nimport \"plugins\"\nlet v = reloadable.value\nprint(v(), reloadable.value())") == "101 102\n")
        guard let oldPID = workerPID(host) else { Issue.record("not isolated"); return }
        fixture.build(["-DVERSION=2"])
        #expect(evaluate("print(plugins.reload(\"reloadable\"), plugins.version(\"reloadable\"))") == "2.0.0 2.0.0\n")
        // The counter (2 calls) came over from the old worker; the module and a function value
        // taken before both call the new worker.
        #expect(evaluate("print(reloadable.value(), v(), reloadable.version())") == "203 204 2\n")
        guard let newPID = workerPID(host) else { Issue.record("no worker after the reload"); return }
        #expect(newPID != oldPID)
        #expect(kill(oldPID, 0) == -1 && errno == ESRCH, "the old worker was stopped and reaped")
        #expect(host.isolatedPlugin("reloadable")?.manifest.version == "2.0.0")
    }

    @Test func testScriptsAndObserversHearOfIsolatedReloads() {
        let fixture = ReloadFixture()
        let (_, host, evaluate) = fixture.session(isolation: isolation)
        var events: [String] = []
        host.observeReloads { events.append("\($0.module) \($0.oldVersion) -> \($0.newVersion ?? "refused")") }
        #expect(evaluate("""
            import "reloadable"
            import "plugins"
            plugins.on_reload(fn(name, old, new) { print("reloaded", name, old, new) })
            plugins.on_reload_failed(fn(name, version, message) { print("refused", name, version) })
            print(reloadable.value())
            """) == "101\n")
        fixture.build(["-DVERSION=2"])
        #expect(evaluate("print(plugins.reload(\"reloadable\"))") == "reloaded reloadable 1.0.0 2.0.0\n2.0.0\n")
        fixture.build(["-DVERSION=3", "-DCHANGE_SIGNATURE"])
        #expect(evaluate("try { plugins.reload(\"reloadable\") } catch e { print(\"caught\") }") == "refused reloadable 2.0.0\ncaught\n")
        #expect(events == ["reloadable 1.0.0 -> 2.0.0", "reloadable 2.0.0 -> refused"])
    }

    @Test func testRefusalsKeepTheOldWorkerServing() {
        let fixture = ReloadFixture()
        let (_, host, evaluate) = fixture.session(isolation: isolation)
        #expect(evaluate("import \"reloadable\"\nprint(reloadable.value())") == "101\n")
        let pid = workerPID(host)
        let cases: [([String], String)] = [
            (["-DVERSION=2", "-DCHANGE_SIGNATURE"], "changes the signature of 'value' from () -> i64 to (i64) -> i64"),
            (["-DVERSION=2", "-DDROP_VALUE"], "removes export 'value', which is in use"),
            (["-DVERSION=2", "-DWRONG_ABI"], "ABI version 99"),
            (["-DVERSION=2", "-DINIT_FAILS"], "init failed with status 1"),
            (["-DVERSION=2", "-DRESTORE_FAILS"], "reloadable 2.0.0's restore_state failed with status 1"),
            (["-DVERSION=2", "-DNEEDS_CAPABILITY"], "requires capability fs.read:/, which is not granted"),
        ]
        var expected = 101
        for (flags, message) in cases {
            fixture.build(flags)
            switch host.reloadPlugin(named: "reloadable") {
            case .success: Issue.record("\(flags) was accepted")
            case .failure(let error): #expect(error.reason.contains(message), "\(flags): \(error.reason)")
            }
            expected += 1
            #expect(evaluate("print(reloadable.value())") == "\(expected)\n", "\(flags)")
            #expect(workerPID(host) == pid, "\(flags): the old worker still serves")
        }
        // Garbage where the plugin was.
        #expect(FileManager.default.createFile(atPath: fixture.file, contents: Data(repeating: 0x7f, count: 10000)))
        if case .success = host.reloadPlugin(named: "reloadable") { Issue.record("a corrupt file was accepted") }
        #expect(evaluate("print(reloadable.value())") == "\(expected + 1)\n")
        // A good build goes through, with the state of the old worker.
        fixture.build(["-DVERSION=2"])
        guard case .success(let version) = host.reloadPlugin(named: "reloadable") else { Issue.record("refused"); return }
        #expect(version == "2.0.0")
        #expect(evaluate("print(reloadable.value())") == "\(200 + expected - 100 + 2)\n")
    }

    /// Handles belong to the worker that made them: after a reload, an old handle is refused
    /// with a message naming the reload; new handles work.
    @Test func testOldWorkersHandlesAreRefusedAfterTheReload() {
        let fixture = ReloadFixture(["-DVERSION=1", "-DWITH_HANDLE"])
        let (_, host, evaluate) = fixture.session(gcStress: true, isolation: isolation)
        #expect(evaluate("import \"reloadable\"\nlet b1 = reloadable.make()\nprint(reloadable.peek(b1))") == "1\n")
        fixture.build(["-DVERSION=2", "-DWITH_HANDLE"])
        guard case .success = host.reloadPlugin(named: "reloadable") else { Issue.record("refused"); return }
        #expect(evaluate("print(reloadable.peek(b1))")
            == "ERROR: error: reloadable.peek: argument 1: handle<reloadable.Box> was made by an earlier version of the plugin, which has been replaced by 2.0.0 (handles do not cross a reload)")
        #expect(evaluate("let b2 = reloadable.make()\nprint(reloadable.peek(b2))") == "2\n")
    }
}

extension PluginHost {
    /// The isolated plugin imported as `name` (tests only).
    func isolatedPlugin(_ name: String) -> IsolatedPlugin? { isolated[name] }
}
