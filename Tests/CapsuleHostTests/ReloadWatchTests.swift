@testable import CapsuleHost
import Foundation
import Testing

/// Reload triggers and events: `PluginHost.watchPlugins` (the file replaced while a script
/// runs), `observeReloads`, the scripts' `plugins.on_reload` / `on_reload_failed` handlers,
/// and exports a new version adds appearing in the module object scripts hold. The fixture
/// `reloadable.c` is rebuilt during the test.
@Suite(.serialized) final class ReloadWatchTests {
    /// Version 1 in the plugin file, to start with.
    let fixture = ReloadFixture()
    var directory: String { fixture.directory }
    var file: String { fixture.file }

    /// Compiles the fixture as `VERSION` into `vN.so` beside the plugin file; its path.
    func build(version: Int) -> String? {
        let output = directory + "/v\(version).so"
        return Fixtures.compile(source: Paths.fixtures + "/reloadable.c", output: output, extraArguments: ["-DVERSION=\(version)"]) == 0 ? output : nil
    }

    /// Thread-safe collection of what observers and handlers report.
    /// NOTE: `@unchecked Sendable` because every field is read and written with `lock` held.
    final class Log: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [String] = []
        func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
        /// Waits up to `seconds` for an item containing `text`.
        func wait(for text: String, seconds: Double = 10) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if all.contains(where: { $0.contains(text) }) { return true }
                usleep(1000)
            }
            return false
        }
    }

    /// A VM with the host installed; evaluates script lines, returning output (and the
    /// error's first line).
    static func session(host: PluginHost, output: OutputCapture) -> @Sendable (String) -> String {
        var configuration = Configuration()
        configuration.output = { output.append($0) }
        let vm = VM(configuration: configuration)
        host.install(on: vm)
        return ReloadFixture.evaluator(vm, output: output)
    }

    @Test func newExportsAppearInTheModuleObjectAlreadyHeld() throws {
        let host = PluginHost(pluginPaths: [directory], environment: [:])
        let evaluate = Self.session(host: host, output: OutputCapture())
        #expect(evaluate("import \"reloadable\"\nlet m = reloadable\nprint(m.version())") == "1\n")
        #expect(evaluate("print(m.twice(21))") == "ERROR: error: module 'reloadable' has no variable 'twice'")
        let v2 = try #require(build(version: 2))
        #expect(rename(v2, file) == 0)
        guard case .success = host.reload(module: "reloadable") else { Issue.record("refused"); return }
        #expect(evaluate("print(m.twice(21), reloadable.twice(4), m.version())") == "42 8 2\n")
        // And it follows the next reload like the others.
        #expect(evaluate("let t = m.twice") == "")
        let v3 = try #require(build(version: 3))
        #expect(rename(v3, file) == 0)
        guard case .success = host.reload(module: "reloadable") else { Issue.record("refused"); return }
        #expect(evaluate("print(t(5), m.version())") == "10 3\n")
    }

    @Test func scriptHandlersSeeEveryReloadAndTheirErrorsAreReported() throws {
        let host = PluginHost(pluginPaths: [directory], environment: [:])
        let errors = Log(), events = Log()
        host.reportHandlerErrors { errors.add($0) }
        host.observeReloads { events.add("\($0.trigger) \($0)") }
        let evaluate = Self.session(host: host, output: OutputCapture())
        #expect(evaluate("""
            import "plugins"
            import "reloadable"
            plugins.on_reload(fn(name, old, new) { print("reloaded", name, old, new) })
            plugins.on_reload(fn(name, old, new) { throw "handler broke on " + new })
            plugins.on_reload_failed(fn(name, version, message) { print("refused", name, version, message) })
            """) == "")
        let v2 = try #require(build(version: 2))
        #expect(rename(v2, file) == 0)
        // Both handlers ran before plugins.reload returned; the second one's error did not
        // reach the script.
        #expect(evaluate("print(plugins.reload(\"reloadable\"))\nprint(\"still running\")")
                == "reloaded reloadable 1.0.0 2.0.0\n2.0.0\nstill running\n")
        #expect(errors.all == ["plugins.on_reload handler failed: handler broke on 2.0.0 (at <fn> (<repl>:4:40))"])
        // A refusal: the failure handler gets the serving version and the reason.
        #expect(FileManager.default.createFile(atPath: file, contents: Data(repeating: 0x7f, count: 100)))
        let refused = evaluate("try { plugins.reload(\"reloadable\") } catch e { print(\"caught\") }")
        #expect(refused.hasPrefix("refused reloadable 2.0.0 not a loadable shared object"), "\(refused)")
        #expect(refused.hasSuffix("caught\n"))
        #expect(events.all.count == 2)
        #expect(events.all.first?.hasPrefix("call reloaded reloadable 1.0.0 -> 2.0.0 in ") == true)
        #expect(events.all.last?.hasPrefix("call reload of reloadable refused: not a loadable shared object") == true)
        #expect(events.all.last?.hasSuffix("; 2.0.0 keeps serving") == true)
        #expect(evaluate("plugins.on_reload(1)") == "ERROR: error: plugins.on_reload: argument 1: expected a function taking 3 arguments, got int")
    }

    /// The watcher's path: a script loops on the VM's own thread while the file is replaced
    /// (renamed over; then a half-written file; then the whole file rewritten in place).
    @Test func anIsolatedPluginIsWatchedAndReloadsIntoANewWorker() throws {
        let output = OutputCapture(), events = Log(), finished = Log()
        let host = PluginHost(pluginPaths: [directory], environment: [:], isolation: .plugins(["reloadable"]))
        host.observeReloads { events.add("\($0.trigger) \($0)") }
        let v2 = try #require(build(version: 2))
        // NOTE: the host is not Sendable; it goes to the thread, which installs and uses it. This
        // thread reads it only after the script printed (an OutputCapture/Log lock orders them).
        nonisolated(unsafe) let lent = host
        let thread = Thread {
            let evaluate = Self.session(host: lent, output: output)
            do { try lent.watchPlugins() } catch { finished.add("watch failed: \(error)") }
            finished.add("done: " + evaluate("""
                import "reloadable"
                import "time"
                let started = time.monotonic()
                print("serving", reloadable.version(), reloadable.value())
                while reloadable.version() != 2 and time.monotonic() - started < 20 {}
                print("now", reloadable.version(), reloadable.value())
                """))
        }
        thread.stackSize = 16 << 20
        thread.start()
        #expect(output.wait(for: "serving 1 101"))
        #expect(host.watchedFiles == [file])
        try FileManager.default.copyItem(atPath: v2, toPath: directory + "/staging.so")
        #expect(rename(directory + "/staging.so", file) == 0)
        #expect(finished.wait(for: "done: "))
        #expect(events.all.first?.hasPrefix("fileChanged reloaded reloadable 1.0.0 -> 2.0.0 in ") == true, "\(events.all)")
        // The counter moved to the new worker: the calls made while waiting count too.
        let last = output.text.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("now 2 2"), "\(output.text)")
        #expect(host.isolated["reloadable"]?.manifest.version == "2.0.0")
    }

    @Test func watchedFilesReloadAtTheNextSafePoint() throws {
        let output = OutputCapture(), events = Log()
        let host = PluginHost(pluginPaths: [directory], environment: [:])
        host.observeReloads { events.add("\($0.trigger) \($0)") }
        let v2 = try #require(build(version: 2)), v3 = try #require(build(version: 3))
        let finished = Log()
        // NOTE: the host is not Sendable; it goes to the thread, which installs and uses it. This
        // thread reads it only after the script printed (an OutputCapture/Log lock orders them).
        nonisolated(unsafe) let lent = host
        let thread = Thread {
            let evaluate = Self.session(host: lent, output: output)
            do { try lent.watchPlugins() } catch { finished.add("watch failed: \(error)") }
            let result = evaluate("""
                import "plugins"
                import "reloadable"
                import "time"
                plugins.on_reload(fn(name, old, new) { print("handler", old, new) })
                let started = time.monotonic()
                var last = reloadable.version()
                print("serving", last)
                while last != 3 and time.monotonic() - started < 20 {
                    let v = reloadable.version()
                    if v != last {
                        print("now", v, reloadable.twice(v))
                        last = v
                    }
                }
                """)
            finished.add("done: " + result)
        }
        thread.stackSize = 16 << 20
        thread.start()
        #expect(output.wait(for: "serving 1"))
        #expect(host.watchedFiles == [file])
        try FileManager.default.copyItem(atPath: v2, toPath: directory + "/staging.so")
        #expect(rename(directory + "/staging.so", file) == 0)
        #expect(events.wait(for: "reloaded reloadable 1.0.0 -> 2.0.0"))
        // Half a file, closed: refused, 2.0.0 keeps serving; then the whole file: reloaded.
        let whole = try #require(FileManager.default.contents(atPath: v3))
        #expect(FileManager.default.createFile(atPath: file, contents: whole.prefix(whole.count / 2)))
        #expect(events.wait(for: "refused"))
        let handle = try #require(FileHandle(forWritingAtPath: file))
        handle.truncateFile(atOffset: 0)
        handle.write(whole)
        try handle.close()
        #expect(finished.wait(for: "done: "))
        // The half-written file is refused (more than once if a quiet millisecond fell
        // between a writer's close and the next write); the whole one is then reloaded.
        let seen = events.all
        #expect(seen.count >= 3, "\(seen)")
        #expect(seen.first?.hasPrefix("fileChanged reloaded reloadable 1.0.0 -> 2.0.0 in ") == true)
        #expect(seen.dropFirst().dropLast().allSatisfy { $0.contains("fileChanged reload of reloadable refused: ") && $0.hasSuffix("; 2.0.0 keeps serving") }, "\(seen)")
        #expect(seen.last?.hasPrefix("fileChanged reloaded reloadable 2.0.0 -> 3.0.0 in ") == true)
        #expect(output.text == "serving 1\nhandler 1.0.0 2.0.0\nnow 2 4\nhandler 2.0.0 3.0.0\nnow 3 6\n")
        #expect(finished.all == ["done: " + output.text], "the script ended without an error")
    }
}

extension OutputCapture {
    /// Waits up to `seconds` for the output to contain `text`.
    func wait(for text: String, seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if self.text.contains(text) { return true }
            usleep(1000)
        }
        return false
    }
}
