import CapsuleIsolation
import CapsuleSDK

/// `value` arguments and results of isolated plugins: deep copies in the encoding of
/// capsule_isolation.h. Values that cannot be copied (functions, handles, classes,
/// instances, modules, errors) travel as an index into `opaque`, this call's list of them,
/// and come back as themselves.
extension IsolatedPlugin {
    /// Encodes `v` into `buffer`; the number of bytes, or why it cannot be sent.
    static func encode(_ call: NativeCall, _ v: Value, into buffer: UnsafeMutableRawBufferPointer,
                       opaque: inout [Value]) -> Result<Int, IsolationError> {
        var at = 0
        func put(_ bytes: UnsafeRawBufferPointer) throws {
            guard bytes.count <= buffer.count - at else { throw IsolationError("does not fit") }
            if bytes.count > 0 { (buffer.baseAddress! + at).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            at += bytes.count
        }
        func put<T>(_ value: T) throws { try withUnsafeBytes(of: value) { try put($0) } }
        func value(_ v: Value, depth: Int) throws {
            guard depth <= Int(CAPSULE_ISO_VALUE_DEPTH) else { throw IsolationError("too deep") }
            let kind = call.kind(of: v)
            try put(UInt8(kind.rawValue))
            switch kind {
            case .nil: break
            case .bool: try put(UInt8(call.boolOf(v)! ? 1 : 0))
            case .int: try put(call.intOf(v)!)
            case .float: try put(call.doubleOf(v)!)
            case .string:
                let s = call.stringOf(v)!
                try put(UInt32(s.count))
                try put(UnsafeRawBufferPointer(s))
            case .bytes:
                let b = call.bytesOf(v)!
                try put(UInt32(b.count))
                try put(UnsafeRawBufferPointer(b))
            case .list:
                let n = call.lengthOf(v)!
                try put(UInt32(n))
                for i in 0..<n { try value(call.item(of: v, at: i)!, depth: depth + 1) }
            case .map:
                try put(UInt32(call.lengthOf(v)!))
                var cursor = 0
                while let entry = call.entry(of: v, from: cursor) {
                    try value(entry.key, depth: depth + 1)
                    try value(entry.value, depth: depth + 1)
                    cursor = entry.next
                }
            case .function, .handle, .other:
                try put(UInt32(opaque.count))
                opaque.append(v)
                let name = Array(call.typeName(of: v).utf8)
                try put(UInt32(name.count))
                try name.withUnsafeBytes { try put($0) }
            }
        }
        do {
            try value(v, depth: 0)
            return .success(at)
        } catch let error as IsolationError {
            return .failure(error.message == "too deep"
                ? IsolationError("a value nested more than \(CAPSULE_ISO_VALUE_DEPTH) deep (or containing itself) cannot cross into an isolated plugin")
                : IsolationError("the value does not fit in the isolation buffer (\(buffer.count) bytes left; raise IsolationSettings.bufferSize)"))
        } catch {
            return .failure(IsolationError("\(error)"))
        }
    }

    /// Decodes a value the worker sent (untrusted: every length checked, strings must be
    /// UTF-8, opaque indexes must be this call's). Every value made is kept (rooted) until the
    /// call's value scope closes.
    static func decode(_ call: NativeCall, _ bytes: UnsafeRawBufferPointer, opaque: [Value]) -> Result<Value, IsolationError> {
        var at = 0
        func take(_ n: Int) throws -> UnsafeRawBufferPointer {
            guard n >= 0, n <= bytes.count - at else { throw IsolationError("truncated value") }
            defer { at += n }
            return UnsafeRawBufferPointer(rebasing: bytes[at..<at + n])
        }
        func load<T: FixedWidthInteger>(_: T.Type) throws -> T {
            T(littleEndian: try take(MemoryLayout<T>.size).loadUnaligned(as: T.self))
        }
        func value(depth: Int) throws -> Value {
            guard depth <= Int(CAPSULE_ISO_VALUE_DEPTH) else { throw IsolationError("a value nested too deep") }
            let tag = try load(UInt8.self)
            switch Int32(tag) {
            case CAPSULE_KIND_NIL: return call.nilValue
            case CAPSULE_KIND_BOOL: return call.boolValue(try load(UInt8.self) != 0)
            case CAPSULE_KIND_INT: return keep(call.intValue(try load(Int64.self)))
            case CAPSULE_KIND_FLOAT: return call.doubleValue(Double(bitPattern: try load(UInt64.self)))
            case CAPSULE_KIND_STRING:
                let text = try take(Int(try load(UInt32.self)))
                guard let s = call.validatedStringValue(text.bindMemory(to: UInt8.self)) else { throw IsolationError("a string that is not UTF-8") }
                return keep(s)
            case CAPSULE_KIND_BYTES:
                return keep(call.bytesValue(try take(Int(try load(UInt32.self))).bindMemory(to: UInt8.self)))
            case CAPSULE_KIND_LIST:
                let n = Int(try load(UInt32.self))
                guard n <= bytes.count - at else { throw IsolationError("truncated value") }
                let list = keep(call.newList(capacity: min(n, 1 << 16)))
                for _ in 0..<n { _ = call.append(to: list, try value(depth: depth + 1)) }
                return list
            case CAPSULE_KIND_MAP:
                let n = Int(try load(UInt32.self))
                guard n <= bytes.count - at else { throw IsolationError("truncated value") }
                let map = keep(call.newMap())
                for _ in 0..<n {
                    let k = try value(depth: depth + 1), v = try value(depth: depth + 1)
                    switch call.insert(into: map, k, v) {
                    case nil: break
                    case .refused(let problem)?: throw IsolationError(problem)
                    case .raised?: throw IsolationError("a map key's hash or == method raised an error")
                    }
                }
                return map
            case CAPSULE_KIND_FUNCTION, CAPSULE_KIND_HANDLE, CAPSULE_KIND_OTHER:
                let index = Int(try load(UInt32.self))
                _ = try take(Int(try load(UInt32.self)))
                guard index < opaque.count else { throw IsolationError("an opaque value this call did not send") }
                return opaque[index]
            default:
                throw IsolationError("value kind \(tag)")
            }
        }
        func keep(_ v: Value) -> Value { call.keep(v); return v }
        do {
            let v = try value(depth: 0)
            guard at == bytes.count else { throw IsolationError("\(bytes.count - at) bytes after the value") }
            return .success(v)
        } catch let error as IsolationError {
            return .failure(error)
        } catch {
            return .failure(IsolationError("\(error)"))
        }
    }
}
