@testable import CapsuleHost
import Foundation
import Testing

/// The soak from several threads: VMs on their own threads share one registry and keep
/// calling the plugin (making and dropping handles too) while one thread replaces the file
/// and reloads, and every VM reloads now and then, so versions are replaced under calls,
/// kept by handles and bindings, and closed from whichever thread drops the last reference.
/// CAPSULE_SOAK_THREADED_RELOADS sets the reload count (default 60, a few seconds).
@Suite(.serialized) final class HotReloadSoakTests {
    /// Thread-safe tallies.
    /// NOTE: `@unchecked Sendable` because every field is written with `lock` held, and read
    /// with it held or (`summary`) once every thread has finished.
    final class Tally: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var failures: [String] = []
        private(set) var calls = 0
        private(set) var copies = Set<String>()
        struct Weak { weak var plugin: LoadedPlugin? }
        private(set) var versions: [Weak] = []
        private var stopped = false
        var isStopped: Bool { lock.lock(); defer { lock.unlock() }; return stopped }
        func stop() { lock.lock(); stopped = true; lock.unlock() }
        func fail(_ what: String) { lock.lock(); failures.append(what); lock.unlock() }
        func called(_ n: Int) { lock.lock(); calls += n; lock.unlock() }
        func loaded(_ plugin: LoadedPlugin) {
            guard let path = ReloadFixture.copyPath(of: plugin) else { fail("no mapping for a loaded version"); return }
            lock.lock(); copies.insert(path); versions.append(Weak(plugin: plugin)); lock.unlock()
        }

