import Foundation
import Testing
@testable import CapsuleCore

/// Full `disassemble` listings of small programs, compared with committed files in
/// `Snapshots/` (NAME.cap → NAME.expected). A mismatch fails with a line diff; there is no
/// recording mode: update an expected file by hand (or with `capsule disasm`) and review it.
@Suite struct DisassemblerSnapshotTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")

    @Test(arguments: ["fib", "counter", "classes", "loops"])
    func listingMatchesSnapshot(_ name: String) throws {
        let source = try String(contentsOf: Self.directory.appendingPathComponent("\(name).cap"), encoding: .utf8)
        let expected = try String(contentsOf: Self.directory.appendingPathComponent("\(name).expected"), encoding: .utf8)
        let actual: String
        switch VM().disassemble(source: source, name: "\(name).cap") {
        case .success(let text): actual = text.hasSuffix("\n") ? text : text + "\n"
        case .failure(let f): Issue.record("\(name).cap does not compile:\n\(f.rendered)"); return
        }
        if actual != expected {
            Issue.record("disassembly of \(name).cap differs from Snapshots/\(name).expected:\n\(lineDiff(expected, actual))")
        }
    }

    @Test func snapshotProgramsStillRun() {
        #expect(output(of: try! String(contentsOf: Self.directory.appendingPathComponent("fib.cap"), encoding: .utf8)) == "6765\n")
        #expect(output(of: try! String(contentsOf: Self.directory.appendingPathComponent("counter.cap"), encoding: .utf8)) == "2\n")
        #expect(output(of: try! String(contentsOf: Self.directory.appendingPathComponent("classes.cap"), encoding: .utf8)) == "25\n")
        #expect(output(of: try! String(contentsOf: Self.directory.appendingPathComponent("loops.cap"), encoding: .utf8)) == "0 7 xy\n")
    }

    @Test func lineDiffShowsChangedLines() {
        #expect(lineDiff("a\nb\nc\n", "a\nX\nc\n") == "  line 2:\n  - b\n  + X\n")
        #expect(lineDiff("a\n", "a\nb\n") == "  line 2:\n  - \n  + b\n")
    }
}

/// The lines that differ, as `- expected` / `+ actual` pairs with their line numbers.
func lineDiff(_ expected: String, _ actual: String) -> String {
    let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
    let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
    var out = ""
    for i in 0..<max(e.count, a.count) {
        let x = i < e.count ? String(e[i]) : "", y = i < a.count ? String(a[i]) : ""
        if x != y { out += "  line \(i + 1):\n  - \(x)\n  + \(y)\n" }
    }
    return out
}
