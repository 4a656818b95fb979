import ArgumentParser
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

    @Option(
        name: .customLong("isolate"),
        help: ArgumentHelp(
            "Run plugin NAME in a locked-down worker process (repeatable).",
            discussion: "The plugin's code then runs under Landlock and seccomp with only its grants; a crash, a hang or a blocked system call becomes a catchable error and the worker restarts on the next call. See docs/isolation.md.",
            valueName: "name"
        )
    )
    var isolate: [String] = []

    @Flag(help: "Collect garbage on every allocation (slow; finds GC bugs).")
    var gcStress = false

    /// A VM configured from these options, with the plugin host installed.
    func makeVM(arguments: [String] = []) -> VM {
        makeVirtualMachine(configuration(arguments: arguments), pluginPaths: pluginPaths, allowFFI: allowFFI,
                           isolation: isolate.isEmpty ? .none : .plugins(Set(isolate)))
    }

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

/// A VM with the plugin host installed: every VM the CLI creates goes through here, so
/// scripts can `import` native plugins wherever they run.
/// Raw FFI (`import "ffi"`) only with `allowFFI` (`--allow-ffi`); `isolation` (`--isolate`)
/// says which plugins run in worker processes.
func makeVirtualMachine(_ configuration: Configuration = Configuration(), pluginPaths: [String] = [], allowFFI: Bool = false,
                        isolation: IsolationPolicy = .none) -> VM {
    let vm = VM(configuration: configuration)
    PluginHost(pluginPaths: pluginPaths, allowFFI: allowFFI, isolation: isolation).install(on: vm)
    return vm
}
