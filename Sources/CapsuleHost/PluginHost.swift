#if canImport(Glibc)
import Glibc
#endif

/// Finds plugins for `import` and binds them into one VM.
///
/// `import "name"` (after built-in and script modules) looks for `libcapsule_name.so` in,
/// in order: the `pluginPaths` directories (`--plugin-path`), the directories in
/// `CAPSULE_PLUGIN_PATH` (colon-separated), the importing script's directory, and the
/// directory of the running executable (where `swift build` puts the bundled plugins).
/// The name `ffi` is reserved for raw FFI (`RawFFI`), importable only with `allowFFI`.
///
/// ```swift
/// let vm = VM()
/// PluginHost(pluginPaths: ["plugins"]).install(on: vm)
/// vm.run(source: "import \"cmath\"\nprint(cmath.add(2, 3))", name: "main.cap")
/// ```
public final class PluginHost {
    /// Directories searched first, in order.
    public let pluginPaths: [String]
    /// The directories from `CAPSULE_PLUGIN_PATH`.
    public let environmentPaths: [String]
    /// Whether `import "ffi"` (raw FFI from scripts) is allowed. Default deny: scripts that
    /// can call any C function can do anything the process can.
    public let allowFFI: Bool
    /// Which plugins run isolated, in a locked-down worker process (docs/isolation.md).
    public let isolation: IsolationPolicy
    let registry: PluginRegistry
    private var bridges: [String: FFIBridge] = [:]
    private var isolated: [String: IsolatedPlugin] = [:]
    private lazy var rawFFI = RawFFI()

    /// The error `import "ffi"` fails with when FFI is not allowed.
    public static let ffiDenied = "denied: ffi (grant with --allow-ffi)"

    /// A host searching `pluginPaths`, then `CAPSULE_PLUGIN_PATH` as found in `environment`
    /// (the process's environment when nil). `allowFFI` makes the raw FFI module `ffi`
    /// importable (the `--allow-ffi` flag). `isolation` says which plugins run in a worker
    /// process instead of the host (each VM gets its own worker per isolated plugin).
    public init(pluginPaths: [String] = [], environment: [String: String]? = nil,
                registry: PluginRegistry = .shared, allowFFI: Bool = false, isolation: IsolationPolicy = .none) {
        self.pluginPaths = pluginPaths
        self.allowFFI = allowFFI
        self.isolation = isolation
        let variable = environment.map { $0["CAPSULE_PLUGIN_PATH"] } ?? getenv("CAPSULE_PLUGIN_PATH").map { String(cString: $0) }
        environmentPaths = (variable ?? "").split(separator: ":", omittingEmptySubsequences: true).map(String.init)
        self.registry = registry
    }

    /// Makes `vm`'s `import` find plugins through this host. The VM keeps the host alive.
    public func install(on vm: VM) {
        vm.setNativeModuleResolver { [self] name, directory in resolve(name, directory: directory) }
    }

    /// The file name a module is looked for under: `libcapsule_NAME.so`.
    public static func fileName(forModule name: String) -> String { "libcapsule_\(name).so" }

    /// The paths tried for module `name`, in order.
    public func candidates(for name: String, importerDirectory: String?) -> [String] {
        var directories = pluginPaths + environmentPaths
        if let importerDirectory { directories.append(importerDirectory) }
        if let executable = Self.executableDirectory() { directories.append(executable) }
        let file = Self.fileName(forModule: name)
        return directories.map { $0.hasSuffix("/") ? $0 + file : $0 + "/" + file }
    }

    func resolve(_ name: String, directory: String?) -> NativeModuleLookup {
        if name == "ffi" { return allowFFI ? .found(rawFFI.moduleDefinition()) : .failed(Self.ffiDenied) }
        if let bridge = bridges[name] { return .found(bridge.moduleDefinition()) }
        if let plugin = isolated[name] { return .found(plugin.moduleDefinition()) }
        guard isIdentifier(name) else { return .notFound(tried: []) }
        let tried = candidates(for: name, importerDirectory: directory)
        for path in tried {
            guard let real = realpath(path, nil) else { continue }
            let realPath = String(cString: real)
            free(real)
            if let settings = isolation.settings(name) {
                // Isolated: the plugin's code never runs in this process.
                switch IsolatedPlugin.load(path: path, realPath: realPath, name: name, settings: settings) {
                case .failure(let error): return .failed(error.description)
                case .success(let plugin):
                    isolated[name] = plugin
                    return .found(plugin.moduleDefinition())
                }
            }
            switch registry.load(realPath: realPath) {
            case .failure(let error):
                return .failed(PluginLoadError(path: path, reason: error.reason).description)
            case .success(let plugin):
                guard plugin.manifest.name == name else {
                    return .failed(PluginLoadError(path: path, reason: "the plugin is named '\(plugin.manifest.name)', not '\(name)'").description)
                }
                let bridge = FFIBridge(plugin: plugin)
                bridges[name] = bridge
                return .found(bridge.moduleDefinition())
            }
        }
        return .notFound(tried: tried)
    }

    /// The directory holding the running executable (from /proc/self/exe), or nil.
    public static func executableDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return nil }
        return String(path[..<slash])
    }
}
