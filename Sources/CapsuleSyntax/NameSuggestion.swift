/// "Did you mean …?": the known name closest to a misspelt one, by edit distance.
///
/// Only error paths call this (an undefined variable at compile time; an unknown method,
/// field or module member at run time), so it may scan every candidate. Distance is the
/// optimal-string-alignment form of Damerau–Levenshtein (an adjacent swap costs 1, so
/// `srot` is one edit from `sort`), counted in Unicode scalars. A candidate is accepted
/// within 1 edit for names up to 5 scalars and 2 edits for longer ones, and never when it
/// is no shorter than the whole name in edits (`x` does not suggest `y`).
package enum NameSuggestion {
    /// The closest of `candidates` to `name` within the allowed distance; ties go to the
    /// alphabetically first, so messages are stable. Nil when none is close enough.
    package static func closest<S: Sequence>(to name: String, among candidates: S) -> String? where S.Element == String {
        let target = Array(name.unicodeScalars)
        guard !target.isEmpty else { return nil }
        let limit = target.count <= 5 ? 1 : 2
        var best: (distance: Int, name: String)? = nil
        for candidate in candidates where candidate != name && !candidate.isEmpty {
            let other = Array(candidate.unicodeScalars)
            guard abs(other.count - target.count) <= limit else { continue }
            let d = distance(target, other, limit: limit)
            guard d <= limit, d < max(target.count, other.count) else { continue }
            if let b = best, (b.distance, b.name) <= (d, candidate) { continue }
            best = (d, candidate)
        }
        return best?.name
    }

    /// `"; did you mean 'NAME'?"` for the closest candidate, or "" when there is none.
    package static func hint<S: Sequence>(for name: String, among candidates: S) -> String where S.Element == String {
        closest(to: name, among: candidates).map { "; did you mean '\($0)'?" } ?? ""
    }

    /// Optimal string alignment distance (both arrays non-empty), or `limit + 1` once every
    /// alignment exceeds it.
    static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar], limit: Int) -> Int {
        let n = a.count, m = b.count
        var previous2 = [Int](repeating: 0, count: m + 1)
        var previous = Array(0...m)
        var row = [Int](repeating: 0, count: m + 1)
        for i in 1...n {
            row[0] = i
            var rowMinimum = i
            for j in 1...m {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var v = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    v = min(v, previous2[j - 2] + 1)
                }
                row[j] = v
                rowMinimum = min(rowMinimum, v)
            }
            if rowMinimum > limit { return limit + 1 }
            (previous2, previous, row) = (previous, row, previous2)
        }
        return previous[m]
    }
}
