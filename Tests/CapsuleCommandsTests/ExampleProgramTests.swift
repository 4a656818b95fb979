import CapsuleHost
import Foundation
import Testing

/// The example programs in `examples/`, run through the built `capsule` exactly as their
/// header comments tell a user to run them (from the repository's root), with their output,
/// standard error and exit code checked.
@Suite struct ExampleProgramTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// Runs `capsule ARGUMENTS` from the repository's root with the file `input` (or
    /// `/dev/null`) on standard input.
    func capsule(_ arguments: [String], input: String? = nil) throws -> (status: Int32, out: String, err: String) {
        try CapsuleCommandsTests.capsule(arguments, in: Self.repository, input: input ?? "/dev/null")
    }

    // MARK: examples/config-tool

    func config(_ arguments: String...) throws -> (status: Int32, out: String, err: String) {
        try capsule(["run", "--allow-read=examples/config-tool", "examples/config-tool/config.cap"] + arguments)
    }

    @Test func configToolChecksAFileAgainstItsSchema() throws {
        let ok = try config("examples/config-tool/app.json", "check")
        #expect(ok.status == 0)
        #expect(ok.out == "examples/config-tool/app.json: ok (6 settings)\n")
        #expect(ok.err == "")

        let bad = try config("examples/config-tool/invalid.json", "check")
        #expect(bad.status == 1)
        #expect(bad.out == "")
        #expect(bad.err == """
            examples/config-tool/invalid.json: name: must not be empty
            examples/config-tool/invalid.json: server.port: 70000 is above the maximum 65535
            examples/config-tool/invalid.json: server.workers: expected int, got string "four"
            examples/config-tool/invalid.json: log.level: 'loud' is not one of debug, info, warn, error
            examples/config-tool/invalid.json: extra: unknown setting
            examples/config-tool/invalid.json: 5 problem(s)

            """)
    }

    @Test func configToolReportsJSONErrorsWithLineAndColumn() throws {
        let r = try config("examples/config-tool/broken.json", "check")
        #expect(r.status == 3)
        #expect(r.err == "config: examples/config-tool/broken.json:6:3: expected a string key\n")
        let missing = try config("examples/config-tool/none.json", "show")
        #expect(missing.status == 3)
        #expect(missing.err.hasPrefix("config: fs.read: "))
        #expect(missing.err.hasSuffix("examples/config-tool/none.json: No such file or directory\n"))
    }

    @Test func configToolShowsSettingsWithTheirDefaults() throws {
        let flat = try config("examples/config-tool/app.json", "flat")
        #expect(flat.status == 0)
        #expect(flat.out == """
            name             = "inventory-service"
            server.host      = "0.0.0.0"
            server.port      = 8080
            server.workers   = 1   (default)
            database.path    = "data/inventory.db"
            database.timeout = 2.5
            features         = ["search","export"]
            log.level        = "warn"   (default)

            """)
        let show = try config("examples/config-tool/app.json", "show")
        #expect(show.status == 0)
        #expect(show.out.contains("  \"server\": {\n    \"host\": \"0.0.0.0\",\n    \"port\": 8080,\n    \"workers\": 1\n  },\n"))
        #expect(show.out.hasSuffix("  \"log\": {\n    \"level\": \"warn\"\n  }\n}\n"))
        #expect(try config("examples/config-tool/app.json", "get", "server.port").out == "8080\n")
        #expect(try config("examples/config-tool/app.json", "get", "log.level").out == "warn\n")
        let none = try config("examples/config-tool/app.json", "get", "server.nope")
        #expect(none.status == 1)
        #expect(none.err == "config: server.nope: no such setting\n")
    }

    @Test func configToolSetsAValueAndPrintsTheDocument() throws {
        let r = try config("examples/config-tool/app.json", "set", "server.port", "9090")
        #expect(r.status == 0)
        #expect(r.out.contains("    \"port\": 9090\n  },\n"))
        #expect(try config("examples/config-tool/app.json", "set", "log.level", "debug").out
            .hasSuffix("  \"log\": {\n    \"level\": \"debug\"\n  }\n}\n"))
        let bad = try config("examples/config-tool/app.json", "set", "name.first", "x")
        #expect(bad.status == 1)
        #expect(bad.err == "config: 'name' in 'name.first' is not an object\n")
        let usage = try config("examples/config-tool/app.json")
        #expect(usage.status == 2)
        #expect(usage.err.hasPrefix("config: expected a FILE and a COMMAND\nusage: "))
    }

    @Test func configToolIsDeniedWithoutItsGrant() throws {
        let r = try capsule(["run", "examples/config-tool/config.cap", "examples/config-tool/app.json", "check"])
        #expect(r.status == 3)
        #expect(r.err.hasPrefix("config: denied: fs.read "))
        #expect(r.err.contains("(grant with --allow-read="))
    }

    // MARK: examples/pipeline

    @Test func pipelineStageConvertsStandardInputAndReportsBadRows() throws {
        let r = try capsule(["run", "examples/pipeline/to_jsonl.cap"], input: Self.repository + "/examples/pipeline/sales.csv")
        #expect(r.status == 1)
        #expect(r.out == """
            {"date":"2026-11-02","region":"north","product":"widget","quantity":12,"unit_price":2.5,"total":30.0}
            {"date":"2026-11-02","region":"south","product":"gadget","quantity":3,"unit_price":19.99,"total":59.97}
            {"date":"2026-11-03","region":"east","product":"widget","quantity":7,"unit_price":2.5,"total":17.5}
            {"date":"2026-11-05","region":"east","product":"gizmo","quantity":4,"unit_price":4.1,"total":16.4}

            """)
        #expect(r.err == """
            to_jsonl: line 4: invalid int literal: "": 2026-11-03,north,gizmo,,4.00
            to_jsonl: line 6: quantity must be positive, got -2: 2026-11-04,south,widget,-2,2.50
            to_jsonl: line 7: expected 5 fields, got 6: 2026-11-04,west,gadget,1,19.99,extra
            to_jsonl: 4 rows converted, 3 rejected, total 123.87

            """)
        let empty = try capsule(["run", "examples/pipeline/to_jsonl.cap"])
        #expect(empty.status == 2)
        #expect(empty.out == "")
        #expect(empty.err == "to_jsonl: no header line on standard input\n")
    }

    @Test func pipelineStageExitsZeroWhenEveryRowConverts() throws {
        let scratch = try ScratchDirectory()
        try scratch.write("good.csv", "quantity,unit_price,sku\n2,0.5,a\n\n3,1,b\n")
        let r = try capsule(["run", "examples/pipeline/to_jsonl.cap"], input: scratch.path + "/good.csv")
        #expect(r.status == 0)
        #expect(r.out == "{\"quantity\":2,\"unit_price\":0.5,\"sku\":\"a\",\"total\":1.0}\n{\"quantity\":3,\"unit_price\":1.0,\"sku\":\"b\",\"total\":3.0}\n")
        #expect(r.err == "to_jsonl: 2 rows converted, 0 rejected, total 4.00\n")
        try scratch.write("nocol.csv", "sku,price\n")
        let bad = try capsule(["run", "examples/pipeline/to_jsonl.cap"], input: scratch.path + "/nocol.csv")
        #expect(bad.status == 2)
        #expect(bad.err == "to_jsonl: the header has no 'quantity' column: sku,price\n")
    }

    // MARK: examples/log-report

    @Test func logReportSummarisesAnAccessLog() throws {
        let r = try capsule(["run", "--allow-read=examples/log-report", "examples/log-report/report.cap",
                             "examples/log-report/access.log"])
        #expect(r.status == 0)
        #expect(r.out == """
            access.log: 60 requests, 2 lines skipped
            from 2026-12-07T10:01:06Z to 2026-12-07T12:43:15Z (2h42m9s)
            traffic: 1,760,978 bytes (1.7 MiB), 28.7 KiB per request

            requests per hour (UTC)
              10:00  #################################           21
              11:00  ########################################    25
              12:00  ######################                      14

            status   requests   share
            200            48   80.0%
            304             1    1.7%
            401             2    3.3%
            404             6   10.0%
            500             3    5.0%

            path                 requests    traffic
            /api/items                 19  505.7 KiB
            /                          17  496.9 KiB
            /index.html                 6  236.1 KiB
            /static/app.js              6  130.9 KiB
            /static/logo.png            5  130.6 KiB

            client           requests
            192.0.2.10             16
            192.0.2.11             14
            198.51.100.23          11
            203.0.113.77           10
            203.0.113.5             9

            """)
        #expect(r.err == """
            report: access.log:18: not a log entry
            report: access.log:41: time.parse: hour 25 is out of range (0 to 23)

            """)
    }

    @Test func logReportReadsTimeZonesAndRefusesWhatItCannotRead() throws {
        let scratch = try ScratchDirectory()
        try scratch.write("a.log", """
            10.0.0.1 - - [31/Dec/2026:23:59:30 -0500] "GET /x HTTP/1.1" 200 100 "-" "t"
            10.0.0.2 - - [01/Jan/2027:05:00:00 +0100] "GET /y HTTP/1.1" 404 - "-" "t"

            """)
        let r = try capsule(["run", "--allow-read=" + scratch.path, "examples/log-report/report.cap", scratch.path + "/a.log", "1"])
        #expect(r.status == 0)
        #expect(r.err == "")
        let lines = r.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "a.log: 2 requests, 0 lines skipped")
        // 23:59:30 at -05:00 is 04:59:30Z on New Year's Day; 05:00 at +01:00 is 04:00Z.
        #expect(lines[1] == "from 2027-01-01T04:00:00Z to 2027-01-01T04:59:30Z (59m30s)")
        #expect(lines[2] == "traffic: 100 bytes (100 B), 50 B per request")
        #expect(r.out.contains("path                 requests    traffic\n/x                          1      100 B\n\n"))

        let denied = try capsule(["run", "examples/log-report/report.cap", "examples/log-report/access.log"])
        #expect(denied.status == 1)
        #expect(denied.err.hasPrefix("report: denied: fs.read "))
        let usage = try capsule(["run", "--allow-read=examples/log-report", "examples/log-report/report.cap"])
        #expect(usage.status == 2)
        #expect(usage.err == "usage: report.cap ACCESS_LOG [TOP]\n")
    }

    // MARK: examples/git-stats

    /// Runs git in `directory` with a fixed identity and no user or system configuration.
    func git(_ arguments: [String], in directory: String, environment extra: [String: String] = [:]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
                           "HOME": directory, "GIT_CONFIG_NOSYSTEM": "1",
                           "GIT_COMMITTER_NAME": "CI", "GIT_COMMITTER_EMAIL": "ci@example.com"]
        environment.merge(extra) { _, new in new }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "git \(arguments)")
    }

    @Test func gitStatsSummarisesARepositorysHistory() throws {
        let scratch = try ScratchDirectory()
        let repo = scratch.path + "/repo"
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        try git(["init", "-q", "-b", "main"], in: repo)
        // (author, date in the author's zone, file, lines): Ann's Sunday-evening commit in
        // -08:00 is Monday in UTC; the weekday chart counts it on Sunday.
        let commits: [(String, String, String, Int)] = [
            ("Ann Lee", "2026-03-01T22:30:00-08:00", "src/main.c", 30),
            ("Bo Chen", "2026-03-02T09:00:00+08:00", "README.md", 5),
            ("Ann Lee", "2026-03-03T10:00:00+00:00", "src/main.c", 12),
            ("Ann Lee", "2026-03-04T18:15:00+05:30", "src/util.c", 8),
        ]
        for (i, (author, date, file, lines)) in commits.enumerated() {
            try scratch.write("repo/" + file, (0..<(lines + i)).map { "line \($0)\n" }.joined())
            try git(["add", file], in: repo)
            try git(["commit", "-q", "-m", "change \(i)"], in: repo,
                    environment: ["GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": "a@example.com", "GIT_AUTHOR_DATE": date,
                                  "GIT_COMMITTER_DATE": date])
        }
        let r = try capsule(["run", "--allow-run=git", "--allow-read=" + repo, "examples/git-stats/git_stats.cap", repo, "2"])
        #expect(r.err == "")
        #expect(r.status == 0)
        #expect(r.out == """
            \(repo): 4 commits by 2 authors
            from 2026-03-02 to 2026-03-04 (2.5 days)

            author               commits   added removed
            Ann Lee                    3      41      16
            Bo Chen                    1       6       0

            commits by weekday (author's time)
              Mon  #################### 1
              Tue  #################### 1
              Wed  #################### 1
              Thu                       0
              Fri                       0
              Sat                       0
              Sun  #################### 1

            most changed files (lines added + removed)
                 46  src/main.c
                 11  src/util.c

            """)
    }

    @Test func gitStatsFailsClearlyWithoutGitOrARepository() throws {
        let scratch = try ScratchDirectory()
        let denied = try capsule(["run", "--allow-read=" + scratch.path, "examples/git-stats/git_stats.cap", scratch.path])
        #expect(denied.status == 1)
        #expect(denied.err == "git_stats: denied: run git (grant with --allow-run=git)\n")
        let notRepo = try capsule(["run", "--allow-run=git", "--allow-read=" + scratch.path, "examples/git-stats/git_stats.cap", scratch.path])
        #expect(notRepo.status == 1)
        #expect(notRepo.err.hasPrefix("git_stats: git log failed in \(scratch.path): fatal: not a git repository"))
        let usage = try capsule(["run", "--allow-run=git", "--allow-read=.", "examples/git-stats/git_stats.cap", ".", "many"])
        #expect(usage.status == 2)
        #expect(usage.err == "git_stats: the number of files must be an int, got 'many'\n")
    }

    // MARK: examples/worker-pool

    @Test func workerPoolCountsEveryFileBeneathADirectory() throws {
        let expected = """
                  2       6      38  examples/worker-pool/texts/crlf.txt
                  0       0       0  examples/worker-pool/texts/empty.txt
                  7      21     110  examples/worker-pool/texts/fog.txt
                  7      69     447  examples/worker-pool/texts/lorem.txt
                  2       8      40  examples/worker-pool/texts/nested/deeper.txt
                  1       8      37  examples/worker-pool/texts/no_newline.txt
                  5      30     224  examples/worker-pool/texts/proverbs.txt

            """
        // The same output whatever the number of workers: the results are sorted.
        for (flags, workers) in [([], "4 workers"), (["-j", "1"], "1 worker"), (["-j", "16"], "16 workers")] {
            let r = try capsule(["run", "--allow-read=examples/worker-pool", "examples/worker-pool/count.cap"] + flags
                                + ["examples/worker-pool/texts"])
            #expect(r.status == 0)
            #expect(r.err == "")
            #expect(r.out == expected + "     24     142     896  total (7 files, \(workers))\n")
        }
    }

    @Test func workerPoolNamesFilesItCannotReadAndExitsWith1() throws {
        let r = try capsule(["run", "--allow-read=examples/worker-pool", "examples/worker-pool/count.cap", "-j", "2",
                             "examples/worker-pool/texts/fog.txt", "examples/worker-pool/missing.txt",
                             "examples/worker-pool/texts/nested"])
        #expect(r.status == 1)
        #expect(r.out == """
                  7      21     110  examples/worker-pool/texts/fog.txt
                  2       8      40  examples/worker-pool/texts/nested/deeper.txt
                  9      29     150  total (2 files, 2 workers)

            """)
        #expect(r.err.hasPrefix("count: fs.read: "))
        #expect(r.err.hasSuffix("examples/worker-pool/missing.txt: No such file or directory\n"))
        let denied = try capsule(["run", "examples/worker-pool/count.cap", "examples/worker-pool/texts"])
        #expect(denied.status == 1)
        #expect(denied.err.hasPrefix("count: denied: fs.read "))
        let usage = try capsule(["run", "examples/worker-pool/count.cap", "-j", "0", "x"])
        #expect(usage.status == 2)
        #expect(usage.err == "count: -j needs at least 1 worker, got 0\nusage: count.cap [-j WORKERS] PATH...\n")
    }

    // MARK: examples/channel-pipeline

    @Test func channelPipelineFindsTheCollatzRecords() throws {
        let r = try capsule(["run", "examples/channel-pipeline/pipeline.cap"])
        #expect(r.status == 0)
        #expect(r.err == "")
        #expect(r.out == """
            long is closed: true
            generated   1000
            transformed 1000 by 4 workers, each handling some: true
            filtered    1000 seen, 244 with more than 100 steps
            collected   244
            records (numbers needing more steps than every smaller kept number):
                  27   111 steps
                  54   112 steps
                  73   115 steps
                  97   118 steps
                 129   121 steps
                 171   124 steps
                 231   127 steps
                 313   130 steps
                 327   143 steps
                 649   144 steps
                 703   170 steps
                 871   178 steps
            longest: 178 steps, for [871]

            """)
        let one = try capsule(["run", "examples/channel-pipeline/pipeline.cap", "30", "1"])
        #expect(one.status == 0)
        #expect(one.out.contains("transformed 30 by 1 worker\nfiltered    30 seen, 1 with more than 100 steps\n"))
        #expect(one.out.hasSuffix("      27   111 steps\nlongest: 111 steps, for [27]\n"))
        let usage = try capsule(["run", "examples/channel-pipeline/pipeline.cap", "5", "x"])
        #expect(usage.status == 2)
        #expect(usage.err == "pipeline: WORKERS must be a whole number, got 'x'\nusage: pipeline.cap [COUNT [WORKERS]]\n")
    }

    // MARK: examples/echo-server

    /// The server on a free port; three clients at once (one silent until the other two are
    /// answered, which a server serving one connection at a time never would), then the
    /// client shuts the server down.
    @Test func echoServerServesClientsConcurrently() throws {
        let binary = try #require(PluginHost.executableDirectory()).appending("/capsule")
        let server = Process()
        server.executableURL = URL(fileURLWithPath: binary)
        server.arguments = ["run", "--timeout", "60s", "--allow-net=127.0.0.1:0", "examples/echo-server/server.cap", "0"]
        server.currentDirectoryURL = URL(fileURLWithPath: Self.repository)
        server.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        server.standardOutput = out
        server.standardError = err
        try server.run()
        defer { if server.isRunning { server.terminate() } }
        // The first line (flushed when the server starts waiting for clients) names the port.
        var first = Data()
        while !first.contains(UInt8(ascii: "\n")) {
            let more = out.fileHandleForReading.availableData
            if more.isEmpty { break }
            first += more
        }
        let text = String(decoding: first, as: UTF8.self)
        let announced = try #require(text.split(separator: "\n").first)
        let port = try #require(announced.split(separator: ":").last.map(String.init))
        #expect(announced == "listening on 127.0.0.1:\(port)")

        let client = try capsule(["run", "--timeout", "30s", "--allow-net=127.0.0.1:\(port)", "examples/echo-server/client.cap", port])
        #expect(client.status == 0)
        #expect(client.err == "")
        #expect(client.out == """
            echo: fast1 says hello
            echo: fast1 says bye
            echo: fast2 says hello
            echo: fast2 says bye
            echo: slow says finally
            open: [4]

            """)

        let rest = out.fileHandleForReading.readDataToEndOfFile()
        server.waitUntilExit()
        let log = text + String(decoding: rest, as: UTF8.self)
        #expect(server.terminationStatus == 0)
        #expect(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "")
        for n in 1...4 { #expect(log.contains("#\(n) connected\n") && log.contains("#\(n) closed\n")) }
        #expect(log.contains("#4 asked to shut down\n"))
        #expect(log.hasSuffix("served 4 connections\n"))
    }

    @Test func echoServerNeedsItsListenGrant() throws {
        let r = try capsule(["run", "examples/echo-server/server.cap", "0"])
        #expect(r.status == 70)
        #expect(r.err.contains("denied: net.listen 127.0.0.1:0"))
    }
}
