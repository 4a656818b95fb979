@testable import CapsuleHost
@testable import CapsuleSystem
import Foundation
import Testing

/// Review finding: `fs.open(p, "r+")` checks fs.write only textually (grant prefix), then
/// opens under the fs.read grant. With a wider read grant than write grant, `r+` writes
/// files the write grant does not cover.
@Suite struct ReviewMixedGrantTests {
    @Test func readWriteOpenNeverWritesOutsideTheWriteGrant() throws {
        let s = Sandbox()
        let grants = [Capability(.fsRead, s.root), Capability(.fsWrite, s.granted)]
        _ = s.run("""
            t(fn() { let f = fs.open("\(s.granted)/../outside.txt", "r+"); fs.write_chunk(f, "PWNED"); fs.close(f); return "wrote" })
            """, grants: grants)
        #expect(try String(contentsOfFile: s.outside, encoding: .utf8) == "SECRET\n")
    }

    @Test func readWriteOpenThroughAGrantedSymlinkNeverWritesItsOutsideTarget() throws {
        let s = Sandbox()
        s.symlink("link", to: s.outside)
        let grants = [Capability(.fsRead, s.granted + "/link"), Capability(.fsWrite, s.granted)]
        _ = s.run("""
            t(fn() { let f = fs.open("\(s.granted)/link", "r+"); fs.write_chunk(f, "PWNED"); fs.close(f); return "wrote" })
            """, grants: grants)
        #expect(try String(contentsOfFile: s.outside, encoding: .utf8) == "SECRET\n")
    }
}
