/// Hot reload's triggers and events on the VM's side: `watchPlugins` (the watcher's thread
/// prepares each new version; the swap happens here at the VM's next safe point),
/// `reload(module:)` by hand, and the events both publish to Swift observers and to the
/// scripts' `plugins.on_reload` / `plugins.on_reload_failed` handlers.
extension PluginHost {
    /// The watcher's debounce, in seconds: how long a replaced plugin file must stay quiet
    /// after its writer closed or renamed it (docs/performance.md, "Reload latency").
    public static let defaultWatchDebounce = 0.001

    /// Watches the file of every plugin imported into this host's VM, and of each imported
    /// later, and hot-reloads a plugin when its file is replaced (rewritten in place or
    /// renamed over, `debounce` seconds after the writer is done). The new version is
    /// copied, audited, opened, handshaken and initialised on the watcher's thread while
    /// the old one keeps serving; the swap (save/restore state, rebinding) runs on the VM's
    /// thread at its next safe point, a loop back-edge or a call. A script blocked in a
    /// native call (`time.sleep`) gets it when that call returns. Every reload, refused or
    /// not, is an event (`observeReloads`). Call after `install(on:)`, on the VM's thread.
    /// Throws when inotify is unavailable. An isolated plugin's whole reload (a new worker on
    /// the new file, state moved over the protocol, the old worker drained) runs at the safe
    /// point: it has no in-process half to prepare.
    ///
    /// Script modules the VM imports (`.cap` files, not the main script) are watched too: a
    /// changed one is re-run in place at the next safe point, as `modules.reload` does, and
    /// reported as an event of kind `.scriptModule` (observers only: the scripts'
    /// `plugins.on_reload` handlers are for plugins).
    public func watchPlugins(debounce: Double = PluginHost.defaultWatchDebounce) throws(FileWatcherError) {
        guard let vm = reloads.vm else { throw FileWatcherError("install the plugin host on a VM before watching") }
        installSafePointHandler(vm)
        let registry = self.registry, enforcer = self.enforcer
        try reloads.start(debounce: debounce, trigger: vm.safePointTrigger) { path in
            registry.prepareReload(realPath: path, enforcer: enforcer)
        }
        for (name, path) in vm.importedScriptModules { watchScriptModule(name, realPath: path) }
        vm.observeScriptModuleImports { [unowned self] name, path in watchScriptModule(name, realPath: path) }
    }

    /// Stops watching plugin files.
    public func stopWatching() { reloads.stop() }

    /// The files being watched (real paths).
    public var watchedFiles: [String] { reloads.watcher?.watched ?? [] }

    /// Calls `observer` with every reload's outcome, on the VM's thread, right after the swap
    /// (or the refusal), before scripts' handlers run.
    public func observeReloads(_ observer: @escaping (ReloadEvent) -> Void) {
        reloads.observers.append(observer)
    }

    /// Sends the errors scripts' reload handlers raise to `report` (one line each) instead
    /// of standard error. A handler's error never ends the run.
    public func reportHandlerErrors(to report: @escaping (String) -> Void) {
        reloads.reportHandlerError = report
    }

    // MARK: the VM's thread

    /// A plugin's bridge was created from the file at `realPath`, which was `identity` before
    /// it was loaded: watch it (when watching).
    func pluginImported(_ module: String, realPath: String, identity: FileIdentity?, isolated: Bool = false) {
        if let error = reloads.imported(module: module, realPath: realPath, identity: identity, isolated: isolated) {
            reloads.reportHandlerError("cannot watch plugin \(module): \(error)")
        }
    }

    /// A script module is imported from `realPath` (while watching): watch its file.
    private func watchScriptModule(_ name: String, realPath: String) {
        if let error = reloads.importingScript(name: name, realPath: realPath) {
            reloads.reportHandlerError("cannot watch script module \(name): \(error)")
        }
    }

