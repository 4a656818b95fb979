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
        case .bool:
            guard let b = call.bool(index) else { return "expected bool, got \(got(call, index))" }
            p.storeBytes(of: b ? 1 : 0, as: UInt8.self)
        case .i8, .i16, .i32, .i64, .u8, .u16, .u32, .u64:
            guard let v = call.int(index) else { return "expected \(type.name), got \(got(call, index))" }
            let range = type.intRange!
            guard range.contains(v) else { return "expected \(type.name) (\(range.lowerBound) to \(range.upperBound)), got \(v)" }
            switch type {
            case .i8, .u8: p.storeBytes(of: UInt8(truncatingIfNeeded: v), as: UInt8.self)
            case .i16, .u16: p.storeBytes(of: UInt16(truncatingIfNeeded: v), as: UInt16.self)
            case .i32, .u32: p.storeBytes(of: UInt32(truncatingIfNeeded: v), as: UInt32.self)
            default: p.storeBytes(of: v, as: Int64.self)
            }
        case .f32:
            guard let d = call.double(index) else { return "expected f32, got \(got(call, index))" }
            if d.isFinite && abs(d) > Double(Float.greatestFiniteMagnitude) {
                return "expected f32 (at most \(Float.greatestFiniteMagnitude) in magnitude), got \(d)"
            }
            p.storeBytes(of: Float(d), as: Float.self)
        case .f64:
            guard let d = call.double(index) else { return "expected f64, got \(got(call, index))" }
            p.storeBytes(of: d, as: Double.self)
        case .ptr:
            if call.isNil(index) {
                p.storeBytes(of: 0, as: UInt64.self)
            } else if let v = call.int(index) {
                p.storeBytes(of: v, as: Int64.self)
            } else {
                return "expected ptr (an int address or nil), got \(got(call, index))"
            }
        case .str:
            guard let s = call.string(index) else { return "expected str, got \(got(call, index))" }
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
                return "expected \(type == .bytes ? "bytes (or a string)" : "buf (bytes)"), got \(got(call, index))"
            }
            p.storeBytes(of: buffer.baseAddress, as: UnsafeRawPointer?.self)
            slot(slotIndex + 1).storeBytes(of: UInt64(buffer.count), as: UInt64.self)
        case .handle:
            let expected = handleNames[parameter]
            guard let h = call.handle(index) else { return "expected handle<\(expected)>, got \(got(call, index))" }
            guard h.typeName == expected else { return "expected handle<\(expected)>, got handle<\(h.typeName)>" }
            guard let pointer = h.pointer else { return "expected handle<\(expected)>, got a closed handle<\(expected)>" }
            p.storeBytes(of: pointer, as: UnsafeMutableRawPointer.self)
        case .value:
            // Any value: the plugin gets a reference lent for the call.
            p.storeBytes(of: context.reference(to: call.value(index)), as: UInt64.self)
        case .void:
            return "void is not an argument type"
        }
        return nil
    }

    /// What a wrong argument was, for messages: its type, and the value for numbers.
    func got(_ call: NativeCall, _ index: Int) -> String {
        if call.isFloat(index), let d = call.double(index) { return "float \(d)" }
        if let h = call.handle(index) { return "handle<\(h.typeName)>" }
        return call.typeName(index)
    }

    /// Reads a C value of `type` at `p`. `widened`: libffi returns integer results narrower
    /// than a register as a full `ffi_arg`; out-parameters hold exactly the C type.
    /// `handle` indexes `handleNames` for a handle result.
    func convertResult(_ call: NativeCall, _ type: TypeKind, handle: Int, from p: UnsafeMutableRawPointer, widened: Bool) -> Converted {
        switch type {
        case .void: return .value(call.nilValue)
        case .bool: return .value(call.boolValue(p.load(as: UInt8.self) != 0))
        case .i8: return .value(call.intValue(Int64(p.load(as: Int8.self))))
        case .u8: return .value(call.intValue(Int64(p.load(as: UInt8.self))))
        case .i16: return .value(call.intValue(Int64(p.load(as: Int16.self))))
        case .u16: return .value(call.intValue(Int64(p.load(as: UInt16.self))))
        case .i32: return .value(call.intValue(Int64(p.load(as: Int32.self))))
        case .u32: return .value(call.intValue(Int64(p.load(as: UInt32.self))))
        case .i64: return .value(call.intValue(p.load(as: Int64.self)))
        case .u64:
            let v = p.load(as: UInt64.self)
            guard v <= UInt64(Int64.max) else { return .error("the u64 result \(v) does not fit in a script int") }
            return .value(call.intValue(Int64(v)))
        case .f32: return .value(call.doubleValue(Double(p.load(as: Float.self))))
        case .f64: return .value(call.doubleValue(p.load(as: Double.self)))
        case .ptr:
            let v = p.load(as: Int64.self)
            return .value(v == 0 ? call.nilValue : call.intValue(v))
        case .str:
            guard let s = p.load(as: UnsafePointer<UInt8>?.self) else { return .value(call.nilValue) }
            return .value(call.stringValue(UnsafeBufferPointer(start: s, count: strlen(UnsafeRawPointer(s).assumingMemoryBound(to: CChar.self)))))
        case .handle:
            guard let pointer = p.load(as: UnsafeMutableRawPointer?.self) else { return .value(call.nilValue) }
            let name = handleNames[handle]
            return .value(call.handleValue(pointer, typeName: name, destructor: destructor(name)))
        case .bytes:
            // Only a function result can be bytes; its length is in the hidden argument's slot.
            guard let length = resultLength else { return .error("bytes is not an out type") }
            guard let data = p.load(as: UnsafePointer<UInt8>?.self) else { return .value(call.nilValue) }
            let count = length.load(as: UInt64.self)
            guard count <= UInt64(Int32.max) else { return .error("the bytes result's length \(count) is too large") }
            return .value(call.bytesValue(UnsafeBufferPointer(start: data, count: Int(count))))
        case .buf:
            return .error("\(type.name) is not a result type")
        case .value:
            let ref = p.load(as: UInt64.self)
            if ref == 0 { return .value(call.nilValue) }  // CAPSULE_NO_VALUE
            guard let v = context.resolve(ref) else {
                return .error("the result is not a valid capsule_value (made in another call, released, or never made)")
            }
            return .value(v)
        }
    }
}
