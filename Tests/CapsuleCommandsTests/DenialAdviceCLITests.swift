import CapsuleHost
import Foundation
import Testing

/// A denial's advice is a flag that works: each test runs a script that is denied, takes the
/// `grant with FLAG` text from the message, pastes it into a shell command line after the
/// first run's flags, and checks that the second run succeeds.
@Suite struct DenialAdviceCLITests {
    /// A fresh directory with `work/` (the current directory of the runs), `x` beside it,
    /// `work/link` → `x` and `dir with space/y` beside it.
    func tree() throws -> String {
        let root = FileManager.default.temporaryDirectory.path + "/advice-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/work/sub", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/dir with space", withIntermediateDirectories: true)
        try "x-text".write(toFile: root + "/x", atomically: false, encoding: .utf8)
        try "y-text".write(toFile: root + "/dir with space/y", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: root + "/work/link", withDestinationPath: root + "/x")
        return root
    }

    /// `sh -c "capsule run FLAGS -e CODE"` in `directory`.
    func run(_ flags: String, _ code: String, in directory: String) throws -> (status: Int32, out: String, err: String) {
        let binary = try #require(PluginHost.executableDirectory()).appending("/capsule")
        return try runProgram("/bin/sh", ["-c", "\"$0\" run \(flags) -e \"$1\"", binary, code], in: directory)
    }

    /// The flag a denial advises: the text after `grant with ` up to the closing `)` of the
    /// error line.
    func advice(_ report: String) -> String? {
        let message = report.prefix { $0 != "\n" }
        guard let start = message.range(of: "grant with ") else { return nil }
        let rest = message[start.upperBound...]
        guard let end = rest.lastIndex(of: ")") else { return nil }
        return String(rest[..<end])
    }

    /// Denied with `flags`, then allowed with `flags` and the advice; returns the denial.
    @discardableResult
    func checkAdvice(_ flags: String, _ code: String, expecting output: String) throws -> String {
        let root = try tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let denied = try run(flags, code, in: root + "/work")
        #expect(denied.status == 70, "\(code): \(denied.err)")
        let flag = try #require(advice(denied.err), "no advice in: \(denied.err)")
        let again = try run(flags + " " + flag, code, in: root + "/work")
        #expect(again.status == 0, "\(code) with \(flag): \(again.err)")
        #expect(again.out == output)
        return denied.err.replacing(root, with: "ROOT")
    }

    @Test func aPathWithDotDotIsAdvisedResolved() throws {
        let err = try checkAdvice("--allow-read=.", "import \"fs\"; print(fs.read(\"sub/../../x\"))", expecting: "x-text\n")
        #expect(err.hasPrefix("<-e>:1:20: error: denied: fs.read ROOT/work/sub/../../x (it resolves to ROOT/x: grant with --allow-read=ROOT/x)\n"))
        // Without any grant the advice is the resolved path too.
        try checkAdvice("", "import \"fs\"; print(fs.read(\"../x\"))", expecting: "x-text\n")
    }

    @Test func anAbsolutePathASymlinkAndADirectory() throws {
        try checkAdvice("--allow-read=.", "import \"fs\"; print(fs.read(\"link\"))", expecting: "x-text\n")
        try checkAdvice("", "import \"fs\"; print(fs.list(\"..\").contains(\"x\"))", expecting: "true\n")
        let root = try tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let denied = try run("", "import \"fs\"; print(fs.read(\"\(root)/x\"))", in: root + "/work")
        #expect(denied.err.contains("(grant with --allow-read=\(root)/x)"))
    }

    @Test func anOutputFileThatDoesNotExistYet() throws {
        try checkAdvice("--allow-write=.", "import \"fs\"; fs.write(\"sub/../../new.txt\", \"n\"); print(\"ok\")", expecting: "ok\n")
    }

    @Test func aPathNeedingQuotesIsAdvisedQuoted() throws {
        let err = try checkAdvice("", "import \"fs\"; print(fs.read(\"../dir with space/y\"))", expecting: "y-text\n")
        #expect(err.contains("grant with '--allow-read=ROOT/dir with space/y')"))
    }

    @Test func allowAllNeverAdvisesAGrantOfTheRoot() throws {
        let root = try tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let r = try run("--allow-all", "import \"fs\"; print(fs.read(\"sub/../link\")); try { fs.read(\"/proc/self/root/etc/hostname\") } catch e { print(e.message) }",
                        in: root + "/work")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.hasPrefix("x-text\n"))
        #expect(!r.out.contains("outside the grant"))
    }
}
