#if canImport(Glibc)
import Glibc
#endif
import CapsuleSystem

/// Hot reload at the registry: load the file again from a fresh private copy, check the new
/// version against the current one, migrate state, and make it current for the path.
extension PluginRegistry {
    /// What a successful reload replaced.
    public struct Reload: Sendable {
        /// The version that was current.
        public let old: LoadedPlugin
        /// The version now current.
        public let new: LoadedPlugin
    }

    /// Reloads the plugin at `realPath`, which must already be loaded. Refuses, leaving the
    /// current version current, when: the file does not load (truncated, corrupt, no entry,
    /// ABI mismatch, init fails, a required capability `policy` does not grant the plugin,
    /// an import beyond its grants); the new version is a
    /// different module; an export of the current version is missing or its signature text
    /// changed; or the new version's restore_state hook fails.
    public func reload(realPath: String, policy: Policy = .none) -> Result<Reload, PluginLoadError> {
        reload(realPath: realPath, enforcer: CapabilityEnforcer(policy: policy, audit: nil))
    }

    /// `bind`: the new version is counted as bound by the caller (an `FFIBridge` that will
    /// `rebind` to it) under the same lock, so another thread's reload cannot close it first.
    func reload(realPath: String, enforcer: CapabilityEnforcer, bind: Bool = false) -> Result<Reload, PluginLoadError> {
        prepareReload(realPath: realPath, enforcer: enforcer).flatMap { commitReload($0, bind: bind) }
    }

    /// A new version loaded, initialised and checked against the version that was current,
    /// not yet current: `commitReload` migrates state and swaps it in, `abandon` drops it.
    struct PreparedReload: Sendable {
        let realPath: String
        /// The version current when it was prepared.
        let old: LoadedPlugin
        let new: LoadedPlugin

        /// Drops a prepared version that will not be committed (runs its deinit, closes it).
        func abandon() { new.discardUnused() }
    }

    /// The expensive half of a reload, safe on any thread while the old version serves
    /// calls: private copy, import audit, dlopen, ABI handshake, the new version's init, and
    /// the export comparison. Refuses as `reload` does, except for the restore_state hook.
    func prepareReload(realPath: String, enforcer: CapabilityEnforcer) -> Result<PreparedReload, PluginLoadError> {
        lock()
        defer { unlock() }
        guard let old = byPath[realPath] else {
            return .failure(PluginLoadError(path: realPath, reason: "not loaded, so it cannot be reloaded"))
        }
        let new: LoadedPlugin
        switch PluginLoader.load(path: realPath, enforcer: enforcer) {
        case .success(let p): new = p
        case .failure(let e): return .failure(e)
        }
        // A refused new version has run its init but served no call: its deinit runs and it
        // is closed (unless it can never unload).
        if let reason = Self.incompatibility(old: old.manifest, new: new.manifest) {
            new.discardUnused()
            return .failure(PluginLoadError(path: realPath, reason: reason))
        }
        return .success(PreparedReload(realPath: realPath, old: old, new: new))
    }

    /// The cheap half, on the thread of the VM whose calls go to the old version, between
    /// its calls: save_state/restore_state, then the new version becomes current for the
    /// path. When another reload replaced the old version meanwhile, the new one is
    /// checked against that one instead. `bind` as for `reload`.
    func commitReload(_ prepared: PreparedReload, bind: Bool = false) -> Result<Reload, PluginLoadError> {
        lock()
        defer { unlock() }
        let realPath = prepared.realPath, new = prepared.new
        guard let old = byPath[realPath] else {
            new.discardUnused()
            return .failure(PluginLoadError(path: realPath, reason: "not loaded, so it cannot be reloaded"))
        }
        let recheck = old === prepared.old ? nil : Self.incompatibility(old: old.manifest, new: new.manifest)
        if let reason = recheck ?? Self.migrateState(from: old, to: new) {
            new.discardUnused()
            return .failure(PluginLoadError(path: realPath, reason: reason))
        }
        new.registry = self
        if bind { new.bindingCount += 1 }
        byPath[realPath] = new
        retired.append(old)
        closeUnusedRetired()
        return .success(Reload(old: old, new: new))
    }

