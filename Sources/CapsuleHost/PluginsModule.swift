/// The `plugins` module scripts import to manage the host's plugins:
/// `plugins.reload(name)` hot-reloads an imported plugin (in-process or isolated) and returns
/// the new version string,
/// or raises `reload of NAME refused: WHY` (the old version keeps serving);
/// `plugins.version(name)` is the version an imported plugin's calls go to.
extension PluginHost {
    func pluginsModule() -> NativeModuleDefinition {
        NativeModuleDefinition(name: "plugins", functions: [
            NativeFunctionDefinition(name: "reload", arity: 1) { [unowned self] call in
                guard let name = call.string(0).map({ String(decoding: $0, as: UTF8.self) }) else {
                    return call.raise("plugins.reload: argument 1: expected a str")
                }
                switch reloadPlugin(named: name) {
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
        ])
    }
}
