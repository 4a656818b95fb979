/// Where a plugin runs: in the host process or in a locked-down worker
/// (docs/security.md#which-plugins-run-isolated).
///
/// 1. Isolated with the embedder's settings when `IsolationPolicy.settings(name)` gives some.
/// 2. Isolated when the VM's policy names it in `isolated` (`--isolate`, `"isolate": true`).
/// 3. In-process when the policy names it in `trusted` (`--trust`, `"trusted": true`) or
///    grants everything (`--allow-all`).
/// 4. Otherwise isolated when the import audit would refuse it in-process (an import reaching
///    a power it is not granted, an unclassified import, a library outside the system ones:
///    `ImportAudit`); else by what its descriptor declares: isolated when it declares any
///    capability beyond `clock` and `random` (`Policy.runsIsolated`). The descriptor is read in a
///    locked-down worker, so an undecided plugin's code first runs confined; a plugin that
///    declares nothing that isolates it is then stopped there and loaded in-process. (A
///    plugin already loaded in-process for another VM is decided from its known descriptor.)
///
/// Where isolation is unavailable (no worker executable, no Landlock ABI 3), a plugin of
/// rule 4 is loaded in-process and refused, before its init, if it declares something that
/// isolates it; plugins of rule 1 or 2 are refused.
///
/// An isolated plugin's worker gets the plugin's own grants (`IsolationSettings.granting`).
extension PluginHost {
    func place(_ name: String, path: String, realPath: String) -> NativeModuleLookup {
        let policy = enforcer.policy
        let identity = FileIdentity(realPath)  // before loading: --watch sees changes made during it
        if let settings = isolation.settings(name) {
            return isolate(name, path: path, realPath: realPath, identity: identity, settings: settings, byDefault: nil)
        }
        if policy.alwaysIsolates(plugin: name) {
            return isolate(name, path: path, realPath: realPath, identity: identity, settings: isolation.defaults, byDefault: nil)
        }
        if policy.neverIsolates(plugin: name) { return loadInProcess(name, path: path, realPath: realPath, identity: identity) }
        if let reason = importAuditIsolation(name, realPath: realPath) {
            return isolate(name, path: path, realPath: realPath, identity: identity, settings: isolation.defaults,
                           byDefault: nil, auditReason: reason)
        }
        if let known = registry.loadedManifest(realPath: realPath) {
            guard policy.runsIsolated(plugin: name, declaring: known.declaredKinds) else {
                return loadInProcess(name, path: path, realPath: realPath, identity: identity)
            }
            return isolate(name, path: path, realPath: realPath, identity: identity, settings: isolation.defaults, byDefault: known)
        }
        // Undecided: read the descriptor in a worker, and keep the worker if it isolates.
        let settings = isolation.defaults.granting(enforcer.resolvedPolicy, to: name, environment: hostEnvironment ?? IsolationSettings.processEnvironment())
        let loaded = IsolatedPlugin.load(path: path, realPath: realPath, name: name, settings: settings, enforcer: enforcer,
                                         keep: { policy.runsIsolated(plugin: name, declaring: $0.declaredKinds) },
                                         hint: { Self.trustHint(name, $0) })
        switch loaded {
        case .failure(let error): return .failed(error.description)
        case .success(.isolated(let plugin)):
            return adopt(plugin, name, realPath: realPath, identity: identity)
        case .success(.inProcess):
            return loadInProcess(name, path: path, realPath: realPath, identity: identity,
                                 unlessIsolating: "the descriptor it gave in the worker declared nothing that isolates it")
        case .success(.unavailable(let error)):
            let why = error.reason.hasPrefix(IsolatedPlugin.structTypesRefusal) ? error.reason : "isolation is unavailable here: \(error.reason)"
            return loadInProcess(name, path: path, realPath: realPath, identity: identity, unlessIsolating: why)
        }
    }

    /// Why the import audit would refuse plugin `name`'s file in-process (it is not trusted
    /// here), which makes it run isolated by default; nil when the audit admits it or the
    /// file cannot be read (loading then reports that). The in-process load audits its
    /// private copy again.
    private func importAuditIsolation(_ name: String, realPath: String) -> String? {
        guard case .success(let image) = ELFImage.read(path: realPath) else { return nil }
        return PluginLoader.importAuditReason(image, name: name, policy: enforcer.policy, trusted: false)
    }

