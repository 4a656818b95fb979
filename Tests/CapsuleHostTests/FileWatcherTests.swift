@testable import CapsuleHost
import Foundation
import Testing

/// The inotify watcher: rewrite in place, rename-over, debouncing, unrelated files.
@Suite struct FileWatcherTests {
    /// NOTE: `@unchecked Sendable` because every field is read and written with `lock` held.
    final class Reports: @unchecked Sendable {
        let lock = NSLock()
        var paths: [String] = []
        func add(_ p: String) { lock.lock(); paths.append(p); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return paths }
        /// Waits up to `seconds` for `count` reports.
        func wait(for count: Int, seconds: Double = 5) -> [String] {
            let deadline = Date().addingTimeInterval(seconds)
            while all.count < count && Date() < deadline { usleep(1000) }
            return all
        }
    }

    func directory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-watch-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func reportsRewriteAndRenameOverOncePerWriter() throws {
        let dir = try directory()
        let target = dir + "/libcapsule_x.so"
        try Data("v1".utf8).write(to: URL(fileURLWithPath: target))
        let reports = Reports()
        let watcher = try FileWatcher(debounce: 0.02) { reports.add($0) }
        try watcher.watch(target)
        watcher.start()
        defer { watcher.stop() }

        // A write in several pieces (as a linker does) is one report, after the close.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: target))
        for _ in 0..<5 { handle.write(Data("chunk".utf8)); usleep(2000) }
        try handle.close()
        #expect(reports.wait(for: 1) == [target])

        // Writing a temporary file and renaming it over the watched one.
        try Data("v2".utf8).write(to: URL(fileURLWithPath: dir + "/tmp.so"))
        #expect(rename(dir + "/tmp.so", target) == 0)
        #expect(reports.wait(for: 2) == [target, target])

        // Files that are not watched are not reported.
        try Data("other".utf8).write(to: URL(fileURLWithPath: dir + "/other.so"))
        usleep(100_000)
        #expect(reports.all.count == 2)
        #expect(watcher.watched == [target])
    }

    @Test func aMissingDirectoryIsAnError() throws {
        let watcher = try FileWatcher { _ in }
        #expect(throws: FileWatcherError.self) { try watcher.watch("/nonexistent-dir/libcapsule_x.so") }
    }
}

/// A write that starts right after another one finished is waited for: the watcher reports
/// only once the latest writer closed (never the half-written state between them).
@Suite struct FileWatcherSecondWriteTests {
    @Test func aSecondWriteIsReportedAfterItsOwnClose() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-watch-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = dir + "/libcapsule_x.so"
        try Data("v1".utf8).write(to: URL(fileURLWithPath: target))
        let reports = FileWatcherTests.Reports()
        let sizes = FileWatcherTests.Reports()
        let watcher = try FileWatcher(debounce: 0.1) { path in
            reports.add(path)
            sizes.add(String((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1))
        }
        try watcher.watch(target)
        watcher.start()
        defer { watcher.stop() }
        // A first writer closes; a second truncates at once and pauses longer than the
        // debounce mid-write before closing.
        let first = try FileHandle(forWritingTo: URL(fileURLWithPath: target))
        first.write(Data("first".utf8))
        try first.close()
        let second = try FileHandle(forWritingTo: URL(fileURLWithPath: target))
        second.truncateFile(atOffset: 0)
        second.write(Data("half".utf8))
        usleep(400_000)
        second.write(Data("-and-the-rest".utf8))
        try second.close()
        #expect(reports.wait(for: 1).first == target)
        usleep(250_000)
        // Never the half-written state between the second writer's truncate and its close.
        // The first writer's finished file ("first", 5 bytes) may be reported too, when this
        // thread was descheduled for longer than the debounce between the two writers (a
        // loaded CI machine); then the second writer's close is reported after it.
        #expect(!sizes.all.contains("4"), "a half-written file was reported: \(sizes.all)")
        #expect(sizes.all == ["17"] || sizes.all == ["5", "17"], "\(sizes.all)")
    }
}
