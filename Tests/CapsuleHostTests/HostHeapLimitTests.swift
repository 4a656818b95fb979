@testable import CapsuleHost
import Foundation
import Testing

/// `--max-heap` against what the host allocates for scripts outside the VM heap: file reads
/// and plugin results are checked against the limit before the host builds their buffers
/// (docs/limits.md#heap-limit).
@Suite struct HostHeapLimitTests {
    static let limit = 1 << 20
    static let oom = "out of memory (heap limit 1 MiB)"

    /// A directory holding `big.txt` (4 MiB, no newline), `small.txt` and `lines.txt`.
    static func files() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-heap-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data(repeating: UInt8(ascii: "x"), count: 4 << 20).write(to: URL(fileURLWithPath: dir + "/big.txt"))
        try Data("small\n".utf8).write(to: URL(fileURLWithPath: dir + "/small.txt"))
        return dir
    }

    @Test func readingAFileBiggerThanTheHeapIsOutOfMemory() throws {
        let dir = try Self.files()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = """
            import "fs"
            try { fs.read("\(dir)/big.txt") } catch e { print(e.message) }
            try { fs.read_bytes("\(dir)/big.txt") } catch e { print(e.message) }
            let f = fs.open("\(dir)/big.txt", "r")
            try { fs.read_line(f) } catch e { print(e.message) }
            try { fs.read_chunk(f, 2 << 20) } catch e { print(e.message) }
            print(len(fs.read_chunk(f, 1000)))
            fs.close(f)
            // A huge chunk size on a small file asks only for what the file holds.
            let g = fs.open("\(dir)/small.txt", "r")
            print(fs.read_chunk(g, 1 << 30).hex(), len(fs.read_chunk(g, 1 << 30)))
            print(fs.read("\(dir)/small.txt").trim())
            """
        let policy = Policy(grants: [Capability(.fsRead, dir)])
        let lines = run(source, policy: policy, maxHeap: Self.limit).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.count == 8)
        #expect(lines.first == "fs.read: \(dir)/big.txt: \(Self.oom) reading 4194304 bytes")
        #expect(lines.dropFirst(1).first == "fs.read_bytes: \(dir)/big.txt: \(Self.oom) reading 4194304 bytes")
        // (How much of the line was read before the limit depends on what the heap holds.)
        #expect(lines.dropFirst(2).first?.hasPrefix("fs.read_line: \(Self.oom) reading a line of more than ") == true)
        #expect(Array(lines.dropFirst(3)) == ["fs.read_chunk: \(Self.oom) reading 2097152 bytes", "1000", "736d616c6c0a 0", "small", ""])
        // Without a limit the same reads succeed.
        let unlimited = run("import \"fs\"\nprint(len(fs.read(\"\(dir)/big.txt\")), len(fs.read_chunk(fs.open(\"\(dir)/big.txt\", \"r\"), 2 << 20)))",
                            policy: policy)
        #expect(unlimited == "\(4 << 20) \(2 << 20)\n")
    }

    /// A plugin's bytes result larger than the heap has room for, in-process and isolated.
    @Test(arguments: [false, true])
    func aPluginResultBiggerThanTheHeapIsOutOfMemory(isolated: Bool) {
        let grants = [Capability(.fsRead, "/tmp"), Capability(.netConnect, "localhost"), Capability(.env, "X")]
        let policy = Policy(plugins: ["unruly": grants], trusted: isolated ? [] : ["unruly"])
        let output = run("""
            import "unruly"
            print(unruly.worker_pid() != \(getpid()))
            try { unruly.repeat("xy", 2000000) } catch e { print(e.message) }
            print(len(unruly.repeat("xy", 1000)))
            """, pluginPaths: [Fixtures.directory], policy: policy, maxHeap: Self.limit)
        #expect(output == "\(isolated)\nunruly.repeat: \(Self.oom): the bytes result has 4000000 bytes\n2000\n")
    }

    /// `proc.run`'s captured output is checked before it becomes script strings.
    @Test func aProgramsOutputBiggerThanTheHeapIsOutOfMemory() throws {
        let dir = try Self.files()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let output = run("""
            import "proc"
            try { proc.run("/bin/cat", ["\(dir)/big.txt"]) } catch e { print(e.message) }
            print(proc.run("/bin/cat", ["\(dir)/small.txt"])["stdout"])
            """, policy: Policy(grants: [Capability(.run, "/bin/cat")]), maxHeap: Self.limit)
        #expect(output == "proc.run: /bin/cat: \(Self.oom): the output has 4194304 bytes\nsmall\n\n")
    }
}
