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

    /// The capability grants, manifest and audit log (CapabilityOptions.swift).
    @OptionGroup var capabilities: CapabilityOptions

    /// True when raw FFI on every library is granted (`--allow-ffi` bare).
    var allowFFI: Bool { capabilities.allowFFI.contains(CapabilityOptions.everything) || capabilities.allowAll }

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

    @Option(
        name: .customLong("blocking-threads"),
        help: ArgumentHelp(
            "Threads that run blocking plugin calls while other fibers go on (default 4).",
            discussion: "Exports flagged CAPSULE_EXPORT_BLOCKING and raw FFI functions bound with !blocking run there when called from a fiber that can wait; further calls queue.",
            valueName: "N"
        ),
        transform: { try LimitParsing.count($0, what: "blocking thread count", bound: 1024) }
    )
    var blockingThreads: Int? = nil

    @Option(
        name: .customLong("blocking-report-after"),
        help: ArgumentHelp(
            "Report a blocking plugin call still running after this long, once, on stderr (default 10s).",
            valueName: "duration"
        ),
        transform: { try LimitParsing.duration($0, what: "report delay", minimum: 1e6) }
    )
    var blockingReportAfter: Duration? = nil

    /// The blocking pool's settings from `--blocking-threads` and `--blocking-report-after`.
    var blocking: BlockingPoolSettings {
        var settings = BlockingPoolSettings()
        if let blockingThreads { settings.threads = max(1, blockingThreads) }
        if let blockingReportAfter {
            let (seconds, attoseconds) = blockingReportAfter.components
            settings.reportAfter = Double(seconds) + Double(attoseconds) / 1e18
        }
        return settings
    }

    /// A VM configured from these options, with the plugin host installed, under the
    /// policy of the capability flags and the manifest (next to `script`, or `--manifest`).
    /// Throws an exit code after printing when the manifest or audit log is unusable.
    /// `setUp` runs once the host is installed (`run --watch` starts watching there).
    func makeVM(arguments: [String] = [], script: String? = nil, console: Console = .standard,
                setUp: (PluginHost) -> Void = { _ in }) throws -> VM {
        var configuration = configuration(arguments: arguments)
        configuration.scriptPath = script
        configuration.policy = try capabilities.policy(script: script, console: console)
        return makeVirtualMachine(configuration, pluginPaths: pluginPaths, audit: try capabilities.auditLog(console: console),
                                  blocking: blocking, setUp: setUp)
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
/// What the script and plugins may do, and which plugins run isolated, is
/// `configuration.policy`; `audit` records it; `setUp` sees the plugin host before the run.
func makeVirtualMachine(_ configuration: Configuration = Configuration(), pluginPaths: [String] = [], audit: AuditLog? = nil,
                        blocking: BlockingPoolSettings = BlockingPoolSettings(),
                        setUp: (PluginHost) -> Void = { _ in }) -> VM {
    let vm = VM(configuration: configuration)
    let host = PluginHost(pluginPaths: pluginPaths, audit: audit, blocking: blocking)
    host.install(on: vm)
    setUp(host)
    return vm
}
