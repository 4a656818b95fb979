import CapsuleSDK
import CFFI

/// A plugin the loader accepted and initialised: its library stays open and its exports'
/// call interfaces stay prepared for the life of the process (unloading arrives with hot
/// reload). Immutable after loading, so every VM in the process can share it.
public final class LoadedPlugin: @unchecked Sendable {
    /// The checked descriptor.
    public let manifest: PluginManifest
    /// The real path of the shared object.
    public let path: String
    /// What the shared object's dynamic section says (imports, what keeps it loaded).
    public let image: ELFImage
    let library: UnsafeMutableRawPointer
    let hostAPI: UnsafeMutablePointer<capsule_host_api>
    /// One prepared call interface per export, in the manifest's order.
    let prepared: [PreparedExport]

    init(manifest: PluginManifest, path: String, image: ELFImage, library: UnsafeMutableRawPointer,
         hostAPI: UnsafeMutablePointer<capsule_host_api>, prepared: [PreparedExport]) {
        self.manifest = manifest
        self.path = path
        self.image = image
        self.library = library
        self.hostAPI = hostAPI
        self.prepared = prepared
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
        let status = cffi_prep_cif(cif, UInt32(types.count), PreparedExport.ffiType(export.signature.result), argumentTypes)
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
        case .ptr, .str, .bytes, .buf, .handle: cffi_type_pointer()
        case .value: cffi_type_uint64()
        }
    }
}
