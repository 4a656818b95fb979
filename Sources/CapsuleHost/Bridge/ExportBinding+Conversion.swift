#if canImport(Glibc)
import Glibc
#endif

/// A converted result, or why it could not be converted.
enum Converted {
    case value(Value)
    case error(String)
}

/// Script values to C arguments and C results back to script values, with the checks the
/// signature implies. Messages read "expected TYPE, got WHAT" and are prefixed by the caller
/// with the module, function and argument index.
extension ExportBinding {
    /// Writes script argument `index` as `type` (declared for `parameter`) into C slot `at`
    /// (and the next one for bytes/buf). Returns nil, or the reason the argument does not fit.
    @inline(__always)
    func store(_ call: NativeCall, _ index: Int, _ type: TypeKind, parameter: Int, at slotIndex: Int) -> String? {
        let p = slot(slotIndex)
        switch type {
        case .bool, .i8, .i16, .i32, .i64, .u8, .u16, .u32, .u64, .f32, .f64:
            return ScalarConversion.store(call, index, type, at: p)
        case .ptr:
            if call.isNil(index) {
                p.storeBytes(of: 0, as: UInt64.self)
            } else if let v = call.int(index) {
                p.storeBytes(of: v, as: Int64.self)
            } else if let b = call.bytes(index) {
                // A bytes value passes its data, borrowed for the call like `buf`.
                p.storeBytes(of: UnsafeRawPointer(b.baseAddress), as: UnsafeRawPointer?.self)
            } else {
                return "expected ptr (an int address, bytes or nil), got \(ScalarConversion.describe(call, index))"
            }
        case .str:
            guard let s = call.string(index) else { return "expected str, got \(ScalarConversion.describe(call, index))" }
            if let base = s.baseAddress, s.count > 0, let nul = memchr(base, 0, s.count) {
                return "expected str, got a string with a NUL byte at index \(UnsafeRawPointer(nul) - UnsafeRawPointer(base))"
            }
            p.storeBytes(of: s.baseAddress.map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(emptyString), as: UnsafeRawPointer.self)
        case .bytes, .buf:
            let buffer: UnsafeRawBufferPointer
            if let b = call.bytes(index) {
                buffer = UnsafeRawBufferPointer(b)
            } else if type == .bytes, let s = call.string(index) {
                buffer = UnsafeRawBufferPointer(s)
            } else {
                return "expected \(type == .bytes ? "bytes (or a string)" : "buf (bytes)"), got \(ScalarConversion.describe(call, index))"
            }
            p.storeBytes(of: buffer.baseAddress, as: UnsafeRawPointer?.self)
            slot(slotIndex + 1).storeBytes(of: UInt64(buffer.count), as: UInt64.self)
        case .handle:
            let expected = handleNames[parameter]
            guard let h = call.handle(index) else { return "expected handle<\(expected)>, got \(ScalarConversion.describe(call, index))" }
            guard h.typeName == expected else { return "expected handle<\(expected)>, got handle<\(h.typeName)>" }
            guard let pointer = h.pointer else { return "expected handle<\(expected)>, got a closed handle<\(expected)>" }
            if let version = replacedVersion, let message = staleHandle(call, index, expected, version) { return message }
            if closesHandle && parameter == 0 && !context.busyHandles.isEmpty && context.busyHandles[pointer] != nil {
                return "expected handle<\(expected)>, got one a blocking call of another fiber is still using (close it once that call returns)"
            }
            p.storeBytes(of: pointer, as: UnsafeMutableRawPointer.self)
        case .value:
            // Any value: the plugin gets a reference lent for the call.
            p.storeBytes(of: context.reference(to: call.value(index)), as: UInt64.self)
        case .void:
            return "void is not an argument type"
        case .structure, .callback:
            // Written by `invokeExtended`, which never gets here with them.
            return "\(type.name) needs the extended call path"
        }
        return nil
    }

