/// Copying values between the VM heap and `ScriptValue` for the embedding API.
extension Runtime {
    /// Deepest nesting of lists and maps copied in either direction; deeper values (and
    /// cycles, which are infinitely deep) are an error rather than a native stack overflow.
    static let maxConversionDepth = 200

    static let tooDeepMessage = "value is nested too deeply to convert (more than \(maxConversionDepth) levels)"

    /// A deep copy of `v`, or nil after raising when it nests deeper than the limit (a
    /// cycle). Does not allocate, so `v` needs no extra rooting.
    func scriptValue(from v: Value, depth: Int = 0) -> ScriptValue? {
        if v.isDouble { return .float(v.asDouble) }
        if v.isInlineInt { return .int(v.asInlineInt) }
        if v.isNil { return .nil }
        if v.isBool { return .bool(v == .true) }
        guard v.isObject else { return .nil }
        switch v.header.pointee.kind {
        case .int: return .int(v.intValue)
        case .string: return .string(v.obj(ObjString.self).string)
        case .bytes:
            let b = v.obj(ObjBytes.self)
            guard let data = b.pointee.data, b.pointee.count > 0 else { return .bytes([]) }
            return .bytes(Array(UnsafeBufferPointer(start: data, count: b.pointee.count)))
        case .list:
            guard depth < Runtime.maxConversionDepth else { raise(Runtime.tooDeepMessage); return nil }
            let l = v.obj(ObjList.self)
            var items: [ScriptValue] = []
            items.reserveCapacity(l.pointee.count)
            for j in 0..<l.pointee.count {
                guard let item = scriptValue(from: l.pointee.items![j], depth: depth + 1) else { return nil }
                items.append(item)
            }
            return .list(items)
        case .map:
            guard depth < Runtime.maxConversionDepth else { raise(Runtime.tooDeepMessage); return nil }
            let m = v.obj(ObjMap.self)
            var entries: [(Value, Value)] = []
            forEachEntry(m) { k, v in entries.append((k, v)) }
            var pairs: [(key: ScriptValue, value: ScriptValue)] = []
            for (key, value) in entries {
                guard let k = scriptValue(from: key, depth: depth + 1),
                      let x = scriptValue(from: value, depth: depth + 1) else { return nil }
                pairs.append((k, x))
            }
            return .map(pairs)
        case .closure, .native, .boundMethod, .function:
            return .function(ScriptFunction(pins: pinned, value: v, description: describe(v, quoted: false)))
        default:
            return .object(typeName: typeName(v), description: describe(v, quoted: false))
        }
    }

    /// A new VM value equal to `s`, or nil after raising (`.object` values, nil map keys,
    /// nesting deeper than the limit). The result is not rooted: root it before allocating.
    func value(from s: ScriptValue, depth: Int = 0) -> Value? {
        switch s {
        case .nil: return .nil
        case .bool(let b): return Value(bool: b)
        case .int(let i): return intValue(i)
        case .float(let d): return Value(d)
        case .string(let t): return Value(makeString(t))
        case .bytes(let data):
            let b = newBytes(count: data.count)
            for (j, x) in data.enumerated() { b.pointee.data![j] = x }
            return Value(b)
        case .list(let items):
            guard depth < Runtime.maxConversionDepth else { raise(Runtime.tooDeepMessage); return nil }
            let l = newList(capacity: items.count)
            pushRoot(Value(l))
            defer { popRoot() }
            for item in items {
                guard let x = value(from: item, depth: depth + 1) else { return nil }
                append(l, x)
            }
            return Value(l)
        case .map(let pairs):
            guard depth < Runtime.maxConversionDepth else { raise(Runtime.tooDeepMessage); return nil }
            let m = newMap()
            pushRoot(Value(m))
            defer { popRoot() }
            for (k, x) in pairs {
                if case .nil = k { raise("map key cannot be nil"); return nil }
                guard let key = value(from: k, depth: depth + 1) else { return nil }
                pushRoot(key)
                defer { popRoot() }
                guard let v = value(from: x, depth: depth + 1) else { return nil }
                pushRoot(v)
                defer { popRoot() }
                guard mapSet(m, key, v) else { return nil }
            }
            return Value(m)
        case .function(let f):
            guard f.pins === pinned, let v = pinned.value(f.id) else {
                raise("cannot pass \(f.description) into another VM than the one it came from")
                return nil
            }
            return v
        case .object(let typeName, _):
            raise("cannot pass a \(typeName) from Swift into a script")
            return nil
        }
    }

    /// The message and the full report of the pending error, which is then cleared. The
    /// message is the error's message string; any other thrown value is rendered as `str`
    /// renders it (its `str` method included), as in the report's first line.
    func errorParts() -> (message: String, report: String) {
        let error = pendingError
        var message: String? = nil
        if error.isObject(.error) {
            let m = error.obj(ObjError.self).pointee.message
            if m.isString { message = m.obj(ObjString.self).string }
        }
        let (shown, report) = errorReportParts()
        return (message ?? shown, report)
    }
}
