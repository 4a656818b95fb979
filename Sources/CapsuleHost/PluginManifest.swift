import CapsuleSDK

/// Everything a plugin's descriptor says, copied into Swift and checked: what
/// `capsule plugin inspect` prints and what the loader binds. Reading it runs no plugin code
/// beyond the entry function.
public struct PluginManifest: Sendable {
    /// One export: its script-visible name, parsed signature, flags and doc line.
    public struct Export: Sendable {
        /// The script-visible name.
        public var name: String
        /// The parsed signature.
        public var signature: Signature
        /// CAPSULE_EXPORT_* flags.
        public var flags: UInt32
        /// The one-line description, or nil.
        public var doc: String?
        /// The C function (as `void (*)(void)`; the signature says its real type).
        nonisolated(unsafe) var function: @convention(c) () -> Void

        /// True when the first argument (a handle) is destroyed after the call.
        public var closesHandle: Bool { flags & UInt32(CAPSULE_EXPORT_CLOSES_HANDLE) != 0 }
    }

    /// A handle type: its name in signatures and its destructor.
    public struct HandleType: Sendable {
        /// The name used in `handle<Name>`.
        public var name: String
        nonisolated(unsafe) var destroy: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
    }

    /// The module name scripts import.
    public var name: String
    /// The plugin's semantic version.
    public var version: String
    /// The plugin's description ("" when it gives none).
    public var description: String
    /// The ABI version the plugin was built for (always the host's, once checked).
    public var abiVersion: UInt32
    /// Capabilities the plugin declares it requires.
    public var capabilities: [String]
    /// The exports, in descriptor order.
    public var exports: [Export]
    /// The handle types, in descriptor order.
    public var handleTypes: [HandleType]
    nonisolated(unsafe) var initHook: (@convention(c) (UnsafePointer<capsule_host_api>?) -> Int32)?
    /// Runs before the library is closed.
    nonisolated(unsafe) var deinitHook: (@convention(c) () -> Void)?
    /// Hot reload: the old version's state, as bytes allocated with `host->alloc` (or NULL).
    nonisolated(unsafe) var saveState: (@convention(c) (UnsafeMutablePointer<Int>?) -> UnsafeMutableRawPointer?)?
    /// Hot reload: the new version receives the old version's bytes and version; 0 is success.
    nonisolated(unsafe) var restoreState: (@convention(c) (UnsafeRawPointer?, Int, UnsafePointer<CChar>?) -> Int32)?

    /// The ABI version this host implements.
    public static let hostABIVersion = UInt32(CAPSULE_ABI_VERSION)
    /// sizeof(capsule_plugin) as this host knows it.
    public static let hostStructSize = UInt32(MemoryLayout<capsule_plugin>.size)

    /// Reads and checks the descriptor `entry` returned. Checks, in order: ABI version,
    /// struct size, name, every handle type, every export (name syntax, duplicates, non-NULL
    /// function, signature, known handle types).
    static func read(_ descriptor: UnsafePointer<capsule_plugin>?, path: String) -> Result<PluginManifest, PluginLoadError> {
        func refuse(_ reason: String) -> Result<PluginManifest, PluginLoadError> {
            .failure(PluginLoadError(path: path, reason: reason))
        }
        guard let descriptor else { return refuse("capsule_plugin_entry returned NULL") }
        // NOTE: only the first two fields are read before the checks pass: their layout is
        // the one thing every ABI version keeps.
        let head = UnsafeRawPointer(descriptor)
        let abi = head.load(as: UInt32.self)
        guard abi == hostABIVersion else {
            return refuse("the plugin was built for ABI version \(abi), but this host wants ABI version \(hostABIVersion)")
        }
        let size = head.load(fromByteOffset: 4, as: UInt32.self)
        guard size == hostStructSize else {
            return refuse("the plugin's descriptor is \(size) bytes, but this host wants \(hostStructSize) (sizeof(capsule_plugin)); rebuild it against this host's capsule.h")
        }
        let d = descriptor.pointee
        guard let namePointer = d.name, case let name = String(cString: namePointer), isIdentifier(name) else {
            return refuse("the plugin's name is missing or not an identifier")
        }
        var manifest = PluginManifest(
            name: name,
            version: d.version.map { String(cString: $0) } ?? "",
            description: d.description.map { String(cString: $0) } ?? "",
            abiVersion: abi, capabilities: [], exports: [], handleTypes: [], initHook: d.`init`)
        manifest.deinitHook = d.deinit
        manifest.saveState = d.save_state
        manifest.restoreState = d.restore_state

        if var c = d.capabilities {
            while let capability = c.pointee {
                manifest.capabilities.append(String(cString: capability))
                c += 1
            }
        }

        if d.handle_type_count > 0 && d.handle_types == nil {
            return refuse("plugin \(name) declares \(d.handle_type_count) handle types but handle_types is NULL")
        }
        for i in 0..<d.handle_type_count {
            let t = d.handle_types[i]
            guard let p = t.name, case let typeName = String(cString: p), isIdentifier(typeName) else {
                return refuse("plugin \(name): handle type \(i) has a missing or invalid name")
            }
            if manifest.handleTypes.contains(where: { $0.name == typeName }) {
                return refuse("plugin \(name) declares handle type '\(typeName)' twice")
            }
            manifest.handleTypes.append(HandleType(name: typeName, destroy: t.destroy))
        }

        if d.export_count > 0 && d.exports == nil {
            return refuse("plugin \(name) declares \(d.export_count) exports but exports is NULL")
        }
        for i in 0..<d.export_count {
            let e = d.exports[i]
            guard let p = e.name, case let exportName = String(cString: p), isIdentifier(exportName) else {
                let shown = e.name.map { "'\(String(cString: $0))'" } ?? "NULL"
                return refuse("plugin \(name): export \(i) has name \(shown), which is not an identifier ([A-Za-z_][A-Za-z0-9_]*)")
            }
            if manifest.exports.contains(where: { $0.name == exportName }) {
                return refuse("plugin \(name) exports '\(exportName)' twice")
            }
            guard let function = e.fn else {
                return refuse("export '\(exportName)' of plugin \(name) has a NULL function pointer")
            }
            guard let signatureText = e.signature.map({ String(cString: $0) }) else {
                return refuse("export '\(exportName)' of plugin \(name) has no signature")
            }
            let signature: Signature
            switch Signature.parse(signatureText) {
            case .success(let s): signature = s
            case .failure(let error):
                return refuse("malformed signature '\(signatureText)' for export '\(exportName)': \(error.message) at column \(error.column)")
            }
            let types = signature.parameters.map(\.type) + [signature.result]
            for case .handle(let typeName) in types where !manifest.handleTypes.contains(where: { $0.name == typeName }) {
                return refuse("export '\(exportName)' of plugin \(name) uses handle<\(typeName)>, which the plugin does not declare")
            }
            let export = Export(name: exportName, signature: signature, flags: e.flags,
                                doc: e.doc.map { String(cString: $0) }, function: function)
            if export.closesHandle, !(signature.parameters.first.map { if case .handle = $0.type { !$0.isOut } else { false } } ?? false) {
                return refuse("export '\(exportName)' of plugin \(name) closes a handle, but its first parameter is not a handle")
            }
            manifest.exports.append(export)
        }
        return .success(manifest)
    }
}
