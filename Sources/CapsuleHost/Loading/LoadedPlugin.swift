import CapsuleSDK
import CFFI

/// A plugin the loader accepted and initialised: one version of one plugin. Its library stays
/// open while anything reachable refers to it: the registry (while current), a VM's binding,
/// a call in flight, or a handle it made (docs/plugins.md, "Hot reload"). Immutable after
/// loading apart from those counts, so every VM in the process can share it.
///
/// NOTE: `@unchecked Sendable` because its few `var`s are guarded elsewhere: `bindingCount`
/// and `liveHandles` by the registry's mutex, `swiftModule` and `registry` set once before
/// any VM sees the plugin; the C pointers it holds are the loaded library's, shared by design.
public final class LoadedPlugin: @unchecked Sendable {
    /// The checked descriptor.
    public let manifest: PluginManifest
    /// The real path of the shared object.
    public let path: String
    /// What the shared object's dynamic section says (imports, what keeps it loaded).
    public let image: ELFImage
    /// The dlopen handle; nil for a Swift module (`SwiftModule`), which has no library.
    let library: UnsafeMutableRawPointer?
    /// A Swift module's functions, kept alive as long as their pointers are bound.
    var swiftModule: SwiftModule?
    /// True for a module of Swift functions an embedding program registered.
    public var isSwiftModule: Bool { swiftModule != nil }
    let hostAPI: UnsafeMutablePointer<capsule_host_api>
    /// One prepared call interface per export, in the manifest's order.
    let prepared: [PreparedExport]
    /// How many VMs' bridges bind this version, counting a bridge that rebound while a call
    /// into this version was still on its stack until that call returned (guarded by the
    /// registry's mutex).
    var bindingCount = 0
    /// Handles this version made that are neither closed nor collected (guarded by the
    /// registry's mutex). Each holds a reference to this version (`ownerReference`).
    var liveHandles = 0
    /// The registry that loaded this version; set before any VM sees it.
    weak var registry: PluginRegistry?

    /// Why this version must stay loaded once replaced even when nothing refers to it; empty
    /// when it can be closed then: the dynamic loader would keep it mapped anyway
    /// (`STB_GNU_UNIQUE`, TLS, `NODELETE`).
    var retirementBlockers: [String] { image.unloadBlockers }

    /// Whether a replaced version can be closed now: no VM binds it (or has a call into it
    /// in flight), no handle it made is alive, and the loader would really unmap it.
    var isUnreachable: Bool { bindingCount == 0 && liveHandles == 0 && retirementBlockers.isEmpty }

    /// The owner a handle made by this version carries: a +1 reference and one more live
    /// handle, given back by `releaseHandle` after the handle's destructor ran.
    func ownerReference() -> UnsafeMutableRawPointer {
        registry?.handleCreated(self)
        return Unmanaged.passRetained(self).toOpaque()
    }

    /// The core calls this once per handle, after its destructor (this version's code) ran.
    static let releaseHandle: @convention(c) (UnsafeMutableRawPointer?) -> Void = { owner in
        guard let owner else { return }
        let plugin = Unmanaged<LoadedPlugin>.fromOpaque(owner).takeRetainedValue()
        plugin.registry?.handleReleased(plugin)
    }

    /// The destructor this version declares for handle type `Type` (unqualified).
    func handleDestructor(_ type: String) -> (@convention(c) (UnsafeMutableRawPointer?) -> Void)? {
        manifest.handleTypes.first { $0.name == type }?.destroy
    }

    init(manifest: PluginManifest, path: String, image: ELFImage, library: UnsafeMutableRawPointer?,
         hostAPI: UnsafeMutablePointer<capsule_host_api>, prepared: [PreparedExport]) {
        self.manifest = manifest
        self.path = path
        self.image = image
        self.library = library
        self.hostAPI = hostAPI
        self.prepared = prepared
    }

    /// Closes a version nothing refers to (a reload refused it after its init ran, or it was
    /// replaced and became unreachable): runs its deinit hook, then dlcloses it unless
    /// `image.unloadBlockers` says the loader would keep it mapped anyway. Returns the
    /// blockers (empty when it was closed).
    /// NOTE: only when `isUnreachable` (or never bound): no code, call or handle of it is left.
    @discardableResult
    func discardUnused() -> [String] {
        if let deinitHook = manifest.deinitHook {
            _ = CallContext(pluginName: manifest.name).run { deinitHook() }
        }
        let blockers = image.unloadBlockers
        guard blockers.isEmpty else { return blockers }
        if let library { DynamicLibrary.close(library) }
        hostAPI.deallocate()
        return []
    }
}

/// An export's libffi call interface, prepared once at load: the C argument types (a
/// `bytes` or `buf` parameter is two: pointer and size_t; a `bytes` result adds a trailing
/// `size_t *` for its length) and the `ffi_cif`.
final class PreparedExport {
    let export: PluginManifest.Export
    let cif: UnsafeMutablePointer<ffi_cif>
    let argumentTypes: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>
    /// The number of C arguments.
    let cArgumentCount: Int

    /// Prepares the call interface; nil when libffi refuses it.
    init?(_ export: PluginManifest.Export) {
        var types: [UnsafeMutablePointer<ffi_type>?] = []
        for p in export.signature.parameters {
            if p.isOut { types.append(cffi_type_pointer()); continue }
            switch p.type {
            case .bytes, .buf: types += [cffi_type_pointer(), cffi_type_uint64()]
            default: types.append(PreparedExport.ffiType(p.type))
            }
        }
        // A bytes result: the length comes back through a trailing hidden `size_t *`.
        if export.signature.result == .bytes { types.append(cffi_type_pointer()) }
        self.export = export
        cArgumentCount = types.count
        argumentTypes = .allocate(capacity: max(types.count, 1))
        argumentTypes.initialize(from: types, count: types.count)
        cif = .allocate(capacity: 1)
        let resultType = PreparedExport.ffiType(export.signature.result)
        // A variadic function's own cif is for calls with no extra arguments (CallExtras
        // prepares one per list of extra argument types).
        let status = export.signature.isVariadic
            ? cffi_prep_cif_var(cif, UInt32(types.count), UInt32(types.count), resultType, argumentTypes)
            : cffi_prep_cif(cif, UInt32(types.count), resultType, argumentTypes)
        if status != 0 {
            argumentTypes.deallocate()
            cif.deallocate()
            return nil
        }
    }

    deinit {
        argumentTypes.deallocate()
        cif.deallocate()
    }

    /// The libffi type of a value of `type` (bool is a C99 `bool`: one byte).
    static func ffiType(_ type: ValueType) -> UnsafeMutablePointer<ffi_type> {
        switch type {
        case .void: cffi_type_void()
        case .bool, .u8: cffi_type_uint8()
        case .i8: cffi_type_sint8()
        case .i16: cffi_type_sint16()
        case .u16: cffi_type_uint16()
        case .i32: cffi_type_sint32()
        case .u32: cffi_type_uint32()
        case .i64: cffi_type_sint64()
        case .u64: cffi_type_uint64()
        case .f32: cffi_type_float()
        case .f64: cffi_type_double()
        case .ptr, .str, .bytes, .buf, .handle, .callback: cffi_type_pointer()
        case .structure(let s): s.ffiType
        case .value: cffi_type_uint64()
        }
    }
}
