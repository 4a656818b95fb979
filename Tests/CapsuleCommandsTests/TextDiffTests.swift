@testable import CapsuleCommands
import Testing

extension RunnerTests {
    @Suite struct Diff {
        func render(_ expected: String, _ actual: String, maxLines: Int = 20) -> String {
            TextDiff(expected: expected, actual: actual).render(expectedLabel: "e", actualLabel: "a", maxLines: maxLines)
        }

        @Test func equalTextsHaveNoDiff() {
            #expect(render("a\nb\n", "a\nb\n") == "")
            #expect(render("", "") == "")
        }

        @Test func changeInTheMiddleKeepsThreeLinesOfContext() {
            let expected = (1...10).map { "\($0)\n" }.joined()
            let actual = expected.replacingOccurrences(of: "6\n", with: "six\n")
            #expect(render(expected, actual) == """
                --- e (expected)
                +++ a (actual)
                @@ -3,7 +3,7 @@
                 3
                 4
                 5
                -6
                +six
                 7
                 8
                 9

                """)
        }

        @Test func distantChangesMakeSeparateHunks() {
            let expected = (1...20).map { "\($0)\n" }.joined()
            var lines = (1...20).map { "\($0)" }
            lines[1] = "two"; lines[17] = "eighteen"; lines.insert("new", at: 10)
            let body = render(expected, lines.map { $0 + "\n" }.joined(), maxLines: 100)
            #expect(body.components(separatedBy: "\n@@ ").count == 4)
            #expect(body.contains("@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n"))
            #expect(body.contains("@@ -8,6 +8,7 @@\n 8\n 9\n 10\n+new\n 11\n"))
            #expect(body.contains("@@ -15,6 +16,6 @@\n 15\n 16\n 17\n-18\n+eighteen\n 19\n 20\n"))
        }

        @Test func longDiffsAreCut() {
            let body = render("", (1...50).map { "\($0)\n" }.joined())
            let lines = body.split(separator: "\n")
            #expect(lines.count == 2 + 20 + 1)
            #expect(lines.last == "… 31 more diff lines")
        }

        @Test func missingFinalNewlineIsShown() {
            #expect(render("a\nb", "a\nb\n") == """
                --- e (expected)
                +++ a (actual)
                @@ -1,2 +1,2 @@
                 a
                -b
                \\ No newline at end of file
                +b

                """)
        }

        @Test func deletionOnly() {
            #expect(render("a\nb\nc\n", "a\nc\n").contains("@@ -1,3 +1,2 @@\n a\n-b\n c\n"))
            #expect(render("x\n", "").contains("@@ -1 +0,0 @@\n-x\n"))
        }
    }
}
