#if canImport(Glibc)
import Glibc
#endif
import CapsuleSystem
import CapsuleRegex

/// Finds plugins for `import` and binds them into one VM.
///
/// `import "name"` (after built-in and script modules) looks for `libcapsule_name.so` in,
/// in order: the `pluginPaths` directories (`--plugin-path`), the directories in
/// `CAPSULE_PLUGIN_PATH` (colon-separated), the importing script's directory, and the
/// directory of the running executable (where `swift build` puts the bundled plugins).
/// The names `fs`, `env`, `time`, `random`, `proc` and `net` are the host's system modules and `ffi` is raw FFI;
/// every power they give is checked against the VM's `Configuration.policy` (and each
/// plugin's calls to the host API against that plugin's grants), and written to `audit`
/// when given (docs/security.md). `import "ffi"` needs an `ffi` grant.
/// `plugins` manages plugins from scripts (`PluginsModule.swift`: reload, version).
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
    /// Whether raw FFI on every library is granted on top of the VM's policy (the same as
    /// an `ffi` grant). Default deny: scripts that can call any C function can do anything
    /// the process can.
    public let allowFFI: Bool
    /// Where capability uses are recorded, if anywhere (`--audit FILE`).
    public let audit: AuditLog?
    let registry: PluginRegistry
    var bridges: [String: FFIBridge] = [:]
    /// Modules of Swift functions the embedding program registered (`register(module:)`).
    var swiftModules: [String: LoadedPlugin] = [:]
    /// The policy enforcer of the VM this host is installed on (deny-all before `install`).
    private(set) var enforcer: CapabilityEnforcer
    private lazy var rawFFI = RawFFI(enforcer: enforcer, blockingPool: { [unowned self] in self.blockingPool })
    private lazy var fsModule = FSModule(enforcer: enforcer)
    private lazy var envModule = EnvModule(enforcer: enforcer)
    private lazy var timeModule = TimeModule(enforcer: enforcer)
    /// `re` needs no capability; its compiled-pattern cache lives as long as the host.
    private lazy var regexModule = RegexModule()
    private lazy var randomModule = RandomModule(enforcer: enforcer)
    private lazy var procModule = ProcModule(enforcer: enforcer)
    private lazy var netModule = NetModule(enforcer: enforcer)
    /// Plugins isolated beyond what the VM's policy says, and the settings of isolated
    /// plugins (docs/security.md#isolated-plugins). Which plugins run isolated is otherwise
    /// the policy's `isolated`/`trusted` sets and the default rule (`Policy.runsIsolated`).
    public let isolation: IsolationPolicy
    /// The plugins of this host's VM that run in workers.
    var isolated: [String: IsolatedPlugin] = [:]
    /// Where `env:` grants of isolated plugins take their values from (nil: the process's
    /// environment when the plugin is loaded).
    let hostEnvironment: [String: String]?
    /// Watching, reload events and the scripts' reload handlers (PluginHost+Watch.swift).
    let reloads = ReloadCoordinator()
    /// How this host's blocking pool is sized and when it reports a stuck call.
    public let blocking: BlockingPoolSettings
    private var startedPool: BlockingPool?
    /// The threads blocking exports run on: this host's own (so one per VM), made on first
    /// use; its threads start only when a call needs one (Blocking/BlockingPool.swift).
    var blockingPool: BlockingPool {
        if let startedPool { return startedPool }
        let pool = BlockingPool(blocking)
        startedPool = pool
        return pool
    }

    /// The error `import "ffi"` fails with when FFI is not allowed.
    public static let ffiDenied = "denied: ffi (grant with --allow-ffi)"

    /// A host searching `pluginPaths`, then `CAPSULE_PLUGIN_PATH` as found in `environment`
    /// (the process's environment when nil; isolated plugins' `env:` grants read it too).
    /// `allowFFI` adds an `ffi` grant (all libraries) to the VM's policy; `audit` records
    /// every capability use. `isolation` isolates plugins beyond the VM's policy and sets the
    /// limits of isolated ones (each VM gets its own worker per isolated plugin). `blocking`
    /// sizes the pool that blocking exports run on.
    public init(pluginPaths: [String] = [], environment: [String: String]? = nil,
                registry: PluginRegistry = .shared, allowFFI: Bool = false, audit: AuditLog? = nil,
                isolation: IsolationPolicy = .none, blocking: BlockingPoolSettings = BlockingPoolSettings()) {
        self.pluginPaths = pluginPaths
        self.blocking = blocking
        self.allowFFI = allowFFI
        self.audit = audit
        self.isolation = isolation
        hostEnvironment = environment
        enforcer = CapabilityEnforcer(policy: .none, audit: audit)
        let variable = environment.map { $0["CAPSULE_PLUGIN_PATH"] } ?? getenv("CAPSULE_PLUGIN_PATH").map { String(cString: $0) }
        environmentPaths = (variable ?? "").split(separator: ":", omittingEmptySubsequences: true).map(String.init)
        self.registry = registry
    }

    deinit {
        // Calls still running finish on their threads, which then exit; their results are dropped.
        startedPool?.shutdown()
    }

    /// Makes `vm`'s `import` find plugins and the system modules through this host, under
    /// `vm.configuration.policy`. The VM keeps the host alive. Install a host on one VM.
    public func install(on vm: VM) {
        reloads.vm = vm
        var policy = vm.configuration.policy
        if allowFFI { policy = policy.merging(Policy(grants: [Capability(.ffi)])) }
        enforcer = CapabilityEnforcer(policy: policy, audit: audit)
        if let audit {
            vm.observeImportDenials { path in audit.record(Capability(.fsRead, path), by: .script, allowed: false) }
        }
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
        switch name {
        case "ffi":
            let granted = enforcer.policy.allowsAll || enforcer.policy.grants.contains { $0.kind == .ffi }
            return granted ? .found(rawFFI.moduleDefinition()) : .failed(Self.ffiDenied)
        case "fs": return .found(fsModule.moduleDefinition())
        case "env": return .found(envModule.moduleDefinition())
        case "time": return .found(timeModule.moduleDefinition())
        case "re": return .found(regexModule.moduleDefinition())
        case "random": return .found(randomModule.moduleDefinition())
        case "proc": return .found(procModule.moduleDefinition())
        case "net": return .found(netModule.moduleDefinition())
        case "plugins": return .found(pluginsModule())
        default: break
        }
        if let swift = resolveSwiftModule(name) { return .found(swift) }
        if let bridge = bridges[name] { return .found(bridge.moduleDefinition()) }
        if let plugin = isolated[name] { return .found(plugin.moduleDefinition()) }
        guard isIdentifier(name) else { return .notFound(tried: []) }
        let tried = candidates(for: name, importerDirectory: directory)
        for path in tried {
            guard let real = realpath(path, nil) else { continue }
            let realPath = String(cString: real)
            free(real)
            return place(name, path: path, realPath: realPath)
        }
        return .notFound(tried: tried)
    }

    /// Hot-reloads plugin `module` (already imported into this host's VM) from its file, and
    /// repoints this VM's bound exports at the new version: calls made after this returns
    /// run the new code. Call it on the VM's thread between calls (a native function such as
    /// `plugins.reload` is such a point). On refusal nothing changes and the old version
    /// keeps serving; the error says why. Exports the new version adds appear in the module
    /// object scripts hold. Observers (`observeReloads`) see the event before this returns;
    /// scripts' `plugins.on_reload` handlers at the VM's next safe point.
    /// Other VMs sharing the registry keep calling the version they bound until they reload
    /// too; an old version is closed once nothing binds it, no handle of it is alive and no
    /// call into it runs (docs/plugins.md). Isolated plugins reload with `reloadPlugin(named:)`.
    public func reload(module: String) -> Result<PluginRegistry.Reload, PluginLoadError> {
        reload(module: module, call: nil)
    }

    /// Hot-reloads plugin `module`, in-process (`reload(module:)`) or isolated (a new worker
    /// on the new file gets the old worker's state; docs/plugins.md, "Isolated plugins"), and
    /// returns the version now serving. Same rules as `reload(module:)`: on refusal nothing
    /// changes and the error says why.
    public func reloadPlugin(named module: String) -> Result<String, PluginLoadError> {
        reloadPlugin(named: module, call: nil)
    }

    /// `reloadPlugin(named:)`; with `call` (from `plugins.reload`), the scripts' handlers of
    /// an in-process reload run before it returns.
    func reloadPlugin(named module: String, call: NativeCall?) -> Result<String, PluginLoadError> {
        if isolated[module] != nil {
            let result = reloadIsolated(module, started: ReloadCoordinator.monotonicNanoseconds(), trigger: .call)
            if let call { deliverEventsToScripts(call) }
            return result
        }
        return reload(module: module, call: call).map { $0.new.manifest.version }
    }

    /// Reloads isolated plugin `module` into a new worker and publishes the event.
    func reloadIsolated(_ module: String, started: UInt64, trigger: ReloadEvent.Trigger) -> Result<String, PluginLoadError> {
        guard let plugin = isolated[module] else {
            return .failure(PluginLoadError(path: module, reason: "plugin \(module) is not imported, so it cannot be reloaded"))
        }
        let oldVersion = plugin.manifest.version
        let result: Result<String, PluginLoadError>
        if let real = realpath(plugin.path, nil) {
            result = plugin.reload(realPath: String(cString: real))
            free(real)
        } else {
            result = .failure(PluginLoadError(path: plugin.path, reason: "cannot resolve the plugin's path: \(String(cString: strerror(errno)))"))
        }
        let error: PluginLoadError? = if case .failure(let e) = result { e } else { nil }
        publish(module: module, oldVersion: oldVersion, newVersion: try? result.get(), error: error, started: started, trigger: trigger)
        return result
    }

    /// The version of imported plugin `module` this VM's calls go to, or nil.
    public func version(of module: String) -> String? {
        bridges[module]?.plugin.manifest.version ?? isolated[module]?.manifest.version
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
