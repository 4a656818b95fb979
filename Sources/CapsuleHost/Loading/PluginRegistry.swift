#if canImport(Glibc)
import Glibc
#endif
import CapsuleSystem

/// The process's loaded plugins: module → loaded version → plugin (with its exports and
/// parsed signatures). A shared object is loaded and initialised once per process however
/// many VMs import it, because the dynamic loader maps it once per process anyway.
///
/// NOTE: the one piece of process-wide state in CapsuleHost, guarded by a mutex: it mirrors
/// the loader's own process-wide table of open libraries. `@unchecked Sendable` because
/// every table in it is read and written with that pthread mutex held (`lock`, `unlock`).
public final class PluginRegistry: @unchecked Sendable {
    /// The registry every `PluginHost` in this process uses.
    public static let shared = PluginRegistry()

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    var byPath: [String: LoadedPlugin] = [:]
    /// Versions a reload replaced that something still refers to: a VM's binding, a call in
    /// flight, a live handle (see docs/plugins.md, "Hot reload"). Closed when unreachable.
    var retired: [LoadedPlugin] = []
    private var failures: [String: PluginLoadError] = [:]

    init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    /// The plugin at `realPath`, loading it on first use, if `policy` grants it every
    /// capability it requires. A plugin refused for any other reason stays refused (with
    /// the same error) for the life of the process.
    public func load(realPath: String, policy: Policy = .none) -> Result<LoadedPlugin, PluginLoadError> {
        load(realPath: realPath, enforcer: CapabilityEnforcer(policy: policy, audit: nil))
    }

    /// `bind`: count a binding for the caller (an `FFIBridge` about to bind it) under the
    /// same lock, so another thread's reload cannot close it in between. `refusal` is a
    /// further check of the descriptor, before the plugin's init (where the plugin may run:
    /// see `PluginHost`); its refusals are not remembered either.
    func load(realPath: String, enforcer: CapabilityEnforcer, bind: Bool = false,
              refusal: (PluginManifest) -> String? = { _ in nil }) -> Result<LoadedPlugin, PluginLoadError> {
        lock()
        defer { unlock() }
        if let plugin = byPath[realPath] {
            // Loaded for another VM: this VM's policy must admit it too, import audit included.
            if let audit = PluginLoader.importAuditRefusal(plugin.image, path: realPath, enforcer: enforcer) { return .failure(audit) }
            if let refusal = PluginLoader.admissionRefusal(plugin.manifest, enforcer: enforcer) ?? refusal(plugin.manifest) {
                return .failure(PluginLoadError(path: realPath, reason: refusal, byPolicy: true))
            }
            if bind { plugin.bindingCount += 1 }
            return .success(plugin)
        }
        if let failure = failures[realPath] { return .failure(failure) }
        let result = PluginLoader.load(path: realPath, enforcer: enforcer, refusal: refusal)
        switch result {
        case .success(let plugin):
            plugin.registry = self
            byPath[realPath] = plugin
            if bind { plugin.bindingCount += 1 }
        case .failure(let error): if !error.byPolicy { failures[realPath] = error }
        }
        return result
    }

    /// The descriptor of the plugin loaded in-process from `realPath`, if it is loaded.
    func loadedManifest(realPath: String) -> PluginManifest? {
        lock()
        defer { unlock() }
        return byPath[realPath]?.manifest
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    /// Every loaded plugin: module name → version → plugin.
    public var modules: [String: [String: LoadedPlugin]] {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        var result: [String: [String: LoadedPlugin]] = [:]
        for plugin in byPath.values { result[plugin.manifest.name, default: [:]][plugin.manifest.version] = plugin }
        return result
    }
}
