import ArgumentParser
import CapsuleCore
import CapsuleHost

/// Options shared by the commands that run code: module and plugin search paths, GC stress.
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

    @Option(
        name: .customLong("plugin-path"),
        help: ArgumentHelp(
            "A directory searched for native plugins (repeatable).",
            discussion: "`import \"NAME\"` looks for libcapsule_NAME.so in these directories, in the order given, then in CAPSULE_PLUGIN_PATH (colon-separated), the script's directory and the capsule executable's directory.",
            valueName: "dir"
        )
    )
    var pluginPaths: [String] = []

    @Flag(
        name: .customLong("allow-ffi"),
        help: ArgumentHelp(
            "Allow raw FFI: `import \"ffi\"` (denied by default).",
            discussion: "Scripts can then open any shared library and call any C function, so they can do anything the capsule process can."
        )
    )
    var allowFFI = false

    @Flag(help: "Collect garbage on every allocation (slow; finds GC bugs).")
    var gcStress = false

    @Option(
        name: .customLong("max-instructions"),
        help: ArgumentHelp(
            "Stop the script after about N instructions (exit 70).",
            discussion: "Counted at loop back-edges (the loop body's length) and calls (the callee's length). try/catch cannot catch it.",
            valueName: "N"
        ),
        transform: { try LimitParsing.count($0, what: "instruction limit", bound: Int.max) }
    )
    var maxInstructions: Int? = nil

    @Option(
        help: ArgumentHelp(
            "Stop the script after this much wall-clock time (exit 70).",
            discussion: "500ms, 2s, 1.5s, 1m, 1h, or a plain number of seconds. Checked at loop back-edges and calls; try/catch cannot catch it.",
            valueName: "duration"
        ),
        transform: LimitParsing.duration
    )
    var timeout: Duration? = nil

    @Option(
        name: .customLong("max-heap"),
        help: ArgumentHelp(
            "Limit the garbage-collected heap; past it the script gets `out of memory`.",
            discussion: "512K, 64M, 1G (binary multiples), or a number of bytes. The error can be caught with try/catch; uncaught it exits with 70.",
            valueName: "size"
        ),
        transform: LimitParsing.size
    )
    var maxHeap: Int? = nil

    @Option(
        name: .customLong("max-depth"),
        help: ArgumentHelp(
            "Most nested calls before `stack overflow` (default 200000).",
            discussion: "At most \(Configuration.maxCallDepthBound).",
            valueName: "N"
        ),
        transform: { try LimitParsing.count($0, what: "call depth", bound: Configuration.maxCallDepthBound) }
    )
    var maxDepth: Int? = nil

    /// A VM configured from these options, with the plugin host installed.
    func makeVM(arguments: [String] = []) -> VM {
        makeVirtualMachine(configuration(arguments: arguments), pluginPaths: pluginPaths, allowFFI: allowFFI)
    }

    /// A VM configuration from these options, the script's arguments and the environment.
    func configuration(
        arguments: [String] = [],
        environment: [String: String] = environmentVariables("CAPSULE_PATH")
    ) -> Configuration {
        var configuration = Configuration()
        configuration.gcStress = gcStress
        configuration.maxInstructions = maxInstructions
        configuration.timeout = timeout
        configuration.maxHeapBytes = maxHeap
        if let maxDepth { configuration.maxCallDepth = maxDepth }
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

/// A VM with the plugin host installed: every VM the CLI creates goes through here, so
/// scripts can `import` native plugins wherever they run.
/// Raw FFI (`import "ffi"`) only with `allowFFI` (`--allow-ffi`).
func makeVirtualMachine(_ configuration: Configuration = Configuration(), pluginPaths: [String] = [], allowFFI: Bool = false) -> VM {
    let vm = VM(configuration: configuration)
    PluginHost(pluginPaths: pluginPaths, allowFFI: allowFFI).install(on: vm)
    return vm
}
