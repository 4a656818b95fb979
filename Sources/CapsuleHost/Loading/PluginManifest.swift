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
        var function: @convention(c) () -> Void

        /// True when the first argument (a handle) is destroyed after the call.
        public var closesHandle: Bool { flags & UInt32(CAPSULE_EXPORT_CLOSES_HANDLE) != 0 }
        /// True when the export may block: called from a fiber that can wait, it runs on the
        /// host's blocking pool (Bridge/ExportBinding+Blocking.swift).
        public var isBlocking: Bool { flags & UInt32(CAPSULE_EXPORT_BLOCKING) != 0 }
        /// True when the export may call `host->park` (HostAPI/HostAPI+Tokens.swift).
        public var mayPark: Bool { flags & UInt32(CAPSULE_EXPORT_PARKS) != 0 }

        /// Why `signature` cannot run on the blocking pool, or nil: `value` and callbacks
        /// need the VM's thread; structs, `...` and `!errno` take the extended call path,
        /// which the pool does not run yet.
        static func blockingRefusal(_ signature: Signature) -> String? {
            let types = signature.parameters.map(\.type) + [signature.result]
            if types.contains(.value) { return "value needs the VM's thread" }
            if types.contains(where: { $0.kind == .callback }) { return "a callback needs the VM's thread" }
            if signature.needsGeneralPath { return "structs, '...' and !errno do not run on the blocking pool yet" }
            return nil
        }
    }

    /// A handle type: its name in signatures and its destructor.
    public struct HandleType: Sendable {
        /// The name used in `handle<Name>`.
        public var name: String
        var destroy: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
    }

    /// The module name scripts import.
    public var name: String
    /// The plugin's semantic version.
    public var version: String
    /// The plugin's description ("" when it gives none).
    public var description: String
    /// The ABI version the plugin was built for (always the host's, once checked).
    public var abiVersion: UInt32
    /// Capabilities the plugin declares: each is required, or, written `optional:CAPABILITY`,
    /// used on whatever the plugin is granted (see `PluginManifest+Placement.swift`).
    public var capabilities: [String]
    /// The exports, in descriptor order.
    public var exports: [Export]
    /// The handle types, in descriptor order.
    public var handleTypes: [HandleType]
    /// The struct types the signatures may name, in descriptor order.
    public var structTypes: [StructType] = []
    var initHook: (@convention(c) (UnsafePointer<capsule_host_api>?) -> Int32)?
    /// Runs before the library is closed.
    var deinitHook: (@convention(c) () -> Void)?
    /// Hot reload: the old version's state, as bytes allocated with `host->alloc` (or NULL).
    var saveState: (@convention(c) (UnsafeMutablePointer<Int>?) -> UnsafeMutableRawPointer?)?
    /// Hot reload: the new version receives the old version's bytes and version; 0 is success.
    var restoreState: (@convention(c) (UnsafeRawPointer?, Int, UnsafePointer<CChar>?) -> Int32)?

    /// The ABI version this host implements.
    public static let hostABIVersion = UInt32(CAPSULE_ABI_VERSION)
    /// sizeof(capsule_plugin) as this host knows it.
    public static let hostStructSize = UInt32(MemoryLayout<capsule_plugin>.size)
    /// The sizes of every `capsule_plugin` layout of this ABI version, oldest first: the
    /// descriptor only grows at the end (SDK 0.1 ended at `restore_state`).
    static let knownStructSizes = [UInt32(MemoryLayout<capsule_plugin>.offset(of: \.struct_types)!), hostStructSize]

    /// Reads and checks the descriptor `entry` returned. Checks, in order: ABI version,
    /// struct size, name, every handle type, every export (name syntax, duplicates, non-NULL
    /// function, signature, known handle types).
    static func read(_ descriptor: UnsafePointer<capsule_plugin>?, path: String) -> Result<PluginManifest, PluginLoadError> {
        guard let descriptor else { return .failure(PluginLoadError(path: path, reason: "capsule_plugin_entry returned NULL")) }
        // NOTE: only the first two fields are read before the checks pass: their layout is
        // the one thing every ABI version keeps.
        let head = UnsafeRawPointer(descriptor)
        let abi = head.load(as: UInt32.self)
        let size = head.load(fromByteOffset: 4, as: UInt32.self)
        if let reason = headRefusal(abi: abi, size: size) { return .failure(PluginLoadError(path: path, reason: reason)) }
        // An older layout: copy only the bytes it has; the members after them read as absent.
        var fields = capsule_plugin()
        withUnsafeMutableBytes(of: &fields) { $0.copyMemory(from: UnsafeRawBufferPointer(start: head, count: Int(size))) }
        return check(DescriptorFields(fields), path: path)
    }

    /// Why a descriptor with this ABI version and size is refused, or nil.
    static func headRefusal(abi: UInt32, size: UInt32) -> String? {
        guard abi == hostABIVersion else {
            return "the plugin was built for ABI version \(abi), but this host wants ABI version \(hostABIVersion)"
        }
        guard knownStructSizes.contains(size) else {
            return "the plugin's descriptor is \(size) bytes, but this host wants \(hostStructSize) (sizeof(capsule_plugin)); rebuild it against this host's capsule.h"
        }
        return nil
    }

    /// Checks a descriptor's fields (after the ABI checks passed), whether read from the C
    /// struct in this process or sent by an isolated plugin's worker.
    static func check(_ d: DescriptorFields, path: String) -> Result<PluginManifest, PluginLoadError> {
        func refuse(_ reason: String) -> Result<PluginManifest, PluginLoadError> {
            .failure(PluginLoadError(path: path, reason: reason))
        }
        guard let name = d.name, isIdentifier(name) else {
            return refuse("the plugin's name is missing or not an identifier")
        }
        var manifest = PluginManifest(
            name: name, version: d.version ?? "", description: d.description ?? "",
            abiVersion: hostABIVersion, capabilities: d.capabilities, exports: [], handleTypes: [], initHook: d.initHook)
        manifest.deinitHook = d.deinitHook
        manifest.saveState = d.saveState
        manifest.restoreState = d.restoreState

        if d.handleTypeCount > 0 && !d.hasHandleTypes {
            return refuse("plugin \(name) declares \(d.handleTypeCount) handle types but handle_types is NULL")
        }
        for i in 0..<d.handleTypeCount {
            let t = d.handleType(i)
            guard let typeName = t.name, isIdentifier(typeName) else {
                return refuse("plugin \(name): handle type \(i) has a missing or invalid name")
            }
            if manifest.handleTypes.contains(where: { $0.name == typeName }) {
                return refuse("plugin \(name) declares handle type '\(typeName)' twice")
            }
            manifest.handleTypes.append(HandleType(name: typeName, destroy: t.destroy))
        }

        switch readStructTypes(d, plugin: name) {
        case .refused(let reason): return refuse(reason)
        case .declared(let types): manifest.structTypes = types
        }
        let structs = manifest.structTypes
        let structNamed: (String) -> StructType? = { name in structs.first { $0.name == name } }

        if d.exportCount > 0 && !d.hasExports {
            return refuse("plugin \(name) declares \(d.exportCount) exports but exports is NULL")
        }
        for i in 0..<d.exportCount {
            let e = d.export(i)
            guard let exportName = e.name, isIdentifier(exportName) else {
                let shown = e.name.map { "'\($0)'" } ?? "NULL"
                return refuse("plugin \(name): export \(i) has name \(shown), which is not an identifier ([A-Za-z_][A-Za-z0-9_]*)")
            }
            if manifest.exports.contains(where: { $0.name == exportName }) {
                return refuse("plugin \(name) exports '\(exportName)' twice")
            }
            guard let function = e.function else {
                return refuse("export '\(exportName)' of plugin \(name) has a NULL function pointer")
            }
            guard let signatureText = e.signature else {
                return refuse("export '\(exportName)' of plugin \(name) has no signature")
            }
            let signature: Signature
            switch Signature.parse(signatureText, structs: structNamed) {
            case .success(let s): signature = s
            case .failure(let error):
                return refuse("malformed signature '\(signatureText)' for export '\(exportName)': \(error.message) at column \(error.column)")
            }
            let types = signature.parameters.map(\.type) + [signature.result]
            for case .handle(let typeName) in types where !manifest.handleTypes.contains(where: { $0.name == typeName }) {
                return refuse("export '\(exportName)' of plugin \(name) uses handle<\(typeName)>, which the plugin does not declare")
            }
            let export = Export(name: exportName, signature: signature, flags: e.flags, doc: e.doc, function: function)
            if export.closesHandle, !(signature.parameters.first.map { if case .handle = $0.type { !$0.isOut } else { false } } ?? false) {
                return refuse("export '\(exportName)' of plugin \(name) closes a handle, but its first parameter is not a handle")
            }
            if export.mayPark {
                let why: String? = export.isBlocking ? "it is also flagged CAPSULE_EXPORT_BLOCKING"
                    : export.closesHandle ? "it also closes a handle"
                    : signature.needsGeneralPath ? "structs, callbacks, '...' and !errno are not supported with it" : nil
                if let why { return refuse("export '\(exportName)' of plugin \(name) is flagged CAPSULE_EXPORT_PARKS, but \(why)") }
            }
            if export.isBlocking, let why = Export.blockingRefusal(signature) {
                return refuse("export '\(exportName)' of plugin \(name) is flagged CAPSULE_EXPORT_BLOCKING, but its signature '\(signature)' cannot run on a pool thread: \(why)")
            }
            manifest.exports.append(export)
        }
        return .success(manifest)
    }
}