    func installSafePointHandler(_ vm: VM) {
        guard !reloads.handlesSafePoints else { return }
        reloads.handlesSafePoints = true
        vm.setSafePointHandler { [unowned self] call in
            for ready in reloads.takeReady() { apply(ready, call) }
            deliverEventsToScripts(call)
        }
    }

    /// Swaps in a version the watcher's thread prepared (or reports its refusal); re-runs a
    /// changed script module.
    private func apply(_ ready: ReloadCoordinator.Ready, _ call: NativeCall) {
        if let path = ready.scriptPath { return reloadScriptModule(ready, path: path, call) }
        guard let prepared = ready.result else {
            if let plugin = isolated[ready.module] {
                // A fiber's call is in flight on the pool: swap workers once it returns.
                if plugin.busy { return reloads.retry(ready) }
                _ = reloadIsolated(ready.module, started: ready.started, trigger: .fileChanged)
            }
            return
        }
        guard let bridge = bridges[ready.module] else {
            if case .success(let prepared) = prepared { prepared.abandon() }
            return
        }
        // save_state must not run beside this VM's calls into the plugin: wait until its
        // blocking calls on the pool have returned (the next safe point after that).
        if bridge.context.poolCalls > 0, case .success = prepared { return reloads.retry(ready) }
        let old = bridge.plugin.manifest.version
        let result = prepared.flatMap { registry.commitReload($0, bind: true) }
        finish(bridge, result, oldVersion: old, started: ready.started, trigger: .fileChanged)
    }

    /// Re-runs the changed script module at `path` (`modules.reload` semantics) and publishes
    /// what happened.
    private func reloadScriptModule(_ ready: ReloadCoordinator.Ready, path: String, _ call: NativeCall) {
        var error: PluginLoadError? = nil
        var ran = true
        switch call.reloadScriptModule(atPath: path) {
        case .reloaded: break
        case .notImported: return
        case .stillLoading: return reloads.retry(ready)
        case .refused(let report):
            // The diagnostics' headline lines (`file:line:col: error: …`), without the
            // source excerpts under them.
            let headlines = report.split(separator: "\n").filter { $0.contains(": error: ") }.map { $0.drop(while: { $0 == " " }) }
            let why = headlines.isEmpty ? Self.oneLine(report) : headlines.joined(separator: "; ")
            error = PluginLoadError(path: path, reason: why + "; the old code keeps serving")
            ran = false
        case .failed(let report):
            error = PluginLoadError(path: path, reason: Self.oneLine(report) + "; names bound before the error are the new ones")
        }
        publish(module: ready.module, oldVersion: "", newVersion: ran ? "" : nil, error: error,
                started: ready.started, trigger: .fileChanged, kind: .scriptModule)
    }

    /// `reload(module:)`; with `call` (from `plugins.reload`), the scripts' handlers run
    /// before it returns.
    func reload(module: String, call: NativeCall?) -> Result<PluginRegistry.Reload, PluginLoadError> {
        guard let bridge = bridges[module] else {
            if isolated[module] != nil {
                return .failure(PluginLoadError(path: module, reason: "plugin \(module) runs isolated: reload it with reloadPlugin(named:), which starts a new worker"))
            }
            return .failure(PluginLoadError(path: module, reason: "plugin \(module) is not imported, so it cannot be reloaded (a script module reloads with modules.reload)"))
        }
        if bridge.plugin.isSwiftModule {
            return .failure(PluginLoadError(path: module, reason: "\(module) is a Swift module registered by the host, not a plugin file"))
        }
        let started = ReloadCoordinator.monotonicNanoseconds()
        let old = bridge.plugin.manifest.version
        if bridge.context.poolCalls > 0 {
            // save_state must not run beside this VM's calls into the plugin.
            let n = bridge.context.poolCalls
            let error = PluginLoadError(path: bridge.plugin.path,
                                        reason: "\(n) blocking call\(n == 1 ? " is" : "s are") still running in \(module) \(old) on the pool; reload once \(n == 1 ? "it returns" : "they return")")
            publish(module: module, oldVersion: old, newVersion: nil, error: error, started: started, trigger: .call)
            if let call { deliverEventsToScripts(call) }
            return .failure(error)
        }
        let result = registry.reload(realPath: bridge.plugin.path, enforcer: enforcer, bind: true)
        finish(bridge, result, oldVersion: old, started: started, trigger: .call)
        if let call {
            deliverEventsToScripts(call)
        } else if !reloads.undelivered.isEmpty {
            reloads.vm?.safePointTrigger.request()
        }
        return result
    }

