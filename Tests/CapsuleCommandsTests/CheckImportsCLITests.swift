@testable import CapsuleCommands
import Foundation
import Testing

/// `capsule check` takes several files and follows their static imports; `capsule run`
/// fails with 65, as a compile error, when an imported module does not compile.
@Suite struct CheckImportsCLITests {
    /// `app/main.cap` imports `lib/util` (which has an error) and `math` (built in);
    /// `app/other.cap` has its own error; `outside/x.cap` is beyond main's directory.
    func tree() throws -> ScratchDirectory {
        let dir = try ScratchDirectory()
        try dir.write("app/main.cap", "import \"lib/util\"\nimport \"math\"\nimport \"../outside/x\"\nprint(util.twice(2))\n")
        try dir.write("app/lib/util.cap", "import \"helper\"\nfn twice(n) { return n * tow }\n")
        try dir.write("app/lib/helper.cap", "let two = 2\nlet = 1\n")
        try dir.write("app/other.cap", "print(undefinedName)\n")
        try dir.write("app/good.cap", "import \"lib/fine\"\nprint(fine.x)\n")
        try dir.write("app/lib/fine.cap", "let x = 1\n")
        try dir.write("outside/x.cap", "this is not capsule\n")
        return dir
    }

    @Test func checkReportsErrorsInImportedModulesUnderTheirPaths() throws {
        let dir = try tree()
        let result = try capsule(["check", "app/main.cap"], in: dir.path)
        #expect(result.status == 65)
        #expect(result.err == """
            app/lib/util.cap:2:26: error: undefined variable 'tow'
                fn twice(n) { return n * tow }
                                         ^
            app/lib/helper.cap:2:5: error: expected variable name after 'let', got '='
                let = 1
                    ^

            """, "\(result.err)")
        // Nothing outside the script's directory is read, so nothing of it is shown.
        #expect(!result.err.contains("outside"))
    }

    @Test func checkTakesSeveralFilesAndChecksEachOnce() throws {
        let dir = try tree()
        let result = try capsule(["check", "app/good.cap", "app/other.cap", "app/lib/fine.cap"], in: dir.path)
        #expect(result.status == 65)
        #expect(result.err == """
            app/other.cap:1:7: error: undefined variable 'undefinedName'
                print(undefinedName)
                      ^

            """, "\(result.err)")
        let checked = CheckCommand.check([dir.path + "/app/good.cap", dir.path + "/app/lib/fine.cap"]).checked
        #expect(checked == [dir.path + "/app/good.cap", dir.path + "/app/lib/fine.cap"])
        let good = try capsule(["check", "app/good.cap"], in: dir.path)
        #expect(good.status == 0 && good.err.isEmpty)
    }

    @Test func checkOfAnUnreadableFileStillChecksTheOthers() throws {
        let dir = try tree()
        let result = try capsule(["check", "app/missing.cap", "app/other.cap"], in: dir.path)
        #expect(result.status == 74)
        #expect(result.err.hasPrefix("app/other.cap:1:7: error: undefined variable 'undefinedName'\n"))
        #expect(result.err.hasSuffix("error: cannot read app/missing.cap: No such file or directory\n"))
    }

    @Test func runExits65WhenAnImportedModuleDoesNotCompile() throws {
        let dir = try tree()
        try dir.write("app/run.cap", "print(\"start\")\nimport \"lib/helper\"\n")
        let result = try capsule(["run", "app/run.cap"], in: dir.path)
        #expect(result.status == 65)
        #expect(result.out == "start\n")
        #expect(result.err == """
            error: cannot compile module 'app/lib/helper.cap':
            app/lib/helper.cap:2:5: error: expected variable name after 'let', got '='
                let = 1
                    ^
              at <script> (app/run.cap:2:1)

            """, "\(result.err)")
        // Caught, it is an ordinary error.
        try dir.write("app/caught.cap", "try { import \"lib/helper\" } catch e { print(\"caught\") }\n")
        let caught = try capsule(["run", "app/caught.cap"], in: dir.path)
        #expect(caught.status == 0 && caught.out == "caught\n")
    }
}