    /// A VM's bridge binds `plugin` (its calls go there).
    func bind(_ plugin: LoadedPlugin) {
        lock()
        plugin.bindingCount += 1
        unlock()
    }

    /// A VM's bridge stopped binding `plugin` (it rebound, or the VM went away): a replaced
    /// version nothing binds is closed when `retirementBlockers` allows.
    func unbind(_ plugin: LoadedPlugin) {
        lock()
        defer { unlock() }
        plugin.bindingCount -= 1
        closeUnusedRetired()
    }

    /// A handle made by `plugin` was created (`LoadedPlugin.ownerReference`).
    func handleCreated(_ plugin: LoadedPlugin) {
        lock()
        plugin.liveHandles += 1
        unlock()
    }

    /// A handle made by `plugin` was closed or collected, after its destructor ran: the last
    /// one of a replaced version nothing binds closes it.
    func handleReleased(_ plugin: LoadedPlugin) {
        lock()
        defer { unlock() }
        plugin.liveHandles -= 1
        if plugin.liveHandles == 0 { closeUnusedRetired() }
    }

    /// The number of replaced versions still loaded (for tests and the soak).
    public var retiredCount: Int {
        lock()
        defer { unlock() }
        return retired.count
    }

    /// Runs deinit and dlcloses every replaced version nothing refers to any more
    /// (`LoadedPlugin.isUnreachable`). Called with the mutex held.
    private func closeUnusedRetired() {
        retired.removeAll { plugin in
            guard plugin.isUnreachable else { return false }
            plugin.discardUnused()
            return true
        }
    }

    /// Why `new` cannot replace `old`, or nil: same module name; every export of `old` exists
    /// in `new` with the identical signature text (`Signature.description`) and flags; every
    /// struct type of `old` is in `new` with the identical fields.
    static func incompatibility(old: PluginManifest, new: PluginManifest) -> String? {
        guard old.name == new.name else {
            return "the new file is plugin '\(new.name)', not '\(old.name)'"
        }
        for type in old.structTypes {
            // Bound calls keep the old layouts: a struct must keep its fields exactly.
            let after = new.structTypes.first { $0.name == type.name }?.layoutText
            guard after == type.layoutText else {
                return "\(old.name) \(new.version) changes struct type '\(type.name)' from \(type.layoutText) to \(after ?? "nothing")"
            }
        }
        let exports = Dictionary(new.exports.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for export in old.exports {
            guard let replacement = exports[export.name] else {
                return "\(old.name) \(new.version) removes export '\(export.name)', which is in use"
            }
            let before = export.signature.description, after = replacement.signature.description
            guard before == after, export.closesHandle == replacement.closesHandle else {
                return "\(old.name) \(new.version) changes the signature of '\(export.name)' from \(before) to \(after)"
            }
        }
        return nil
    }

    /// Runs the old version's save_state and hands the bytes to the new version's
    /// restore_state; nil on success, else why not.
    static func migrateState(from old: LoadedPlugin, to new: LoadedPlugin) -> String? {
        guard let restore = new.manifest.restoreState else { return nil }
        var size = 0
        var data: UnsafeMutableRawPointer? = nil
        if let save = old.manifest.saveState {
            let context = CallContext(pluginName: old.manifest.name)
            _ = context.run { data = save(&size) }
        }
        defer { if let data { Glibc.free(data) } }
        let context = CallContext(pluginName: new.manifest.name)
        let (status, raised) = old.manifest.version.withCString { version in
            context.run { restore(UnsafeRawPointer(data), data == nil ? 0 : size, version) }
        }
        if status != 0 {
            let why = raised.map { ": \($0)" } ?? ""
            return "\(new.manifest.name) \(new.manifest.version)'s restore_state failed with status \(status)\(why)"
        }
        return nil
    }
}