    /// Starts plugin `name` in a worker with `settings` plus its grants. `byDefault` is its
    /// known descriptor when only that isolates it (refusals then say how to trust it);
    /// `auditReason`, the import audit's refusal when that is why it is isolated.
    private func isolate(_ name: String, path: String, realPath: String, identity: FileIdentity?,
                         settings: IsolationSettings, byDefault known: PluginManifest?,
                         auditReason: String? = nil) -> NativeModuleLookup {
        let granted = settings.granting(enforcer.resolvedPolicy, to: name, environment: hostEnvironment ?? IsolationSettings.processEnvironment())
        switch IsolatedPlugin.load(path: path, realPath: realPath, name: name, settings: granted, enforcer: enforcer,
                                   hint: { known != nil ? Self.trustHint(name, $0) : nil }) {
        case .failure(let error): return .failed(error.description)
        case .success(.unavailable(let error)):
            if let auditReason {
                let reason = "plugin \(name) must run isolated, but isolation is unavailable here: \(error.reason); "
                    + "plugin \(name) runs isolated by default because the import audit refuses it in-process: \(auditReason); "
                    + "to run it in the capsule process, grant what it imports or trust it with --trust=\(name) or \"trusted\": true for it under \"plugins\" in capsule.json"
                return .failed(PluginLoadError(path: path, reason: reason).description)
            }
            guard let known else { return .failed(error.description) }
            let reason = "plugin \(name) must run isolated, but isolation is unavailable here: \(error.reason); \(Self.trustHint(name, known))"
            return .failed(PluginLoadError(path: path, reason: reason).description)
        case .success(.inProcess): return .failed(PluginLoadError(path: path, reason: "plugin \(name) was not isolated").description)
        case .success(.isolated(let plugin)):
            return adopt(plugin, name, realPath: realPath, identity: identity)
        }
    }

    /// Loads plugin `name` into this process. With `unlessIsolating`, a descriptor that
    /// would isolate the plugin is refused before its init, for that reason.
    private func loadInProcess(_ name: String, path: String, realPath: String, identity: FileIdentity?,
                               unlessIsolating reason: String? = nil) -> NativeModuleLookup {
        let policy = enforcer.policy
        let refusal: (PluginManifest) -> String? = { manifest in
            guard let reason, policy.runsIsolated(plugin: name, declaring: manifest.declaredKinds) else { return nil }
            return "plugin \(name) must run isolated, but \(reason); \(Self.trustHint(name, manifest))"
        }
        switch registry.load(realPath: realPath, enforcer: enforcer, bind: true, refusal: refusal) {
        case .failure(let error):
            return .failed(PluginLoadError(path: path, reason: error.reason).description)
        case .success(let plugin):
            guard plugin.manifest.name == name else {
                registry.unbind(plugin)
                return .failed(PluginLoadError(path: path, reason: "the plugin is named '\(plugin.manifest.name)', not '\(name)'").description)
            }
            let bridge = FFIBridge(plugin: plugin, registry: registry, enforcer: enforcer, alreadyBound: true,
                                   blockingPool: blockingPool)
            bridges[name] = bridge
            pluginImported(name, realPath: realPath, identity: identity)
            return .found(bridge.moduleDefinition())
        }
    }

    /// Makes `plugin`, started in a worker, this VM's module `name` (watched under --watch).
    private func adopt(_ plugin: IsolatedPlugin, _ name: String, realPath: String, identity: FileIdentity?) -> NativeModuleLookup {
        plugin.blockingPool = blockingPool
        isolated[name] = plugin
        pluginImported(name, realPath: realPath, identity: identity, isolated: true)
        return .found(plugin.moduleDefinition())
    }

    /// Why a plugin is isolated by default and how to run it in-process instead.
    static func trustHint(_ name: String, _ manifest: PluginManifest) -> String {
        "plugin \(name) runs isolated by default because it declares \(manifest.isolatingCapabilities); "
            + "to run it in the capsule process, trust it with --trust=\(name) or \"trusted\": true for it under \"plugins\" in capsule.json"
    }
}
