@testable import CapsuleCommands
import Foundation
import Testing

/// `fs.lines`, `fs.walk` and `fs.glob` under `--allow-read`, through the real binary.
@Suite struct FSTreeCLITests {
    /// A tree: data/{a.txt, b.csv, .hidden, sub/{c.txt, deep/d.txt}, out -> ../secret}, secret/s.txt.
    func tree() throws -> ScratchDirectory {
        let scratch = try ScratchDirectory()
        try scratch.write("data/a.txt", "one\r\ntwo\n\nlast")
        try scratch.write("data/b.csv", "x,y\n")
        try scratch.write("data/.hidden", "h\n")
        try scratch.write("data/sub/c.txt", "c\n")
        try scratch.write("data/sub/deep/d.txt", "d\n")
        try scratch.write("secret/s.txt", "s\n")
        #expect(symlink("../secret", scratch.path + "/data/out") == 0)
        return scratch
    }

    @Test func linesSplitsAFileUnderTheReadGrant() throws {
        let scratch = try tree()
        let r = try capsule(["run", "--allow-read=data", "-e", """
            import "fs"
            print(fs.lines("data/a.txt"))
            for line in fs.lines("data/b.csv") { print(line.split(",")) }
            print(fs.lines("data/sub/../sub/c.txt"))
            try { fs.lines("data/missing") } catch e { print(e) }
            try { fs.lines("secret/s.txt") } catch e { print(e) }
            try { fs.lines("data/out/s.txt") } catch e { print(e) }
            """], in: scratch.path)
        #expect(r.status == 0)
        let lines = r.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(Array(lines.prefix(4)) == ["[\"one\", \"two\", \"\", \"last\"]", "[\"x\", \"y\"]", "[\"c\"]",
                                           "fs.lines: \(scratch.path)/data/missing: No such file or directory"])
        #expect(lines[4].hasPrefix("denied: fs.read \(scratch.path)/secret/s.txt"))
        #expect(lines[5].hasPrefix("denied: fs.read \(scratch.path)/data/out/s.txt"))
        #expect(lines[5].contains("(it resolves to \(scratch.path)/secret/s.txt: grant with --allow-read=\(scratch.path)/secret/s.txt)"))
    }

    @Test func walkListsTheTreeWithoutFollowingLinks() throws {
        let scratch = try tree()
        let r = try capsule(["run", "--allow-read=data", "-e", """
            import "fs"
            for p in fs.walk("data") { print(p) }
            print(fs.walk("data/sub/"))
            try { fs.walk("secret") } catch e { print(e) }
            try { fs.walk("data/a.txt") } catch e { print(e) }
            """], in: scratch.path)
        #expect(r.status == 0)
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(Array(lines.prefix(9)) == [
            "data/.hidden", "data/a.txt", "data/b.csv", "data/out", "data/sub", "data/sub/c.txt", "data/sub/deep",
            "data/sub/deep/d.txt", "[\"data/sub/c.txt\", \"data/sub/deep\", \"data/sub/deep/d.txt\"]",
        ])
        #expect(lines[9].hasPrefix("denied: fs.read \(scratch.path)/secret"))
        #expect(lines[10] == "fs.walk: \(scratch.path)/data/a.txt: Not a directory")
    }

    @Test func globMatchesEachComponent() throws {
        let scratch = try tree()
        let r = try capsule(["run", "--allow-read=data", "-e", """
            import "fs"
            print(fs.glob("data/*.txt"))
            print(fs.glob("data/*"))
            print(fs.glob("data/.*"))
            print(fs.glob("data/*/*.txt"))
            print(fs.glob("data/s?b/[cd]*"))
            print(fs.glob("data/a.txt"), fs.glob("data/none.txt"), fs.glob("data/none/*.txt"))
            try { fs.glob("data/out/*") } catch e { print(e) }
            try { fs.glob("secret/*") } catch e { print(e) }
            try { fs.glob(1) } catch e { print(e) }
            """], in: scratch.path)
        #expect(r.status == 0)
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(Array(lines.prefix(6)) == [
            "[\"data/a.txt\"]",
            "[\"data/a.txt\", \"data/b.csv\", \"data/out\", \"data/sub\"]",
            "[\"data/.hidden\"]",
            "[\"data/sub/c.txt\"]",
            "[\"data/sub/c.txt\", \"data/sub/deep\"]",
            "[\"data/a.txt\"] [] []",
        ])
        #expect(lines[6].hasPrefix("denied: fs.read \(scratch.path)/data/out"))
        #expect(lines[7].hasPrefix("denied: fs.read \(scratch.path)/secret"))
        #expect(lines[8] == "fs.glob: argument 1: expected a pattern (str), got int")
    }

    @Test func mkdirOfTheGrantedDirectoryItselfSaysItExists() throws {
        let scratch = try tree()
        let r = try capsule(["run", "--allow-write=data", "-e", """
            import "fs"
            try { fs.mkdir("data") } catch e { print(e) }
            try { fs.mkdir("data/") } catch e { print(e) }
            try { fs.mkdir("data/sub") } catch e { print(e) }
            fs.mkdir("data/new")
            print("made")
            """], in: scratch.path)
        #expect(r.status == 0)
        #expect(r.out == """
            fs.mkdir: \(scratch.path)/data: File exists
            fs.mkdir: \(scratch.path)/data: File exists
            fs.mkdir: \(scratch.path)/data/sub: File exists
            made

            """)
    }
}