/// A descriptor's fields before they are checked. In-process they are read from the C
/// struct on demand (an export is read only when the checks reach it, as before); for an
/// isolated plugin they come from the worker's message (`IsolatedDescriptor`), where
/// function pointers are only "present or NULL".
struct DescriptorFields {
    struct HandleTypeFields {
        var name: String?
        var destroy: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
    }
    struct ExportFields {
        var name: String?
        var signature: String?
        var function: (@convention(c) () -> Void)?
        var flags: UInt32
        var doc: String?
    }
    var name: String?
    var version: String?
    var description: String?
    var capabilities: [String]
    var handleTypeCount: Int
    var hasHandleTypes: Bool
    var handleType: (Int) -> HandleTypeFields
    var structTypeCount = 0
    var hasStructTypes = false
    /// Struct type `i`'s name and field list text.
    var structType: (Int) -> (name: String?, fields: String?) = { _ in (nil, nil) }
    var exportCount: Int
    var hasExports: Bool
    var export: (Int) -> ExportFields
    var initHook: (@convention(c) (UnsafePointer<capsule_host_api>?) -> Int32)?
    /// Hot reload's hooks (in-process only; an isolated plugin's are not reached yet).
    var deinitHook: (@convention(c) () -> Void)? = nil
    var saveState: (@convention(c) (UnsafeMutablePointer<Int>?) -> UnsafeMutableRawPointer?)? = nil
    var restoreState: (@convention(c) (UnsafeRawPointer?, Int, UnsafePointer<CChar>?) -> Int32)? = nil
}