    /// After a commit or a refusal: rebind, add new exports to the module object, publish.
    private func finish(_ bridge: FFIBridge, _ result: Result<PluginRegistry.Reload, PluginLoadError>,
                        oldVersion: String, started: UInt64, trigger: ReloadEvent.Trigger) {
        let module = bridge.plugin.manifest.name
        var newVersion: String? = nil, error: PluginLoadError? = nil
        switch result {
        case .success(let reload):
            let added = bridge.rebind(to: reload.new)
            if !added.isEmpty { reloads.vm?.addNativeFunctions(toModule: module, added) }
            newVersion = reload.new.manifest.version
        case .failure(let e):
            error = e
        }
        publish(module: module, oldVersion: oldVersion, newVersion: newVersion, error: error, started: started, trigger: trigger)
    }

    /// Tells the observers about a reload or its refusal and queues it for the scripts' handlers.
    func publish(module: String, oldVersion: String, newVersion: String?, error: PluginLoadError?,
                 started: UInt64, trigger: ReloadEvent.Trigger, kind: ReloadEvent.Kind = .plugin) {
        let event = ReloadEvent(module: module, oldVersion: oldVersion, newVersion: newVersion, error: error,
                                nanoseconds: ReloadCoordinator.monotonicNanoseconds() &- started, trigger: trigger, kind: kind)
        for observer in reloads.observers { observer(event) }
        if kind == .plugin && !(reloads.reloadHandlers.isEmpty && reloads.failureHandlers.isEmpty) { reloads.undelivered.append(event) }
    }

    /// Runs the scripts' handlers for each undelivered event, in order. A handler's error is
    /// reported, never propagated: the script goes on.
    func deliverEventsToScripts(_ call: NativeCall) {
        while !reloads.undelivered.isEmpty {
            let event = reloads.undelivered.removeFirst()
            let (handlers, kind) = event.succeeded ? (reloads.reloadHandlers, "on_reload") : (reloads.failureHandlers, "on_reload_failed")
            let third = event.newVersion ?? event.error.map { $0.reason } ?? ""
            for handler in handlers {
                // Each string is kept from the collector while the next is made.
                let arguments = [event.module, event.oldVersion, third].map { text in
                    let v = call.stringValue(text)
                    call.keep(v)
                    return v
                }
                let answered = call.callValue(handler, arguments) != nil
                call.release(arguments.count)
                if !answered { reloads.reportHandlerError("plugins.\(kind) handler failed: " + Self.oneLine(call.takeErrorReport())) }
            }
        }
    }

    /// A report (`error: MESSAGE` or `FILE:LINE:COL: error: MESSAGE`, a source line and a
    /// caret, then its trace) as one line: `MESSAGE (at WHERE)`.
    static func oneLine(_ report: String) -> String {
        var lines = report.split(separator: "\n").map { $0.drop(while: { $0 == " " }) }
        guard !lines.isEmpty else { return report }
        var text = String(lines.removeFirst())
        if text.hasPrefix("error: ") { text.removeFirst(7) }
        else if let marker = text.firstRange(of: ": error: ") { text = String(text[marker.upperBound...]) }
        if let place = lines.first(where: { $0.hasPrefix("at ") }) { text += " (\(place))" }
        return text
    }
}
