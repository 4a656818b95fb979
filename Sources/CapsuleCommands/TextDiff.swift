/// A line diff of two texts, rendered in unified format with three lines of context.
/// Lines compare byte for byte; a missing final newline counts as a difference and shows as
/// `\ No newline at end of file`, as in `diff -u`.
struct TextDiff {
    /// One line and whether a newline ended it.
    struct Line {
        var text: Substring
        var terminated: Bool

        func same(as other: Line) -> Bool {
            terminated == other.terminated && text.utf8.elementsEqual(other.text.utf8)
        }
    }

    enum Edit: Equatable { case keep, delete, insert }

    /// One step of the edit script, with the line positions (0-based) before the step.
    struct Step {
        var edit: Edit
        var old: Int
        var new: Int
    }

    let expected: [Line]
    let actual: [Line]
    let steps: [Step]

    /// Lines of context around each change.
    static let context = 3
    /// Above this many cells, the middle of the texts is shown as all-removed then all-added
    /// instead of computing a longest common subsequence.
    static let maxTableSize = 4_000_000

    init(expected: String, actual: String) {
        self.expected = Self.lines(expected)
        self.actual = Self.lines(actual)
        self.steps = Self.editScript(self.expected, self.actual)
    }

    static func lines(_ text: String) -> [Line] {
        var parts = text.split(separator: "\n", omittingEmptySubsequences: false)
        let terminated = parts.last == ""
        if terminated { parts.removeLast() }
        return parts.enumerated().map { index, part in
            Line(text: part, terminated: terminated || index < parts.count - 1)
        }
    }

    /// The edits turning `a` into `b`: common prefix and suffix kept, the middle by LCS.
    static func editScript(_ a: [Line], _ b: [Line]) -> [Step] {
        var prefix = 0
        while prefix < a.count, prefix < b.count, a[prefix].same(as: b[prefix]) { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix, suffix < b.count - prefix,
              a[a.count - 1 - suffix].same(as: b[b.count - 1 - suffix]) { suffix += 1 }

        var edits = Array(repeating: Edit.keep, count: prefix)
        edits += middleEdits(Array(a[prefix..<(a.count - suffix)]), Array(b[prefix..<(b.count - suffix)]))
        edits += Array(repeating: Edit.keep, count: suffix)

        var steps: [Step] = []
        var old = 0, new = 0
        for edit in edits {
            steps.append(Step(edit: edit, old: old, new: new))
            if edit != .insert { old += 1 }
            if edit != .delete { new += 1 }
        }
        return steps
    }

    private static func middleEdits(_ a: [Line], _ b: [Line]) -> [Edit] {
        guard !a.isEmpty, !b.isEmpty, a.count * b.count <= maxTableSize else {
            return Array(repeating: .delete, count: a.count) + Array(repeating: .insert, count: b.count)
        }
        // lcs[i][j]: length of the longest common subsequence of a[i...] and b[j...].
        let width = b.count + 1
        var lcs = [Int](repeating: 0, count: (a.count + 1) * width)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                lcs[i * width + j] = a[i].same(as: b[j])
                    ? lcs[(i + 1) * width + j + 1] + 1
                    : max(lcs[(i + 1) * width + j], lcs[i * width + j + 1])
            }
        }
        var edits: [Edit] = []
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i].same(as: b[j]) {
                edits.append(.keep); i += 1; j += 1
            } else if j == b.count || (i < a.count && lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) {
                edits.append(.delete); i += 1
            } else {
                edits.append(.insert); j += 1
            }
        }
        return edits
    }

    /// Ranges of `steps` to print: each change with its context, overlapping ones merged.
    var hunks: [Range<Int>] {
        var ranges: [Range<Int>] = []
        for (index, step) in steps.enumerated() where step.edit != .keep {
            let lower = max(0, index - Self.context)
            let upper = min(steps.count, index + 1 + Self.context)
            if let last = ranges.last, last.upperBound >= lower {
                ranges[ranges.count - 1] = last.lowerBound..<upper
            } else {
                ranges.append(lower..<upper)
            }
        }
        return ranges
    }

    /// The `---`/`+++` header and up to `maxLines` lines of hunks ("" if the texts are equal).
    func render(expectedLabel: String, actualLabel: String, maxLines: Int) -> String {
        var body: [String] = []
        for hunk in hunks {
            let slice = steps[hunk]
            let oldCount = slice.filter { $0.edit != .insert }.count
            let newCount = slice.filter { $0.edit != .delete }.count
            body.append("@@ -\(Self.range(slice.first!.old, oldCount)) +\(Self.range(slice.first!.new, newCount)) @@")
            for step in slice {
                let line: Line
                switch step.edit {
                case .keep: line = expected[step.old]; body.append(" " + line.text)
                case .delete: line = expected[step.old]; body.append("-" + line.text)
                case .insert: line = actual[step.new]; body.append("+" + line.text)
                }
                if !line.terminated { body.append("\\ No newline at end of file") }
            }
        }
        guard !body.isEmpty else { return "" }
        var text = "--- \(expectedLabel) (expected)\n+++ \(actualLabel) (actual)\n"
        for line in body.prefix(maxLines) { text += line + "\n" }
        if body.count > maxLines { text += "… \(body.count - maxLines) more diff lines\n" }
        return text
    }

    /// `start,count` in unified-diff form for 0-based `start`: `count` is left out when 1,
    /// and an empty range names the line before it.
    static func range(_ start: Int, _ count: Int) -> String {
        switch count {
        case 0: return "\(start),0"
        case 1: return "\(start + 1)"
        default: return "\(start + 1),\(count)"
        }
    }
}