        /// What the checks need, once the soak's VMs are gone.
        func summary(registry: PluginRegistry, fixture: ReloadFixture) -> Summary {
            let current = registry.modules["reloadable"]?.values.first
            let currentCopy = current.flatMap { ReloadFixture.copyPath(of: $0) }
            let maps = Resources.read("/proc/self/maps")
            return Summary(
                failures: failures, calls: calls, versions: copies.count,
                stillMapped: copies.filter { $0 != currentCopy && maps.contains($0) }.count,
                stillAlive: versions.filter { $0.plugin != nil && $0.plugin !== current }.count,
                currentMapped: currentCopy.map { maps.contains($0) } ?? false,
                descriptors: fixture.descriptors(onCopies: Array(copies)),
                copiesOnDisk: copies.filter { FileManager.default.fileExists(atPath: $0) }.count)
        }
    }

    struct Summary {
        var failures: [String], calls: Int, versions: Int
        /// Replaced versions whose copy is still mapped, or whose LoadedPlugin is still in memory.
        var stillMapped: Int, stillAlive: Int
        var currentMapped: Bool
        /// Open descriptors on the plugin's file or its copies.
        var descriptors: Int
        /// Private copies still in the staging directory (each is unlinked after dlopen).
        var copiesOnDisk: Int
    }

    @Test func testReloadsWhileSeveralVMsCall() {
        let requested = ProcessInfo.processInfo.environment["CAPSULE_SOAK_THREADED_RELOADS"].flatMap { Int($0) }
        let dedicatedRun = requested != nil
        let reloads = requested ?? 60
        let fixture = ReloadFixture(["-DVERSION=2", "-DWITH_HANDLE"])
        let builds = [fixture.directory + "/v2.so", fixture.directory + "/v3.so"]
        for (i, build) in builds.enumerated() {
            #expect(Fixtures.compile(source: Paths.fixtures + "/reloadable.c", output: build, extraArguments: ["-DVERSION=\(i + 2)", "-DWITH_HANDLE"]) == 0)
        }
        let registry = PluginRegistry()
        // A warm-up soak a tenth as long first, measured from the start: the first reloads page
        // in code and grow malloc's per-thread arenas to their working size (about 4 MiB of
        // code and 6 MiB of arenas in a debug build), which is the host warming up, not the
        // reloads leaking. Growth after that is what the reloads cost.
        trimMalloc()
        let start = Resources.now()
        let warmUp = soak(reloads: max(reloads / 10, 10), fixture: fixture, builds: builds, registry: registry).summary(registry: registry, fixture: fixture)
        trimMalloc()
        let before = Resources.now(), inUseBefore = mallocInUse()
        // The tally is summarised and dropped before measuring, so its thousands of paths
        // are not counted against the reloads.
        let main = soak(reloads: reloads, fixture: fixture, builds: builds, registry: registry).summary(registry: registry, fixture: fixture)
        trimMalloc()
        let after = Resources.now(), inUseAfter = mallocInUse()
        print("threaded soak: \(reloads) reloads by the reloader + callers' own, \(main.versions) versions loaded, "
              + "\(main.calls) calls from \(Self.callerCount + 1) VMs, \(main.failures.count) failed; "
              + "fds \(before.fds) -> \(after.fds), RSS \(start.rssKiB) (start) -> \(before.rssKiB) (after warm-up) -> \(after.rssKiB) KiB, "
              + "malloc in use \(inUseBefore / 1024) -> \(inUseAfter / 1024) KiB, "
              + "retired still loaded \(registry.retiredCount), replaced copies still mapped \(main.stillMapped + warmUp.stillMapped), "
              + "replaced versions still in memory \(main.stillAlive + warmUp.stillAlive)")
        #expect(warmUp.failures.isEmpty && main.failures.isEmpty, "\((warmUp.failures + main.failures).prefix(3))")
        #expect(main.calls >= reloads * 150)
        #expect(main.versions > reloads, "the callers reloaded too")
        #expect(registry.retiredCount == 0, "every replaced version was closed")
        #expect(main.stillMapped + warmUp.stillMapped == 0, "replaced versions' copies are unmapped")
        #expect(main.stillAlive + warmUp.stillAlive == 0, "every replaced version's LoadedPlugin was freed")
        #expect(main.currentMapped, "the current version stays for the next import")
        // Other suites run in parallel in this process and open files: descriptors on this
        // soak's files only.
        #expect(main.descriptors + warmUp.descriptors == 0, "descriptors left on the plugin's files or copies")
        #expect(main.copiesOnDisk + warmUp.copiesOnDisk == 0, "private copies left in the staging directory")
        // RSS and malloc's totals are the whole process's: in a full `swift test` every other
        // suite allocates in it at the same time (one run saw +50 MiB there, +4 MiB with this
        // suite alone), so the bounds are checked in the dedicated run, where this soak has the
        // process to itself.
        if dedicatedRun {
            #expect(inUseAfter - inUseBefore < Self.inUseToleranceBytes, "malloc's bytes in use grew \(inUseAfter - inUseBefore) over the soak")
            #expect(after.rssKiB - before.rssKiB < Self.rssToleranceKiB, "RSS grew \(after.rssKiB - before.rssKiB) KiB after the warm-up")
        }
    }

    static let callerCount = 3
    /// What the bytes malloc has handed out and not had back may grow by over the soak:
    /// 1,000 reloads load about 3,800 versions, so this is under 70 bytes a version.
    static let inUseToleranceBytes = 256 * 1024
    /// What RSS may grow by after the warm-up. Freed memory that malloc keeps counts here:
    /// malloc_trim releases free chunks inside a thread's arena but not the free space at
    /// its top, which glibc keeps up to twice the largest block it recently freed by munmap
    /// (its dynamic trim threshold), per arena.
    static let rssToleranceKiB = 8 * 1024

    /// One soak: VMs on their own threads call while the reloader replaces the file and
    /// reloads `reloads` times; every VM is gone when it returns.
    func soak(reloads: Int, fixture: ReloadFixture, builds: [String], registry: PluginRegistry) -> Tally {
        let tally = Tally()
        let round = """
            var ok = 0
            for i in 0..50 {
                let b = reloadable.make()
                if reloadable.peek(b) >= 2 and reloadable.value() > 0 { ok += 1 }
            }
            print(ok)
            """
        var sessions: [(VM, PluginHost, @Sendable (String) -> String)] = []
        for _ in 0...Self.callerCount {
            let session = fixture.session(registry: registry)
            let version = session.2("import \"reloadable\"\nprint(reloadable.version())")
            if version != "2\n" && version != "3\n" { tally.fail("import: \(version)") }
            if let plugin = session.1.bridges["reloadable"]?.plugin { tally.loaded(plugin) }
            sessions.append(session)
        }
        let done = DispatchGroup()
        // Callers: rounds of calls, a reload of their own every fourth round.
        for (index, (_, host, evaluate)) in sessions.dropFirst().enumerated() {
            done.enter()
            // NOTE: the host is not Sendable; each caller's host goes to that caller's thread
            // alone, and this thread does not touch it again until `done` is waited for.
            nonisolated(unsafe) let host = host
            Thread {
                var n = 0
                while true {
                    if tally.isStopped { break }
                    let answer = evaluate(round)
                    if answer == "50\n" { tally.called(150) } else { tally.fail("caller \(index): \(answer)") }
                    n += 1
                    if n % 4 == 0 {
                        switch host.reload(module: "reloadable") {
                        case .success(let reload): tally.loaded(reload.new)
                        case .failure(let e): tally.fail("caller \(index) reload: \(e.reason)")
                        }
                    }
                }
                done.leave()
            }.start()
        }
        // The reloader: replaces the file (rename, as build tools do), reloads, calls.
        let (_, host, evaluate) = sessions[0]
        for r in 0..<reloads {
            let staging = fixture.directory + "/staging.so"
            // NOTE: unlink, not a `try?` that fails: Swift Testing keeps a backtrace for every
            // error thrown while a test runs (about 200 bytes each), which the malloc check
            // below would count against the reloads.
            unlink(staging)
            try! FileManager.default.copyItem(atPath: builds[r % 2], toPath: staging)
            if rename(staging, fixture.file) != 0 { tally.fail("rename: \(errno)") }
            switch host.reload(module: "reloadable") {
            case .success(let reload): tally.loaded(reload.new)
            case .failure(let e): tally.fail("reloader: \(e.reason)")
            }
            let answer = evaluate(round)
            if answer == "50\n" { tally.called(150) } else { tally.fail("reloader: \(answer)") }
        }
        tally.stop()
        done.wait()
        // The VMs go away with `sessions` here: their handles are destroyed by the versions
        // that made them and their bindings released, which closes every replaced version.
        return tally
    }
}

