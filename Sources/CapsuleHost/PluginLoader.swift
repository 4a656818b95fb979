import CapsuleSDK

/// Opens plugin shared objects and checks them: the entry symbol, the ABI handshake, every
/// export and handle type, the required capabilities, and finally the plugin's init. Each
/// refusal is a `PluginLoadError` with a message naming what is wrong; none crashes the host.
public enum PluginLoader {
    /// Reads and checks a plugin's descriptor without initialising it (for `plugin inspect`).
    /// Runs no plugin code beyond the entry function; the library is closed afterwards.
    public static func inspect(path: String) -> Result<PluginManifest, PluginLoadError> {
        let library: UnsafeMutableRawPointer
        switch openPrivateCopy(path) {
        case .success(let l): library = l.library
        case .failure(let e): return .failure(e)
        }
        defer { DynamicLibrary.close(library) }
        return readManifest(library: library, path: path)
    }

    /// Loads, checks and initialises the plugin at `path`. `granted` lists the capabilities
    /// the host grants (none can be granted yet: a plugin that requires any is refused).
    /// On any refusal the library is closed again.
    public static func load(path: String, granted: [String] = []) -> Result<LoadedPlugin, PluginLoadError> {
        let library: UnsafeMutableRawPointer, image: ELFImage
        switch openPrivateCopy(path) {
        case .success(let l): (library, image) = l
        case .failure(let e): return .failure(e)
        }
        let result = check(library: library, image: image, path: path, granted: granted)
        if case .failure = result { DynamicLibrary.close(library) }
        return result
    }

    /// Opens a private copy of `path` (see `PrivateCopy`): what the dynamic loader maps is a
    /// file no one else can change, and the copy is already deleted when this returns.
    static func openPrivateCopy(_ path: String) -> Result<(library: UnsafeMutableRawPointer, image: ELFImage), PluginLoadError> {
        let staged: PrivateCopy.Staged
        switch PrivateCopy.stage(path) {
        case .success(let s): staged = s
        case .failure(let e): return .failure(e)
        }
        defer { PrivateCopy.discard(staged) }
        switch DynamicLibrary.open(staged.path) {
        case .success(let library): return .success((library, staged.image))
        case .failure(let e):
            // The loader's message names the copy; name the user's file instead.
            return .failure(PluginLoadError(path: path, reason: e.reason.replacing(staged.path, with: path)))
        }
    }

    private static func check(library: UnsafeMutableRawPointer, image: ELFImage, path: String, granted: [String]) -> Result<LoadedPlugin, PluginLoadError> {
        func refuse(_ reason: String) -> Result<LoadedPlugin, PluginLoadError> {
            .failure(PluginLoadError(path: path, reason: reason))
        }
        let manifest: PluginManifest
        switch readManifest(library: library, path: path) {
        case .success(let m): manifest = m
        case .failure(let e): return .failure(e)
        }
        for capability in manifest.capabilities where !granted.contains(capability) {
            return refuse("plugin \(manifest.name) requires capability \(capability), which is not granted")
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
            let context = CallContext(pluginName: manifest.name)
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