extension DescriptorFields {
    /// The fields of a C descriptor whose ABI version and size were checked.
    init(_ d: capsule_plugin) {
        let text: (UnsafePointer<CChar>?) -> String? = { $0.map { String(cString: $0) } }
        var capabilities: [String] = []
        if var c = d.capabilities {
            while let capability = c.pointee {
                capabilities.append(String(cString: capability))
                c += 1
            }
        }
        let handleTypes = d.handle_types, exports = d.exports
        self.init(
            name: text(d.name), version: text(d.version), description: text(d.description),
            capabilities: capabilities,
            handleTypeCount: d.handle_type_count, hasHandleTypes: handleTypes != nil,
            handleType: { i in HandleTypeFields(name: text(handleTypes![i].name), destroy: handleTypes![i].destroy) },
            exportCount: d.export_count, hasExports: exports != nil,
            export: { i in
                let e = exports![i]
                return ExportFields(name: text(e.name), signature: text(e.signature), function: e.fn, flags: e.flags, doc: text(e.doc))
            },
            initHook: d.`init`)
        let structTypes = d.struct_types
        structTypeCount = d.struct_type_count
        hasStructTypes = structTypes != nil
        structType = { i in (text(structTypes![i].name), text(structTypes![i].fields)) }
        deinitHook = d.deinit
        saveState = d.save_state
        restoreState = d.restore_state
    }
}