/// Bytes malloc has handed out and not had back, in every arena, read from malloc_info's
/// report (mallinfo2 returns a struct Swift cannot call through dlsym): each arena's system
/// bytes less its free chunks (fast bins, other bins and the top), plus mmap'd blocks.
func mallocInUse() -> Int {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_info") else { return 0 }
    var buffer: UnsafeMutablePointer<CChar>? = nil
    var size = 0
    guard let stream = open_memstream(&buffer, &size) else { return 0 }
    _ = unsafeBitCast(symbol, to: (@convention(c) (Int32, UnsafeMutablePointer<FILE>) -> Int32).self)(0, stream)
    fclose(stream)
    defer { free(buffer) }
    guard let buffer else { return 0 }
    let report = String(cString: buffer)
    // The totals come after the last </heap>.
    guard let totals = report.range(of: "</heap>", options: .backwards).map({ report[$0.upperBound...] }) else { return 0 }
    func number(_ tag: String) -> Int {
        guard let at = totals.range(of: tag) else { return 0 }
        let rest = totals[at.upperBound...]
        guard let open = rest.range(of: "size=\""), let close = rest[open.upperBound...].firstIndex(of: "\"") else { return 0 }
        return Int(rest[open.upperBound..<close]) ?? 0
    }
    return number("<system type=\"current\"") - number("<total type=\"fast\"") - number("<total type=\"rest\"") + number("<total type=\"mmap\"")
}

/// glibc's malloc_trim(0): returns free memory in every arena to the system (not in Swift's
/// Glibc module, so found with dlsym).
func trimMalloc() {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
    _ = unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)(0)
}