    /// Reads a C value of `type` at `p`. `widened`: libffi returns integer results narrower
    /// than a register as a full `ffi_arg`; out-parameters hold exactly the C type.
    /// `handle` indexes `handleNames` for a handle result.
    func convertResult(_ call: NativeCall, _ type: TypeKind, handle: Int, from p: UnsafeMutableRawPointer, widened: Bool) -> Converted {
        switch type {
        case .void: return .value(call.nilValue)
        case .bool, .i8, .u8, .i16, .u16, .i32, .u32, .i64, .f32, .f64, .ptr:
            return .value(ScalarConversion.load(call, type, from: p))
        case .u64:
            // Unlike a struct field or a callback argument, a result has an error path: a u64
            // that does not fit is an error, not a wrapped negative int.
            let v = p.load(as: UInt64.self)
            guard v <= UInt64(Int64.max) else { return .error("the u64 result \(v) does not fit in a script int") }
            return .value(call.intValue(Int64(v)))
        case .str:
            guard let s = p.load(as: UnsafePointer<UInt8>?.self) else { return .value(call.nilValue) }
            let count = strlen(UnsafeRawPointer(s).assumingMemoryBound(to: CChar.self))
            if let oom = call.heapShortfall(count) { return .error("\(oom): the str result has \(count) bytes") }
            return .value(call.stringValue(UnsafeBufferPointer(start: s, count: count)))
        case .handle:
            guard let pointer = p.load(as: UnsafeMutableRawPointer?.self) else { return .value(call.nilValue) }
            let name = handleNames[handle]
            guard let version = callOwner ?? owner else {
                return .value(call.handleValue(pointer, typeName: name, destructor: destructor(name)))
            }
            // The version that ran the call made it: its destructor, and a reference keeping
            // it loaded until the handle is closed or collected.
            let type = String(name.dropFirst(version.manifest.name.count + 1))
            return .value(call.handleValue(pointer, typeName: name, destructor: version.handleDestructor(type),
                                           owner: version.ownerReference(), releaseOwner: LoadedPlugin.releaseHandle))
        case .bytes:
            // Only a function result can be bytes; its length is in the hidden argument's slot.
            guard let length = resultLength else { return .error("bytes is not an out type") }
            guard let data = p.load(as: UnsafePointer<UInt8>?.self) else { return .value(call.nilValue) }
            let count = length.load(as: UInt64.self)
            guard count <= UInt64(Int32.max) else { return .error("the bytes result's length \(count) is too large") }
            // Checked before the copy: a plugin's result may be bigger than the heap has room for.
            if let oom = call.heapShortfall(Int(count)) { return .error("\(oom): the bytes result has \(count) bytes") }
            return .value(call.bytesValue(UnsafeBufferPointer(start: data, count: Int(count))))
        case .buf, .callback:
            return .error("\(type.name) is not a result type")
        case .structure:
            // Read by `invokeExtended`, which knows the struct type.
            return .error("structure results need the extended call path")
        case .value:
            let ref = p.load(as: UInt64.self)
            if ref == 0 { return .value(call.nilValue) }  // CAPSULE_NO_VALUE
            guard let v = context.resolve(ref) else {
                return .error("the result is not a valid capsule_value (made in another call, released, or never made)")
            }
            return .value(v)
        }
    }

    /// After a hot reload: a handle made by a replaced version (its owner is not the current
    /// version) is refused, not handed to code that may lay it out differently. The rule is
    /// the simple sound one: the new version cannot know the old one's memory layout.
    @inline(never)
    func staleHandle(_ call: NativeCall, _ index: Int, _ expected: String, _ version: String) -> String? {
        guard let owner else { return nil }
        guard call.handleOwner(index) != Unmanaged.passUnretained(owner).toOpaque() else { return nil }
        return "handle<\(expected)> was made by an earlier version of the plugin, which has been replaced by \(version) (handles do not cross a reload)"
    }
}
