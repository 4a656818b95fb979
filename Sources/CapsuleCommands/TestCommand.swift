import ArgumentParser

/// `capsule test [DIR]`: runs the golden scripts, the same runner `swift test` uses.
struct TestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run golden scripts and compare their output with the expected files.",
        discussion: """
            Each NAME.cap under DIR (recursively; directories named `lib` are skipped) runs \
            in a fresh VM. Its output must equal NAME.out and its error text NAME.err, byte \
            for byte; a missing file means no output is expected. Each failing case is \
            printed with a diff, then a final `N passed, M failed` line. Exits with 1 if \
            any case failed.

            --record rewrites the .out and .err files from the actual output. A recording \
            run always exits with 1: review the changes, then run again without --record.

            Examples:
              capsule test
              capsule test Tests/Scripts --filter arith/ --gc-stress
              capsule test --filter strings/escape --record
            """
    )

    @Argument(help: "The directory holding the cases.")
    var directory = "Tests/Scripts"

    @Option(help: "Run only the cases whose relative path contains this text.")
    var filter: String?

    @Flag(help: "Collect garbage on every allocation while running the cases.")
    var gcStress = false

    @Flag(help: "Rewrite the expected files from the actual output (always exits with 1).")
    var record = false

    func run() throws {
        guard isDirectory(atPath: directory) == true else {
            Console.standard.err("error: \(directory) is not a directory\n")
            throw ExitCode(74)
        }
        let status = Self.execute(
            GoldenRunner(root: directory), filter: filter, gcStress: gcStress, record: record,
            console: .standard)
        if status != 0 { throw ExitCode(status) }
    }

    /// Runs the selected cases, reports on `console` and returns the exit status.
    static func execute(
        _ runner: GoldenRunner, filter: String?, gcStress: Bool, record: Bool, console: Console
    ) -> Int32 {
        let cases = runner.discover().filter { filter == nil || $0.name.contains(filter!) }
        guard !cases.isEmpty else {
            console.err("error: no cases under \(runner.root)\(filter.map { " matching '\($0)'" } ?? "")\n")
            return 1
        }
        var passed = 0, failed = 0, recorded = 0
        for testCase in cases {
            let result = runner.run(testCase, gcStress: gcStress)
            if record {
                do {
                    for path in try runner.record(result) {
                        console.out("recorded \(path)\n")
                        recorded += 1
                    }
                } catch {
                    console.err("error: cannot record \(testCase.name): \(error)\n")
                    failed += 1
                }
            } else if result.passed {
                passed += 1
            } else {
                failed += 1
                console.out("FAIL \(testCase.name)\n" + result.diff())
            }
        }
        if record {
            console.out("recorded \(recorded) file\(recorded == 1 ? "" : "s"); recording never passes, run again without --record\n")
            return 1
        }
        console.out("\(passed) passed, \(failed) failed\n")
        return failed == 0 ? 0 : 1
    }
}
