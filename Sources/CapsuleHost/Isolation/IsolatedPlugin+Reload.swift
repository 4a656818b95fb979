#if canImport(Glibc)
import Glibc
#endif
import CapsuleIsolation
import CapsuleSyntax

/// Hot reload of an isolated plugin: the new version runs in a new worker, started on a new
/// private copy and checked exactly as a first load and as an in-process reload (same
/// module, every export with the identical signature), and gets the old worker's state
/// over the protocol (SAVE_STATE in the old worker → RESTORE_STATE in the new one). Only
/// then is it swapped in; the old worker is drained (queued handle destructions run in it)
/// and stopped. Any refusal stops the new worker and leaves the old one serving.
///
/// Handles made by the old worker die with it, as after a crash restart: using one is an
/// error naming the reload, never a crash.
extension IsolatedPlugin {
    /// Reloads from the file at `realPath`; returns the new version string, or why not.
    /// Call on the VM's thread between calls (no call into this plugin is in flight then:
    /// isolated exports take no callbacks).
    func reload(realPath: String) -> Result<String, PluginLoadError> {
        func refuse(_ reason: String) -> Result<String, PluginLoadError> {
            .failure(PluginLoadError(path: path, reason: reason))
        }
        guard !busy else { return refuse("plugin \(name) is in a call") }
        let newWorker: WorkerProcess, fields: DescriptorFields, newCopy: Int32, newLoadPaths: [String]
        switch Self.launch(realPath: realPath, executable: workerExecutable, settings: settings, name: name) {
        case .failure(let e): return refuse(e.message)
        case .success(let l): (newWorker, fields, newCopy, newLoadPaths) = (l.worker, l.fields, l.copy, l.loadPaths)
        }
        // From here a refusal stops the new worker; the old one keeps serving.
        func abandon(_ reason: String) -> Result<String, PluginLoadError> {
            newWorker.terminate()
            close(newCopy)
            return refuse(reason)
        }
        let newManifest: PluginManifest
        switch PluginManifest.check(fields, path: path) {
        case .failure(let e): return abandon(e.reason)
        case .success(let m): newManifest = m
        }
        if let reason = PluginRegistry.incompatibility(old: manifest, new: newManifest) { return abandon(reason) }
        if let refusal = PluginLoader.admissionRefusal(newManifest, enforcer: enforcer) { return abandon(refusal) }
        let newPlans = Self.plans(newManifest)
        let indices = bindings.map { b in newManifest.exports.firstIndex { $0.name == b.export.name }! }
        let previousPlans = plans
        plans = newPlans
        let initError = initialize(newWorker)
        plans = previousPlans
        if let initError { return abandon(initError.message) }
        if let reason = migrateState(to: newWorker, from: manifest.version, to: newManifest.version) { return abandon(reason) }

        // Swap: the old worker runs the destructions queued for it, then stops.
        flushDestroys()
        worker?.terminate()
        pendingDestroys.removeAll()
        close(copy)
        worker = newWorker
        copy = newCopy
        loadPaths = newLoadPaths
        plans = newPlans
        manifest = newManifest
        exportIndices = indices
        generation += 1
        reloadedGeneration = generation
        for binding in bindings { binding.replacedVersion = newManifest.version }
        return .success(newManifest.version)
    }

    /// Runs SAVE_STATE in the current worker and RESTORE_STATE with its bytes in `newWorker`;
    /// nil on success, else why not. Without a running old worker (it died) the new version
    /// starts from its init, as when the plugin has no save_state.
    private func migrateState(to newWorker: WorkerProcess, from fromVersion: String, to newVersion: String) -> String? {
        var state: [UInt8] = []
        if let old = worker {
            busy = true
            old.shared.pointee.op = UInt32(CAPSULE_ISO_OP_SAVE_STATE)
            old.shared.pointee.response_offset = 0
            let n = min(pendingDestroys.count, Int(CAPSULE_ISO_MAX_DESTROYS))
            old.shared.pointee.destroy_count = UInt32(n)
            let to = (UnsafeMutableRawPointer(old.shared) + Self.destroysOffset).assumingMemoryBound(to: UInt64.self)
            for i in 0..<n { to[i] = pendingDestroys[i] }
            pendingDestroys.removeFirst(n)
            old.send()
            let failure = old.wait(deadline: settings.callDeadline)
            busy = false
            if let failure {
                worker = nil
                return Self.describe(failure, plugin: name, during: "save_state")
            }
            guard let payload = old.responsePayload(start: 0) else {
                old.terminate()
                worker = nil
                return "worker for plugin \(name) broke the protocol during save_state and was killed"
            }
            switch old.shared.pointee.status {
            case UInt32(CAPSULE_ISO_OK): if old.shared.pointee.result.a == 1 { state = payload }
            case UInt32(CAPSULE_ISO_FAILED): return "\(name) \(fromVersion)'s save_state failed: \(TerminalText.safe(bytes: payload))"
            default: return "worker for plugin \(name) broke the protocol during save_state"
            }
        }
        let version = Array(fromVersion.utf8.prefix(255))
        guard version.count + state.count <= newWorker.dataSize / 2 else { return "the saved state does not fit in the isolation buffer" }
        version.withUnsafeBytes { newWorker.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        state.withUnsafeBytes { if let base = $0.baseAddress { (newWorker.data + version.count).copyMemory(from: base, byteCount: $0.count) } }
        let responseStart = (version.count + state.count + 15) & ~15
        newWorker.shared.pointee.op = UInt32(CAPSULE_ISO_OP_RESTORE_STATE)
        newWorker.shared.pointee.destroy_count = 0
        newWorker.shared.pointee.response_offset = UInt32(responseStart)
        newWorker.shared.pointee.args.0 = capsule_iso_slot(a: UInt64(version.count), b: UInt64(state.count))
        newWorker.send()
        if let failure = newWorker.wait(deadline: settings.callDeadline) {
            return Self.describe(failure, plugin: name, during: "restore_state")
        }
        guard let payload = newWorker.responsePayload(start: responseStart) else {
            return "the new worker for plugin \(name) broke the protocol during restore_state"
        }
        let message = TerminalText.safe(bytes: payload)
        switch newWorker.shared.pointee.status {
        case UInt32(CAPSULE_ISO_OK):
            let status = Int32(truncatingIfNeeded: newWorker.shared.pointee.result.a)
            guard status == 0 else {
                return "\(name) \(newVersion)'s restore_state failed with status \(status)\(message.isEmpty ? "" : ": " + message)"
            }
            return nil
        case UInt32(CAPSULE_ISO_FAILED): return "restore_state in the new worker failed: \(message)"
        default: return "the new worker for plugin \(name) broke the protocol during restore_state"
        }
    }
}
