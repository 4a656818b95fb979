import ArgumentParser
import CapsuleHost

/// The `capsule run` flags a golden case asks for, written at the top of its script:
///
/// ```
/// // flags: --allow-run=/bin/echo,/bin/sh --allow-read=. --timeout 5s
/// import "proc"
/// ```
///
/// Every `// flags:` line before the first line that is not a comment adds its words
/// (separated by spaces; no quoting). The capability flags (`--allow-…`, relative paths
/// taken from the script's directory) and the limit flags (`--timeout`, `--max-heap`, …) of
/// `capsule run` are accepted; `--audit`, `--manifest` and `-P` are not (a case must not
/// write files or depend on one). Cases without the line run with no grants.
enum GoldenFlags {
    static let prefix = "// flags:"

    /// The words of the case's `// flags:` lines.
    static func words(in source: String) -> [String] {
        var words: [String] = []
        for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("//") else { break }
            if line.hasPrefix(prefix) { words += line.dropFirst(prefix.count).split(separator: " ").map(String.init) }
        }
        return words
    }

    /// A configuration with the case's flags applied (`base` supplies output and GC stress),
    /// or the error message for flags that do not parse.
    static func configuration(_ words: [String], base: Configuration, scriptPath: String) -> Result<Configuration, GoldenFlagError> {
        if words.contains(where: { $0.hasPrefix("--audit") || $0.hasPrefix("--manifest") || $0 == "-P" || $0 == "--use-manifest" }) {
            return .failure(GoldenFlagError("--audit, --manifest and -P are not allowed in a golden case's flags"))
        }
        let options: VMOptions
        do { options = try VMOptions.parse(CapabilityOptions.normalize(words)) } catch {
            return .failure(GoldenFlagError(VMOptions.message(for: error)))
        }
        var configuration = options.configuration()
        configuration.gcStress = base.gcStress || options.gcStress
        configuration.output = base.output
        configuration.errorOutput = base.errorOutput
        configuration.standardInput = base.standardInput
        configuration.scriptPath = base.scriptPath
        configuration.outputFailure = base.outputFailure
        let directory = scriptPath.lastIndex(of: "/").map { String(scriptPath[..<$0]) } ?? "."
        do { configuration.policy = try options.capabilities.flagPolicy(directory: directory.isEmpty ? "/" : directory) } catch {
            return .failure(GoldenFlagError(error.message))
        }
        return .success(configuration)
    }
}

/// Flags of a golden case that cannot be used.
struct GoldenFlagError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
