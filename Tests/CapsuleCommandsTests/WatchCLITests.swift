import CapsuleHost
import Foundation
import Testing

/// `capsule run --watch` through the real executable: a script calls the plugin in a loop
/// while the test replaces the `.so` (renamed over, rewritten in place, half-written then
/// completed) and reads the log lines on standard error.
@Suite(.serialized) final class WatchCLITests {
    let directory: String
    var plugin: String { directory + "/libcapsule_reloadable.so" }
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-watch-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Compiles `Tests/PluginFixtures/reloadable.c` as `version` to `vN.so`; its bytes.
    func build(_ version: Int, _ flags: [String] = []) throws -> Data {
        let output = directory + "/v\(version).so"
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["cc", "-shared", "-fPIC", "-fvisibility=hidden", "-I", Self.repository + "/sdk/include",
                        "-o", output, Self.repository + "/Tests/PluginFixtures/reloadable.c", "-DVERSION=\(version)"] + flags
        try cc.run()
        cc.waitUntilExit()
        try #require(cc.terminationStatus == 0)
        return try #require(FileManager.default.contents(atPath: output))
    }

    /// What a running process wrote to one pipe so far (read on a thread of its own).
    /// NOTE: `@unchecked Sendable` because every field is read and written with `lock` held.
    final class Stream: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()
        private var ended = false
        init(_ pipe: Pipe) {
            let handle = pipe.fileHandleForReading
            Thread.detachNewThread { [self] in
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { lock.lock(); ended = true; lock.unlock(); return }
                    lock.lock(); data.append(chunk); lock.unlock()
                }
            }
        }
        var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
        /// Everything the process wrote: waits (up to `seconds`) until the reader has seen the
        /// end of the pipe, which comes after the process exits.
        var all: String {
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                lock.lock(); let done = ended; lock.unlock()
                if done { break }
                usleep(1000)
            }
            return text
        }
        /// Waits up to `seconds` until `text` occurs `count` times.
        func wait(for text: String, count: Int = 1, seconds: Double = 15) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if self.text.components(separatedBy: text).count - 1 >= count { return true }
                usleep(2000)
            }
            return false
        }
    }

    /// Starts `capsule run --watch` on `script` (written to the directory).
    func start(_ script: String, flags: [String] = []) throws -> (Process, out: Stream, err: Stream) {
        try script.write(toFile: directory + "/app.cap", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(PluginHost.executableDirectory()) + "/capsule")
        process.arguments = ["run", "--watch", "--plugin-path", directory] + flags + [directory + "/app.cap"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, Stream(out), Stream(err))
    }

    /// Waits until the process has mapped the plugin (its private copy): it was imported,
    /// so its file is watched.
    func waitUntilImported(_ process: Process) -> Bool {
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            // /proc files report size 0: read to the end.
            guard process.isRunning, let handle = FileHandle(forReadingAtPath: "/proc/\(process.processIdentifier)/maps") else { return false }
            // NOTE: readToEnd, which throws, not readDataToEndOfFile, which traps: another
            // process's /proc files vanish when it exits or closes a descriptor mid-read.
            let maps = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
            try? handle.close()
            if maps.contains("libcapsule_reloadable.") { return true }
            usleep(2000)
        }
        return false
    }

    /// Waits until the process has an inotify watch (on the directory of a file it watches):
    /// for script modules, which are not mapped like a plugin, and isolated plugins, which are
    /// mapped in their worker. With `directory`, only a watch on that directory counts.
    func waitUntilWatching(_ process: Process, directory: String? = nil) -> Bool {
        let deadline = Date().addingTimeInterval(15)
        let fdinfo = "/proc/\(process.processIdentifier)/fdinfo"
        var wanted = "inotify wd:"
        if let directory {
            var s = stat()
            guard stat(directory, &s) == 0 else { return false }
            wanted = " ino:" + String(s.st_ino, radix: 16) + " "
        }
        while Date() < deadline && process.isRunning {
            for fd in (try? FileManager.default.contentsOfDirectory(atPath: fdinfo)) ?? [] {
                guard let handle = FileHandle(forReadingAtPath: fdinfo + "/" + fd) else { continue }
                let info = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
                try? handle.close()
                if info.split(separator: "\n").contains(where: { $0.hasPrefix("inotify wd:") && $0.contains(wanted) }) { return true }
            }
            usleep(2000)
        }
        return false
    }

    /// Waits up to `seconds` for the process to exit (killing it after): whether it did.
    func waitForExit(_ process: Process, seconds: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(2000) }
        guard process.isRunning else { return true }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return false
    }

    /// Writes `data` over the plugin file in place (truncate, write, close), as `cc -o` does.
    func rewriteInPlace(_ data: Data) throws {
        let handle = try #require(FileHandle(forWritingAtPath: plugin))
        handle.truncateFile(atOffset: 0)
        handle.write(data)
        try handle.close()
    }

    @Test func reloadsOnRenameOverAndInPlaceRewriteAndRefusesAHalfWrittenFile() throws {
        let v1 = try build(1), v2 = try build(2), v3 = try build(3), v4 = try build(4)
        #expect(FileManager.default.createFile(atPath: plugin, contents: v1))
        let (process, out, err) = try start("""
            import "plugins"
            import "reloadable"
            plugins.on_reload(fn(name, old, new) { print("on_reload", name, old, new) })
            plugins.on_reload_failed(fn(name, version, message) { print("on_reload_failed", name, version) })
            var last = reloadable.version()
            while last != 4 {
                let v = reloadable.version()
                if v != last {
                    print("v" + str(v), reloadable.value(), reloadable.twice(v))
                    last = v
                }
            }
            """)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        #expect(waitUntilImported(process))
        // Rename-over, as build tools do.
        #expect(FileManager.default.createFile(atPath: directory + "/staging.so", contents: v2))
        #expect(rename(directory + "/staging.so", plugin) == 0)
        #expect(err.wait(for: "capsule: reloaded reloadable 1.0.0 -> 2.0.0 in "))
        // A plain in-place rewrite.
        try rewriteInPlace(v3)
        #expect(err.wait(for: "capsule: reloaded reloadable 2.0.0 -> 3.0.0 in "))
        // Half a file, closed: refused, 3.0.0 keeps serving; the complete write later reloads.
        try rewriteInPlace(v4.prefix(v4.count / 2))
        #expect(err.wait(for: "capsule: reload of reloadable refused: "))
        try rewriteInPlace(v4)
        #expect(err.wait(for: "capsule: reloaded reloadable 3.0.0 -> 4.0.0 in "))
        #expect(waitForExit(process))
        #expect(process.terminationStatus == 0)
        // value() is VERSION * 100 + calls so far: the count carried over each reload.
        #expect(out.wait(for: "v4 "))
        // The half-written file may be refused more than once (a writer's close, a quiet
        // millisecond, then the next write): one line per kind of event is compared.
        var lines: [Substring] = []
        for line in out.all.split(separator: "\n", omittingEmptySubsequences: false) where line != lines.last { lines.append(line) }
        #expect(lines.joined(separator: "\n") == """
            on_reload reloadable 1.0.0 2.0.0
            v2 201 4
            on_reload reloadable 2.0.0 3.0.0
            v3 302 6
            on_reload_failed reloadable 3.0.0
            on_reload reloadable 3.0.0 4.0.0
            v4 403 8

            """)
        let log = err.all.split(separator: "\n")
        #expect(log.count >= 4, "\(log)")
        #expect(log.dropFirst(2).dropLast().allSatisfy { $0.hasPrefix("capsule: reload of reloadable refused: not a loadable shared object")
                && $0.hasSuffix("; 3.0.0 keeps serving") }, "\(log)")
        #expect(log.last?.hasPrefix("capsule: reloaded reloadable 3.0.0 -> 4.0.0 in ") == true)
    }

    @Test func aFailingHandlerIsReportedAndTheRunGoesOn() throws {
        let v1 = try build(1), v2 = try build(2)
        #expect(FileManager.default.createFile(atPath: plugin, contents: v1))
        let (process, out, err) = try start("""
            import "plugins"
            import "reloadable"
            plugins.on_reload(fn(name, old, new) { throw "no thanks" })
            while reloadable.version() == 1 {}
            print("v" + str(reloadable.version()), "after the handler failed")
            """)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        #expect(waitUntilImported(process))
        #expect(FileManager.default.createFile(atPath: directory + "/staging.so", contents: v2))
        #expect(rename(directory + "/staging.so", plugin) == 0)
        #expect(waitForExit(process))
        #expect(process.terminationStatus == 0)
        #expect(out.wait(for: "v2 after the handler failed\n"))
        #expect(err.wait(for: "capsule: plugins.on_reload handler failed: no thanks (at <fn> ("))
        #expect(err.all.hasPrefix("capsule: reloaded reloadable 1.0.0 -> 2.0.0 in "))
    }

    /// A script that spends its time in a plugin export that blocks (here a 50 ms sleep in C)
    /// picks the new version up right after the call in progress returns, in process and
    /// isolated. Before, it waited for a slice of counted instructions: at a few per call,
    /// thousands of calls, minutes.
    @Test(arguments: [[], ["--isolate", "reloadable"]])
    func reloadsWhileTheScriptWaitsInABlockingExport(flags: [String]) throws {
        let v1 = try build(1, ["-DWITH_NAP"]), v2 = try build(2, ["-DWITH_NAP"])
        #expect(FileManager.default.createFile(atPath: plugin, contents: v1))
        let (process, out, err) = try start("""
            import "reloadable"
            var last = 0
            var calls = 0
            while last != 2 and calls < 600 {
                let v = reloadable.nap(50)
                if v != last {
                    print("v" + str(v))
                    last = v
                }
                calls += 1
            }
            """, flags: flags)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // The plugin's directory is watched (it was imported), then a few calls in, rename v2 over.
        #expect(waitUntilWatching(process, directory: directory))
        usleep(200_000)
        let staging = directory + "/staging.so"
        #expect(FileManager.default.createFile(atPath: staging, contents: v2))
        #expect(rename(staging, plugin) == 0)
        let replaced = Date()
        #expect(waitForExit(process, seconds: 40))
        let took = Date().timeIntervalSince(replaced)
        #expect(process.terminationStatus == 0)
        #expect(out.all == "v1\nv2\n", "\(err.text)")
        #expect(err.all.hasPrefix("capsule: reloaded reloadable 1.0.0 -> 2.0.0 in "), "\(err.text)")
        // The watcher's debounce, one call in flight and the swap: well under a second.
        #expect(took < 3, "the reload took \(took) s after the file was replaced")
    }

    /// Imported `.cap` modules are watched too, and a script that mostly sleeps picks each
    /// change up right after its sleep (not a slice of counted instructions later, which at
    /// a few instructions per 20 ms round would be many seconds).
    @Test func reloadsAnImportedScriptModuleWhileTheScriptSleeps() throws {
        let library = directory + "/lib.cap"
        try "fn greet() { return \"v1\" }\n".write(toFile: library, atomically: true, encoding: .utf8)
        let (process, out, err) = try start("""
            import "lib"
            import "time"
            let started = time.monotonic()
            var last = ""
            while last != "v3" and time.monotonic() - started < 20 {
                let v = lib.greet()
                if v != last {
                    print(v)
                    last = v
                }
                time.sleep(0.02)
            }
            """, flags: ["--allow-clock"])
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // (Standard output is a pipe, so block-buffered: each log line flushes it.)
        #expect(waitUntilWatching(process))
        // Rename-over, as editors do.
        try "fn greet() { return \"v2\" }\n".write(toFile: library, atomically: true, encoding: .utf8)
        #expect(err.wait(for: "lib.cap in ", seconds: 3))
        // Does not compile: refused, nothing changed.
        try "fn greet() { return \"v3\"\n".write(toFile: library, atomically: false, encoding: .utf8)
        #expect(err.wait(for: "lib.cap refused: ", seconds: 3))
        // Compiles, then raises in its top level: greet is already the new one.
        try "fn greet() { return \"v3\" }\nlet boom = [1][3]\n".write(toFile: library, atomically: false, encoding: .utf8)
        #expect(err.wait(for: "lib.cap failed: ", seconds: 3))
        #expect(waitForExit(process))
        #expect(process.terminationStatus == 0)
        #expect(out.all == "v1\nv2\nv3\n")
        let log = err.all.split(separator: "\n")
        #expect(log.count == 3, "\(log)")
        #expect(log.first?.hasPrefix("capsule: reloaded script module \(library) in ") == true, "\(log)")
        #expect(log.dropFirst().first == "capsule: reload of script module \(library) refused: \(library):2:1: error: unexpected end of file, expected '}'; the old code keeps serving")
        #expect(log.last?.hasPrefix("capsule: reload of script module \(library) failed: index 3 out of range") == true, "\(log)")
        #expect(log.last?.hasSuffix("; names bound before the error are the new ones") == true, "\(log)")
    }

    /// A module changed while its first import is still running its top level is reloaded
    /// once that ends: the watch starts before the file is read.
    @Test func aModuleChangedDuringItsFirstImportIsReloadedAfterIt() throws {
        let library = directory + "/slow.cap"
        try "import \"time\"\ntime.sleep(1)\nfn greet() { return \"v1\" }\n".write(toFile: library, atomically: true, encoding: .utf8)
        let (process, out, err) = try start("""
            import "slow"
            import "time"
            let started = time.monotonic()
            while slow.greet() != "v2" and time.monotonic() - started < 10 { time.sleep(0.02) }
            print(slow.greet())
            """, flags: ["--allow-clock"])
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // Within the module's one-second top level (or, on a slow start, before it is read).
        usleep(400_000)
        try "fn greet() { return \"v2\" }\n".write(toFile: library, atomically: true, encoding: .utf8)
        #expect(waitForExit(process))
        #expect(process.terminationStatus == 0)
        #expect(out.all == "v2\n", "\(err.text)")
    }
}
