import CapsuleSDK

/// Opens plugin shared objects and checks them: the entry symbol, the ABI handshake, every
/// export and handle type, the required capabilities, and finally the plugin's init. Each
/// refusal is a `PluginLoadError` with a message naming what is wrong; none crashes the host.
public enum PluginLoader {
    /// Reads and checks a plugin's descriptor without initialising it (for `plugin inspect`).
    /// Runs no plugin code beyond the entry function; the library is closed afterwards.
    public static func inspect(path: String) -> Result<PluginManifest, PluginLoadError> {
        let library: UnsafeMutableRawPointer
        switch DynamicLibrary.open(path) {
        case .success(let l): library = l
        case .failure(let e): return .failure(e)
        }
        defer { DynamicLibrary.close(library) }
        return readManifest(library: library, path: path)
    }

    /// Loads, checks and initialises the plugin at `path`. Every capability the plugin's
    /// descriptor requires must be granted to it (by name) by `policy`, or it is refused
    /// before any of its code beyond the entry function runs. On any refusal the library
    /// is closed again.
    public static func load(path: String, policy: Policy = .none) -> Result<LoadedPlugin, PluginLoadError> {
        load(path: path, enforcer: CapabilityEnforcer(policy: policy, audit: nil))
    }

    static func load(path: String, enforcer: CapabilityEnforcer) -> Result<LoadedPlugin, PluginLoadError> {
        let library: UnsafeMutableRawPointer
        switch DynamicLibrary.open(path) {
        case .success(let l): library = l
        case .failure(let e): return .failure(e)
        }
        let result = check(library: library, path: path, enforcer: enforcer)
        if case .failure = result { DynamicLibrary.close(library) }
        return result
    }

    /// Why `enforcer`'s policy refuses a plugin with `manifest` (each required capability
    /// is checked and audited as a use by `plugin:NAME`), or nil when it admits it.
    static func admissionRefusal(_ manifest: PluginManifest, enforcer: CapabilityEnforcer) -> String? {
        let who = Principal.plugin(manifest.name)
        for text in manifest.capabilities {
            let shown = Capability.sanitized(text)
            switch Capability.parse(text, baseDirectory: enforcer.workingDirectory) {
            case .failure(let e):
                return "plugin \(manifest.name) requires capability '\(shown)', which is malformed: \(e.message)"
            case .success(let required):
                // A requirement is met by a grant that covers all of it.
                let granted = enforcer.policy.allowsAll || enforcer.policy.grants(of: who).contains { $0.covers(required) }
                enforcer.audit?.record(required, by: who, allowed: granted)
                if !granted {
                    return "plugin \(manifest.name) requires capability \(shown), which is not granted (grant with --allow-plugin=\(manifest.name)=\(shown) or under \"plugins\" in capsule.json)"
                }
            }
        }
        return nil
    }

    private static func check(library: UnsafeMutableRawPointer, path: String, enforcer: CapabilityEnforcer) -> Result<LoadedPlugin, PluginLoadError> {
        func refuse(_ reason: String) -> Result<LoadedPlugin, PluginLoadError> {
            .failure(PluginLoadError(path: path, reason: reason))
        }
        let manifest: PluginManifest
        switch readManifest(library: library, path: path) {
        case .success(let m): manifest = m
        case .failure(let e): return .failure(e)
        }
        if let refusal = admissionRefusal(manifest, enforcer: enforcer) {
            return .failure(PluginLoadError(path: path, reason: refusal, byPolicy: true))
        }
        var prepared: [PreparedExport] = []
        for export in manifest.exports {
            guard let p = PreparedExport(export) else {
                return refuse("libffi cannot prepare a call to export '\(export.name)' with signature \(export.signature)")
            }
            prepared.append(p)
        }
        let hostAPI = HostAPI.makeTable()
        if let initHook = manifest.initHook {
            let context = CallContext(pluginName: manifest.name, enforcer: enforcer)
            let (status, raised) = context.run { initHook(UnsafePointer(hostAPI)) }
            if status != 0 {
                hostAPI.deallocate()
                let why = raised.map { ": \($0)" } ?? ""
                return refuse("plugin \(manifest.name)'s init failed with status \(status)\(why)")
            }
        }
        return .success(LoadedPlugin(manifest: manifest, path: path, library: library, hostAPI: hostAPI, prepared: prepared))
    }

    private static func readManifest(library: UnsafeMutableRawPointer, path: String) -> Result<PluginManifest, PluginLoadError> {
        guard let entry = DynamicLibrary.symbol(CAPSULE_ENTRY_SYMBOL, in: library) else {
            return .failure(PluginLoadError(path: path, reason: "no '\(CAPSULE_ENTRY_SYMBOL)' symbol (declare the descriptor with CAPSULE_PLUGIN(...) and build with -fvisibility=hidden)"))
        }
        let entryFunction = unsafeBitCast(entry, to: (@convention(c) () -> UnsafePointer<capsule_plugin>?).self)
        return PluginManifest.read(entryFunction(), path: path)
    }
}
