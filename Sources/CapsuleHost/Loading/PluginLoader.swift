import CapsuleSystem
import CapsuleSDK

/// Opens plugin shared objects and checks them: the entry symbol, the ABI handshake, every
/// export and handle type, the required capabilities, and finally the plugin's init. Each
/// refusal is a `PluginLoadError` with a message naming what is wrong; none crashes the host.
public enum PluginLoader {
    /// Reads and checks a plugin's descriptor without initialising it and without running
    /// any of its code in this process (for `plugin inspect` and `plugin build`): the
    /// plugin is loaded only in a locked-down worker with no grants, which sends the
    /// descriptor and is stopped before `init` (`IsolatedPlugin.inspect`). Fails, saying
    /// why, where isolation is unavailable.
    public static func inspect(path: String) -> Result<PluginManifest, PluginLoadError> {
        IsolatedPlugin.inspect(path: path)
    }

    /// Loads, checks and initialises the plugin at `path`. Every capability the plugin's
    /// descriptor requires must be granted to it (by name) by `policy`, or it is refused
    /// before any of its code beyond the entry function runs. On any refusal the library
    /// is closed again.
    public static func load(path: String, policy: Policy = .none) -> Result<LoadedPlugin, PluginLoadError> {
        load(path: path, enforcer: CapabilityEnforcer(policy: policy, audit: nil))
    }

    static func load(path: String, enforcer: CapabilityEnforcer,
                     refusal: (PluginManifest) -> String? = { _ in nil }) -> Result<LoadedPlugin, PluginLoadError> {
        let library: UnsafeMutableRawPointer, image: ELFImage
        switch openPrivateCopy(path, audit: { image in importAuditRefusal(image, path: path, enforcer: enforcer) }) {
        case .success(let l): (library, image) = l
        case .failure(let e): return .failure(e)
        }
        let result = check(library: library, image: image, path: path, enforcer: enforcer, refusal: refusal)
        if case .failure = result { DynamicLibrary.close(library) }
        return result
    }

    /// Opens a private copy of `path` (see `PrivateCopy`): what the dynamic loader maps is a
    /// file no one else can change, and the copy is already deleted when this returns.
    /// `audit` sees the copy's ELF image before `dlopen` runs any of its code (constructors
    /// included) and may refuse it.
    static func openPrivateCopy(_ path: String, audit: (ELFImage) -> PluginLoadError? = { _ in nil })
        -> Result<(library: UnsafeMutableRawPointer, image: ELFImage), PluginLoadError> {
        let staged: PrivateCopy.Staged
        switch PrivateCopy.stage(path) {
        case .success(let s): staged = s
        case .failure(let e): return .failure(e)
        }
        defer { PrivateCopy.discard(staged) }
        if let refusal = audit(staged.image) { return .failure(refusal) }
        // The system libraries the audit knows are the system's: the host loads each one the
        // plugin needs by its soname first, so the loader reuses that copy instead of
        // searching the plugin's DT_RUNPATH, where a file of the same name could stand in.
        var pinned: [UnsafeMutableRawPointer] = []
        defer { pinned.forEach(DynamicLibrary.close) }
        for soname in staged.image.needed where ImportAudit.systemLibraries.contains(soname) {
            switch DynamicLibrary.open(soname) {
            case .success(let handle): pinned.append(handle)
            case .failure(let e):
                return .failure(PluginLoadError(path: path, reason: "it needs \(soname), which the host cannot load from the system's library path: \(e.reason)"))
            }
        }
        switch DynamicLibrary.open(staged.path) {
        case .success(let library): return .success((library, staged.image))
        case .failure(let e):
            // The loader's message names the copy; name the user's file instead.
            return .failure(PluginLoadError(path: path, reason: e.reason.replacing(staged.path, with: path)))
        }
    }

