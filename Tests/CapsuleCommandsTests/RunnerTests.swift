@testable import CapsuleCommands
import Foundation
import Testing

@Suite struct RunnerTests {
    let scratch: ScratchDirectory
    let runner: GoldenRunner

    init() throws {
        scratch = try ScratchDirectory()
        runner = GoldenRunner(root: scratch.path, execute: fakeExecutor)
    }

    @Test func discoversCapFilesRecursivelySortedAndSkipsLib() throws {
        try scratch.write("b.cap", "")
        try scratch.write("a/z.cap", "")
        try scratch.write("a/lib/helper.cap", "")
        try scratch.write("lib/util.cap", "")
        try scratch.write("a/deeper/lib/x.cap", "")
        try scratch.write("a/notes.txt", "")
        try scratch.write("a/z.out", "")
        try scratch.write("library/kept.cap", "")
        #expect(runner.discover().map(\.name) == ["a/z.cap", "b.cap", "library/kept.cap"])
    }

    @Test func caseKnowsItsFiles() throws {
        let testCase = GoldenCase(root: "/r", name: "arith/overflow.cap")
        #expect(testCase.path == "/r/arith/overflow.cap")
        #expect(testCase.stdoutPath == "/r/arith/overflow.out")
        #expect(testCase.stderrPath == "/r/arith/overflow.err")
        #expect(testCase.description == "arith/overflow.cap")
    }

    @Test func relativeRootIsMadeAbsolute() {
        let runner = GoldenRunner(root: "Tests/Scripts/../Scripts", execute: fakeExecutor)
        #expect(runner.root == FileManager.default.currentDirectoryPath + "/Tests/Scripts")
    }

    @Test func passesWhenOutputAndErrorMatch() throws {
        try scratch.write("ok.cap", "print 1\nfail boom")
        try scratch.write("ok.out", "1\n")
        try scratch.write("ok.err", "error: boom\n")
        let result = runner.run(try #require(runner.discover().first))
        #expect(result.passed)
        #expect(result.diff() == "")
    }

    @Test func missingExpectationFilesExpectNothing() throws {
        try scratch.write("quiet.cap", "")
        try scratch.write("loud.cap", "print hi")
        let results = runner.discover().map { runner.run($0) }
        #expect(results.map(\.passed) == [false, true])
        #expect(results[0].diff() == """
            --- loud.out (expected)
            +++ stdout (actual)
            @@ -0,0 +1 @@
            +hi

            """)
    }

    @Test func runsUnderRelativeNameAndAbsolutePath() throws {
        try scratch.write("dir/who.cap", "name\nstress")
        let testCase = try #require(runner.discover().first)
        let seen = GoldenRunner(root: scratch.path) { invocation in
            GoldenOutput(stdout: "\(invocation.name) \(invocation.path) \(invocation.gcStress)", stderr: "")
        }.run(testCase, gcStress: true)
        #expect(seen.actual.stdout == "dir/who.cap \(scratch.path)/dir/who.cap true")
        #expect(runner.run(testCase, gcStress: true).actual.stdout == "dir/who.cap\ntrue\n")
    }

    @Test func comparesBytesNotCanonicalEquivalence() throws {
        try scratch.write("e.cap", "print e\u{301}")
        try scratch.write("e.out", "\u{e9}\n")
        let result = runner.run(try #require(runner.discover().first))
        #expect("e\u{301}\n" == "\u{e9}\n")  // what String == would say
        #expect(!result.passed)
    }

    @Test func missingFinalNewlineFails() throws {
        try scratch.write("n.cap", "print x")
        try scratch.write("n.out", "x")
        let result = runner.run(try #require(runner.discover().first))
        #expect(!result.passed)
        #expect(result.diff().contains("\\ No newline at end of file"))
    }

    @Test func stderrMismatchIsDiffedAgainstErrFile() throws {
        try scratch.write("e.cap", "fail actual")
        try scratch.write("e.err", "error: expected\n")
        let result = runner.run(try #require(runner.discover().first))
        #expect(result.diff() == """
            --- e.err (expected)
            +++ stderr (actual)
            @@ -1 +1 @@
            -error: expected
            +error: actual

            """)
    }

    @Test func unreadableCaseFailsWithItsReason() throws {
        let result = runner.run(GoldenCase(root: scratch.path, name: "gone.cap"))
        #expect(!result.passed)
        #expect(result.actual.stderr == "error: cannot read \(scratch.path)/gone.cap: No such file or directory\n")
    }

    @Test func recordWritesChangedFilesAndRemovesEmptyOnes() throws {
        try scratch.write("r.cap", "print new")
        try scratch.write("r.out", "old\n")
        try scratch.write("r.err", "error: stale\n")
        let testCase = try #require(runner.discover().first)
        let changed = try runner.record(runner.run(testCase))
        #expect(changed == ["r.out", "r.err"])
        #expect(scratch.read("r.out") == "new\n")
        #expect(scratch.read("r.err") == nil)
        #expect(runner.run(testCase).passed)
        #expect(try runner.record(runner.run(testCase)) == [])
    }

    // MARK: The `capsule test` driver

    @Test func reportsFailuresWithDiffsAndSummary() throws {
        try scratch.write("a.cap", "print 1")
        try scratch.write("a.out", "1\n")
        try scratch.write("b.cap", "print 2")
        try scratch.write("b.out", "3\n")
        let captured = CapturedConsole()
        let status = TestCommand.execute(runner, filter: nil, gcStress: false, record: false, console: captured.console)
        #expect(status == 1)
        #expect(captured.out == """
            FAIL b.cap
            --- b.out (expected)
            +++ stdout (actual)
            @@ -1 +1 @@
            -3
            +2
            1 passed, 1 failed

            """)
    }

    @Test func filterSelectsBySubstringAndAllPassingExitsZero() throws {
        try scratch.write("arith/a.cap", "print 1")
        try scratch.write("arith/a.out", "1\n")
        try scratch.write("strings/b.cap", "print 2")
        let captured = CapturedConsole()
        let status = TestCommand.execute(runner, filter: "arith/", gcStress: false, record: false, console: captured.console)
        #expect(status == 0)
        #expect(captured.out == "1 passed, 0 failed\n")
    }

    @Test func noMatchingCasesIsAnError() throws {
        let captured = CapturedConsole()
        let status = TestCommand.execute(runner, filter: "x", gcStress: false, record: false, console: captured.console)
        #expect(status == 1)
        #expect(captured.err == "error: no cases under \(scratch.path) matching 'x'\n")
    }

    @Test func recordingNeverPasses() throws {
        try scratch.write("a.cap", "print 1")
        try scratch.write("b.cap", "print 2\nfail no")
        let captured = CapturedConsole()
        let status = TestCommand.execute(runner, filter: nil, gcStress: false, record: true, console: captured.console)
        #expect(status == 1)
        #expect(captured.out == """
            recorded a.out
            recorded b.out
            recorded b.err
            recorded 3 files; recording never passes, run again without --record

            """)
        let again = CapturedConsole()
        #expect(TestCommand.execute(runner, filter: nil, gcStress: false, record: false, console: again.console) == 0)
        #expect(TestCommand.execute(runner, filter: nil, gcStress: false, record: true, console: again.console) == 1)
    }
}
