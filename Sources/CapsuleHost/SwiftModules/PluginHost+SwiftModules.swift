/// Modules of Swift functions registered by the embedding program (`SwiftModule`).
extension PluginHost {
    /// Registers module `name`, built by `build`, for this host's VM: `import "name"` then
    /// binds it like a C plugin (it is found before any plugin file of that name). Its
    /// manifest (`manifest(ofModule:)`) lists the functions with their signatures, as
    /// `capsule plugin inspect` shows a plugin's. Throws a `PluginLoadError` saying what is
    /// wrong: a name that is not an identifier or is taken (a system module, or registered
    /// already), a malformed signature, or one the closure's Swift types do not match.
    @discardableResult
    public func register(module name: String, version: String = "0.0.0", description: String = "",
                         _ build: (SwiftModule) throws -> Void) throws -> PluginManifest {
        let path = SwiftModule.path(name)
        guard isIdentifier(name) else { throw PluginLoadError(path: path, reason: "the module name is not an identifier") }
        guard !Self.systemModules.contains(name) else {
            throw PluginLoadError(path: path, reason: "'\(name)' is a module of the host itself")
        }
        guard swiftModules[name] == nil else { throw PluginLoadError(path: path, reason: "module \(name) is registered already") }
        let module = SwiftModule(name: name)
        try build(module)
        let manifest = PluginManifest(
            name: name, version: version, description: description, abiVersion: PluginManifest.hostABIVersion,
            capabilities: [], exports: module.exports, handleTypes: module.handleTypes, initHook: nil)
        var prepared: [PreparedExport] = []
        for export in manifest.exports {
            guard let p = PreparedExport(export) else {
                throw PluginLoadError(path: path, reason: "libffi cannot prepare a call of signature \(export.signature) for '\(export.name)'")
            }
            prepared.append(p)
        }
        let plugin = LoadedPlugin(
            manifest: manifest, path: path,
            image: ELFImage(imports: [], uniqueSymbols: [], needed: [], hasTLS: false, noDelete: false),
            library: nil, hostAPI: HostAPI.makeTable(), prepared: prepared)
        plugin.swiftModule = module
        swiftModules[name] = plugin
        return manifest
    }

    /// What module `name` declares, if this host has it: a registered Swift module, or a
    /// plugin its VM imported.
    public func manifest(ofModule name: String) -> PluginManifest? {
        swiftModules[name]?.manifest ?? bridges[name]?.plugin.manifest
    }

    /// The names the host answers itself; a Swift module cannot take them.
    static let systemModules: Set<String> = ["ffi", "fs", "env", "time", "plugins"]

    /// `import "name"` of a registered Swift module: bound once per VM like a plugin.
    func resolveSwiftModule(_ name: String) -> NativeModuleDefinition? {
        guard let plugin = swiftModules[name] else { return nil }
        if let bridge = bridges[name] { return bridge.moduleDefinition() }
        let bridge = FFIBridge(plugin: plugin, registry: registry, enforcer: enforcer)
        bridges[name] = bridge
        return bridge.moduleDefinition()
    }
}