    /// Why `enforcer`'s policy refuses a plugin with `manifest` (each required capability
    /// is checked and audited as a use by `plugin:NAME`), or nil when it admits it.
    /// `optional:` capabilities are only checked to be well-formed: the plugin uses them on
    /// whatever it is granted.
    static func admissionRefusal(_ manifest: PluginManifest, enforcer: CapabilityEnforcer) -> String? {
        let who = Principal.plugin(manifest.name)
        for declared in manifest.capabilities {
            let (optional, text) = PluginManifest.splitOptional(declared)
            let shown = Capability.sanitized(text)
            switch Capability.parse(text, baseDirectory: enforcer.workingDirectory) {
            case .failure(let e):
                return "plugin \(manifest.name) \(optional ? "declares optional" : "requires") capability '\(shown)', which is malformed: \(e.message)"
            case .success where optional:
                continue
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

    /// The load-time import audit (`ImportAudit`): refuses an in-process plugin that imports
    /// functions reaching a power its grants do not include, or (unless it is trusted)
    /// functions no list classifies or libraries outside the known system ones. It runs on
    /// the private copy before `dlopen`, so the plugin's constructors never run. The plugin's
    /// grants and trust are looked up by the name its file carries (`libcapsule_NAME.so`);
    /// the descriptor, read later, must carry the same name to be imported.
    static func importAuditRefusal(_ image: ELFImage, path: String, enforcer: CapabilityEnforcer) -> PluginLoadError? {
        let name = moduleName(ofFile: path)
        guard let reason = importAuditReason(image, name: name, policy: enforcer.policy,
                                             trusted: enforcer.policy.neverIsolates(plugin: name)) else { return nil }
        let shown = Capability.sanitized(name)
        return PluginLoadError(path: path, reason: "plugin \(shown) \(reason) (the import audit; grant the capability to the plugin, "
            + "run it isolated with --isolate=\(shown), or trust its code with --trust=\(shown))", byPolicy: true)
    }

    /// Why the import audit refuses `image` in-process for plugin `name` under `policy`
    /// (`imports 'system' (run) without a run grant; …`), or nil when it admits it.
    package static func importAuditReason(_ image: ELFImage, name: String, policy: Policy, trusted: Bool) -> String? {
        if policy.allowsAll { return nil }
        let kinds = Set(policy.grants(of: .plugin(name)).map(\.kind))
        let findings = ImportAudit.findings(image, trusted: trusted) { power in
            switch power {
            case .fs: kinds.contains(.fsRead) || kinds.contains(.fsWrite)
            case .net: kinds.contains(.netConnect) || kinds.contains(.netListen)
            case .run: kinds.contains(.run)
            case .env: kinds.contains(.env)
            case .ffi: kinds.contains(.ffi)
            case .clock: kinds.contains(.clock)
            case .random: kinds.contains(.random)
            }
        }
        return findings.isEmpty ? nil : findings.map(\.description).joined(separator: "; ")
    }

    /// The module name a plugin file carries: `NAME` for `…/libcapsule_NAME.so`, else the file name.
    static func moduleName(ofFile path: String) -> String {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        return file.hasPrefix("libcapsule_") && file.hasSuffix(".so") ? String(file.dropFirst(11).dropLast(3)) : file
    }

    private static func check(library: UnsafeMutableRawPointer, image: ELFImage, path: String, enforcer: CapabilityEnforcer,
                              refusal extraRefusal: (PluginManifest) -> String?) -> Result<LoadedPlugin, PluginLoadError> {
        func refuse(_ reason: String) -> Result<LoadedPlugin, PluginLoadError> {
            .failure(PluginLoadError(path: path, reason: reason))
        }
        let manifest: PluginManifest
        switch readManifest(library: library, path: path) {
        case .success(let m): manifest = m
        case .failure(let e): return .failure(e)
        }
        if let refusal = admissionRefusal(manifest, enforcer: enforcer) ?? extraRefusal(manifest) {
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
        return .success(LoadedPlugin(manifest: manifest, path: path, image: image, library: library, hostAPI: hostAPI, prepared: prepared))
    }

    private static func readManifest(library: UnsafeMutableRawPointer, path: String) -> Result<PluginManifest, PluginLoadError> {
        guard let entry = DynamicLibrary.symbol(CAPSULE_ENTRY_SYMBOL, in: library) else {
            return .failure(PluginLoadError(path: path, reason: "no '\(CAPSULE_ENTRY_SYMBOL)' symbol (declare the descriptor with CAPSULE_PLUGIN(...) and build with -fvisibility=hidden)"))
        }
        let entryFunction = unsafeBitCast(entry, to: (@convention(c) () -> UnsafePointer<capsule_plugin>?).self)
        return PluginManifest.read(entryFunction(), path: path)
    }
}
