import ArgumentParser
import CapsuleHost

/// Options shared by the commands that run code: module search path and GC stress.
struct VMOptions: ParsableArguments {
    @Option(
        name: .customLong("module-path"),
        help: ArgumentHelp(
            "A directory searched by `import` (repeatable).",
            discussion: "Searched after the importing file's directory, in the order given, then the directories in CAPSULE_PATH (colon-separated).",
            valueName: "dir"
        )
    )
    var modulePaths: [String] = []

    @Flag(help: "Collect garbage on every allocation (slow; finds GC bugs).")
    var gcStress = false

    /// A VM configuration from these options, the script's arguments and the environment.
    func configuration(
        arguments: [String] = [],
        environment: [String: String] = environmentVariables("CAPSULE_PATH")
    ) -> Configuration {
        var configuration = Configuration()
        configuration.gcStress = gcStress
        configuration.modulePaths = Self.searchPath(flags: modulePaths, environment: environment)
        configuration.arguments = arguments
        return configuration
    }

    /// The `--module-path` directories, then `CAPSULE_PATH`'s non-empty entries.
    static func searchPath(flags: [String], environment: [String: String]) -> [String] {
        let fromEnvironment = (environment["CAPSULE_PATH"] ?? "")
            .split(separator: ":", omittingEmptySubsequences: true)
            .map(String.init)
        return flags + fromEnvironment
    }
}
