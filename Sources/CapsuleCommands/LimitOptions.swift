import ArgumentParser
import CapsuleCore

/// Parsing of the resource-limit flags (`--timeout 500ms`, `--max-heap 64M`, …). A bad
/// value is a usage error (exit 64) naming the accepted forms.
enum LimitParsing {
    /// `500ms`, `2s`, `1.5s`, `1m`, `1h`, or a plain number of seconds; at least 1ms.
    static func duration(_ text: String) throws -> Duration {
        try duration(text, what: "timeout", minimum: 1e6)
    }

    /// A duration of at most 10000000s and at least `minimum` nanoseconds; `what` names it
    /// in errors.
    static func duration(_ text: String, what: String, minimum: Double) throws -> Duration {
        let units: [(suffix: String, nanoseconds: Double)] = [("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9), ("", 1e9)]
        for unit in units where text.hasSuffix(unit.suffix) {
            let number = text.dropLast(unit.suffix.count)
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                  let value = Double(number) else { continue }
            let nanoseconds = value * unit.nanoseconds
            guard nanoseconds >= minimum, nanoseconds < 1e18 else {
                throw ValidationError("\(what) '\(text)' must be between \(minimum == 0 ? "0" : "1ms") and 10000000s")
            }
            return .nanoseconds(Int64(nanoseconds))
        }
        throw ValidationError("\(what) '\(text)' is not a duration (examples: 500ms, 2s, 1.5s, 1m, 1h; a plain number is seconds)")
    }

    /// `512K`, `64M`, `1G` (binary multiples; `KB`/`KiB` spellings too), or plain bytes.
    static func size(_ text: String) throws -> Int {
        let upper = text.uppercased()
        let units: [(suffixes: [String], shift: Int)] = [
            (["KIB", "KB", "K"], 10), (["MIB", "MB", "M"], 20), (["GIB", "GB", "G"], 30), (["B", ""], 0),
        ]
        for unit in units {
            for suffix in unit.suffixes where upper.hasSuffix(suffix) {
                let number = upper.dropLast(suffix.count)
                guard !number.isEmpty, number.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(number) else { continue }
                let (bytes, overflow) = value.multipliedReportingOverflow(by: 1 << unit.shift)
                guard !overflow, bytes > 0 else { throw ValidationError("heap size '\(text)' is out of range") }
                return bytes
            }
        }
        throw ValidationError("heap size '\(text)' is not a size (examples: 512K, 64M, 1G, or a number of bytes)")
    }

    /// A positive count no larger than `bound`.
    static func count(_ text: String, what: String, bound: Int) throws -> Int {
        let digits = text.filter { $0 != "_" }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(digits) else {
            throw ValidationError("\(what) '\(text)' is not a whole number")
        }
        guard n >= 1 && n <= bound else { throw ValidationError("\(what) must be between 1 and \(bound)") }
        return n
    }
}
