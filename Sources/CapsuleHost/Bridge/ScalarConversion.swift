#if canImport(Glibc)
import Glibc
#endif

/// Conversions of single C values at an address, for the places that are not a call's
/// argument slots: struct fields, callback arguments and results, variadic arguments and
/// `ffi.read`/`ffi.write`. Messages match `ExportBinding.store`'s ("expected i32, got
/// string") and are prefixed by the caller.
enum ScalarConversion {
    /// Writes value `index` of `call` as `kind` (a number, bool or ptr) at `p`. `widened`:
    /// integers narrower than 64 bits are written as a full `ffi_arg` (a closure's result).
    /// Returns nil, or why the value does not fit.
    static func store(_ call: NativeCall, _ index: Int, _ kind: TypeKind, at p: UnsafeMutableRawPointer, widened: Bool = false) -> String? {
        switch kind {
        case .bool:
            guard let b = call.bool(index) else { return "expected bool, got \(describe(call, index))" }
            if widened { p.storeBytes(of: b ? 1 : 0, as: UInt64.self) } else { p.storeBytes(of: b ? 1 : 0, as: UInt8.self) }
        case .i8, .i16, .i32, .i64, .u8, .u16, .u32, .u64:
            guard let v = call.int(index) else { return "expected \(kind.name), got \(describe(call, index))" }
            let range = kind.intRange!
            guard range.contains(v) else { return "expected \(kind.name) (\(range.lowerBound) to \(range.upperBound)), got \(v)" }
            if widened {
                // NOTE: libffi wants narrow integer results as a full register, extended by sign
                // for signed types; `v` is in range, so its Int64 bits are that extension.
                p.storeBytes(of: v, as: Int64.self)
                return nil
            }
            switch kind {
            case .i8, .u8: p.storeBytes(of: UInt8(truncatingIfNeeded: v), as: UInt8.self)
            case .i16, .u16: p.storeBytes(of: UInt16(truncatingIfNeeded: v), as: UInt16.self)
            case .i32, .u32: p.storeBytes(of: UInt32(truncatingIfNeeded: v), as: UInt32.self)
            default: p.storeBytes(of: v, as: Int64.self)
            }
        case .f32:
            guard let d = call.double(index) else { return "expected f32, got \(describe(call, index))" }
            if d.isFinite && abs(d) > Double(Float.greatestFiniteMagnitude) {
                return "expected f32 (at most \(Float.greatestFiniteMagnitude) in magnitude), got \(d)"
            }
            p.storeBytes(of: Float(d), as: Float.self)
        case .f64:
            guard let d = call.double(index) else { return "expected f64, got \(describe(call, index))" }
            p.storeBytes(of: d, as: Double.self)
        case .ptr:
            if call.isNil(index) {
                p.storeBytes(of: 0, as: UInt64.self)
            } else if let v = call.int(index) {
                p.storeBytes(of: v, as: Int64.self)
            } else {
                return "expected ptr (an int address or nil), got \(describe(call, index))"
            }
        default:
            return "\(kind.name) is not supported here"
        }
        return nil
    }

    /// Reads a C value of `kind` (a number, bool, ptr or str) at `p`. A str is copied
    /// (NULL is nil).
    static func load(_ call: NativeCall, _ kind: TypeKind, from p: UnsafeRawPointer) -> Value {
        switch kind {
        case .bool: return call.boolValue(p.load(as: UInt8.self) != 0)
        case .i8: return call.intValue(Int64(p.load(as: Int8.self)))
        case .u8: return call.intValue(Int64(p.load(as: UInt8.self)))
        case .i16: return call.intValue(Int64(p.load(as: Int16.self)))
        case .u16: return call.intValue(Int64(p.load(as: UInt16.self)))
        case .i32: return call.intValue(Int64(p.load(as: Int32.self)))
        case .u32: return call.intValue(Int64(p.load(as: UInt32.self)))
        case .i64: return call.intValue(p.load(as: Int64.self))
        // NOTE: a u64 above Int64.max wraps to a negative script int here (struct fields and
        // callback arguments have no error path); results of calls are checked instead.
        case .u64: return call.intValue(Int64(bitPattern: p.load(as: UInt64.self)))
        case .f32: return call.doubleValue(Double(p.load(as: Float.self)))
        case .f64: return call.doubleValue(p.load(as: Double.self))
        case .ptr:
            let v = p.load(as: Int64.self)
            return v == 0 ? call.nilValue : call.intValue(v)
        case .str:
            guard let s = p.load(as: UnsafePointer<UInt8>?.self) else { return call.nilValue }
            return call.stringValue(UnsafeBufferPointer(start: s, count: strlen(UnsafeRawPointer(s).assumingMemoryBound(to: CChar.self))))
        default:
            return call.nilValue
        }
    }

    /// What a wrong value was, for messages: its type, and the value for floats.
    static func describe(_ call: NativeCall, _ index: Int) -> String {
        if call.isFloat(index), let d = call.double(index) { return "float \(d)" }
        if let h = call.handle(index) { return "handle<\(h.typeName)>" }
        return call.typeName(index)
    }

    /// Writes the map argument `index` as a `type` struct at `p`: every field must be
    /// present (extra keys are refused too, so a misspelt field is caught).
    static func storeStruct(_ call: NativeCall, _ index: Int, _ type: StructType, at p: UnsafeMutableRawPointer) -> String? {
        guard let entries = call.mapEntries(index) else {
            return "expected \(type.name) (a map with fields \(type.fields.map(\.name).joined(separator: ", "))), got \(describe(call, index))"
        }
        for e in entries where !type.fields.contains(where: { $0.name == e.key }) {
            return "expected \(type.name), got a map with the unknown field \(e.key.map { "'\($0)'" } ?? "(a non-string key)")"
        }
        var values: [Value] = []
        for f in type.fields {
            guard let e = entries.first(where: { $0.key == f.name }) else {
                return "expected \(type.name), got a map without the field '\(f.name)'"
            }
            values.append(e.value)
        }
        return call.withValues(values) { fields in
            for (i, f) in type.fields.enumerated() {
                let message: String?
                if case .structure(let inner) = f.type {
                    message = storeStruct(fields, i, inner, at: p + f.offset)
                } else {
                    message = store(fields, i, f.type.kind, at: p + f.offset)
                }
                if let message { return "field '\(f.name)': \(message)" }
            }
            return nil
        }
    }

    /// Reads a `type` struct at `p` as a map from field names to values.
    static func loadStruct(_ call: NativeCall, _ type: StructType, from p: UnsafeRawPointer) -> Value {
        var entries: [(key: String, value: Value)] = []
        for f in type.fields {
            let v: Value
            if case .structure(let inner) = f.type {
                v = loadStruct(call, inner, from: p + f.offset)
            } else {
                v = load(call, f.type.kind, from: p + f.offset)
            }
            call.keep(v)
            entries.append((f.name, v))
        }
        defer { call.release(entries.count) }
        return call.mapValue(entries)
    }
}
