/// The `plugins` module scripts import to manage the host's plugins:
/// `plugins.reload(name)` hot-reloads an imported plugin (in-process or isolated) and returns
/// the new version string,
/// or raises `reload of NAME refused: WHY` (the old version keeps serving);
/// `plugins.version(name)` is the version an imported plugin's calls go to;
/// `plugins.on_reload(fn(name, old, new))` runs `fn` after every successful reload and
/// `plugins.on_reload_failed(fn(name, version, message))` after every refused one (`version`
/// keeps serving), whatever triggered it (`--watch` or `plugins.reload`). Handlers run on
/// the script's thread, at a safe point; an error one raises is reported, not propagated.
extension PluginHost {
    func pluginsModule() -> NativeModuleDefinition {
        NativeModuleDefinition(name: "plugins", functions: [
            NativeFunctionDefinition(name: "reload", arity: 1) { [unowned self] call in
                guard let name = call.string(0).map({ String(decoding: $0, as: UTF8.self) }) else {
                    return call.raise("plugins.reload: argument 1: expected a str")
                }
                switch reloadPlugin(named: name, call: call) {
                case .success(let version): return call.stringValue(version)
                case .failure(let error): return call.raise("reload of \(name) refused: \(error.reason)")
                }
            },
            NativeFunctionDefinition(name: "version", arity: 1) { [unowned self] call in
                guard let name = call.string(0).map({ String(decoding: $0, as: UTF8.self) }) else {
                    return call.raise("plugins.version: argument 1: expected a str")
                }
                guard let version = version(of: name) else { return call.raise("plugins.version: plugin \(name) is not imported") }
                return call.stringValue(version)
            },
            handlerRegistration("on_reload") { $0.reloadHandlers.append($1) },
            handlerRegistration("on_reload_failed") { $0.failureHandlers.append($1) },
        ])
    }

    /// `plugins.NAME(fn)`: keeps `fn` (for the life of the VM) as a handler of reload events.
    private func handlerRegistration(_ name: String, _ add: @escaping (ReloadCoordinator, Value) -> Void) -> NativeFunctionDefinition {
        NativeFunctionDefinition(name: name, arity: 1) { [unowned self] call in
            guard call.isCallable(0) else {
                return call.raise("plugins.\(name): argument 1: expected a function taking 3 arguments, got \(call.typeName(0))")
            }
            call.keepForever(call.value(0))
            add(reloads, call.value(0))
            if let vm = reloads.vm { installSafePointHandler(vm) }
            return call.nilValue
        }
    }
}
