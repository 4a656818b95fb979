@testable import CapsuleHost
import Foundation
import Testing

/// Plugins run from a private copy: rebuilding the file in place cannot touch a running host,
/// and no copies are left behind.
@Suite struct PrivateCopyTests {
    /// Paths in this process's maps that came from a plugin copy.
    static func mappedCopies(containing name: String) throws -> [String] {
        // /proc files report size 0: read until the end rather than by size.
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/maps"))
        defer { try? handle.close() }
        let maps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        return maps.split(separator: "\n").compactMap { line in
            line.contains("capsule-plugins-") && line.contains(name) ? String(line) : nil
        }
    }

    @Test func overwritingTheLoadedFileInPlaceDoesNotTouchTheRunningCode() throws {
        let dir = Fixtures.directory + "/in-place"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/libcapsule_good.so"
        _ = try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: Fixtures.path("good"), toPath: path)
        let vm = VM(configuration: Configuration())
        PluginHost(pluginPaths: [dir], registry: PluginRegistry()).install(on: vm)
        #expect(vm.evaluate(#"import "good""#) == .success(.nil))
        #expect(vm.evaluate("good.triple(5)") == .success(.int(15)))
        // Truncate and rewrite the same inode, as `cc -o` does: the mapped code is a copy.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 0)
        handle.write(Data(repeating: 0xCC, count: 16 * 1024))
        try handle.close()
        #expect(vm.evaluate("good.triple(7)") == .success(.int(21)))
        // The copy is mapped, already deleted from the staging directory.
        let copies = try Self.mappedCopies(containing: "libcapsule_good.")
        #expect(!copies.isEmpty)
        #expect(copies.allSatisfy { $0.hasSuffix("(deleted)") })
    }

    @Test func aRefusedPluginLeavesNoCopy() throws {
        // Files named for this test alone: other suites stage copies of the same fixtures in
        // the same directory at the same time.
        let tag = "copytest-\(UUID().uuidString)"
        let dir = Fixtures.directory + "/" + tag
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func copy(_ fixture: String) throws -> String {
            let path = dir + "/\(tag)-\(fixture).so"
            try FileManager.default.copyItem(atPath: Fixtures.path(fixture), toPath: path)
            return path
        }
        let good = try copy("good"), wrongABI = try copy("wrong_abi"), noEntry = try copy("no_entry")
        let staged = try #require(try? PrivateCopy.stage(good).get())
        let directory = String(staged.path[..<staged.path.lastIndex(of: "/")!])
        PrivateCopy.discard(staged)
        if case .success = PluginLoader.load(path: wrongABI) { Issue.record("wrong_abi loaded") }
        if case .success = PluginLoader.load(path: noEntry) { Issue.record("no_entry loaded") }
        if case .success = PluginLoader.load(path: good) {} else { Issue.record("good did not load") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(tag) } == [])
    }

    @Test func aFileThatIsNotAnObjectIsRefusedBeforeDlopen() throws {
        let path = Fixtures.directory + "/libcapsule_text.so"
        try "not a library".write(toFile: path, atomically: true, encoding: .utf8)
        guard case .failure(let error) = PluginLoader.load(path: path) else { Issue.record("loaded"); return }
        #expect(error.description == "cannot load plugin \(path): not a loadable shared object: not an ELF file")
    }
}
