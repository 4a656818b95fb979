/// Dynamic script values for the plugin host: what backs the host API's `capsule_value`
/// functions (inspect a value of any type, build lists, maps, strings and bytes). The host
/// roots every value it hands a plugin with `keep` and drops them with `dropRoots(to:)` when
/// the plugin's call returns.

/// The kinds of values a plugin can tell apart; the raw values are `CAPSULE_KIND_*` in
/// capsule.h.
package enum DynamicKind: Int32 {
    case `nil` = 0, bool, int, float, string, bytes, list, map, function, handle
    /// Classes, instances, modules and errors: no accessor yet, `typeName` tells which.
    case other
}

extension NativeCall {
    // MARK: temporary roots

    /// The number of values kept so far (by `keep`, in this VM): a mark for `dropRoots(to:)`.
    package var rootCount: Int { rt.tempRoots.count }
    /// The value kept at position `index` (below `rootCount`).
    package func root(at index: Int) -> Value { rt.tempRoots[index] }
    /// Stops keeping the values kept after `mark` (a `rootCount` read earlier).
    package func dropRoots(to mark: Int) {
        if rt.tempRoots.count > mark { rt.tempRoots.removeLast(rt.tempRoots.count - mark) }
    }

    // MARK: inspecting values

    package func kind(of v: Value) -> DynamicKind {
        if v.isDouble { return .float }
        if v.isInlineInt { return .int }
        if v.isNil { return .nil }
        if v.isBool { return .bool }
        guard v.isObject else { return .other }
        switch v.header.pointee.kind {
        case .string: return .string
        case .int: return .int
        case .list: return .list
        case .map: return .map
        case .bytes: return .bytes
        case .function, .closure, .native, .boundMethod: return .function
        case .handle: return .handle
        default: return .other
        }
    }

    /// The name `type()` gives the value's type.
    package func typeName(of v: Value) -> String { rt.typeName(v) }
    package func boolOf(_ v: Value) -> Bool? { v.isBool ? v == .true : nil }
    package func intOf(_ v: Value) -> Int64? { v.isInt ? v.intValue : nil }
    /// A float's value; ints convert.
    package func doubleOf(_ v: Value) -> Double? { v.isNumber ? v.numberAsDouble : nil }
    /// A string's UTF-8 bytes, NUL-terminated after `count` bytes.
    package func stringOf(_ v: Value) -> UnsafeBufferPointer<UInt8>? {
        v.isString ? v.obj(ObjString.self).buffer : nil
    }
    /// A bytes value's contents (its base address is nil when it is empty).
    package func bytesOf(_ v: Value) -> UnsafeMutableBufferPointer<UInt8>? {
        guard v.isObject(.bytes) else { return nil }
        let b = v.obj(ObjBytes.self)
        return UnsafeMutableBufferPointer(start: b.pointee.data, count: b.pointee.count)
    }
    /// Items of a list, entries of a map, bytes of a string or bytes value; nil otherwise.
    package func lengthOf(_ v: Value) -> Int? {
        switch v.objKind {
        case .list: v.obj(ObjList.self).pointee.count
        case .map: v.obj(ObjMap.self).pointee.live
        case .string: v.obj(ObjString.self).pointee.count
        case .bytes: v.obj(ObjBytes.self).pointee.count
        default: nil
        }
    }
    /// Item `index` of a list; nil when `list` is not a list or the index is out of range.
    package func item(of list: Value, at index: Int) -> Value? {
        guard list.isObject(.list) else { return nil }
        let l = list.obj(ObjList.self)
        guard index >= 0 && index < l.pointee.count else { return nil }
        return l.pointee.items.unsafelyUnwrapped[index]
    }
    /// The entry at or after insertion-order position `cursor` of a map, with the position
    /// after it; nil at the end. The map must not change between calls.
    package func entry(of map: Value, from cursor: Int) -> (key: Value, value: Value, next: Int)? {
        let m = map.obj(ObjMap.self)
        guard let order = m.pointee.order else { return nil }
        var j = max(cursor, 0)
        while j < m.pointee.used {
            let location = Int(order[j])
            if location >= 0 {
                let slot = m.pointee.slots.unsafelyUnwrapped[location]
                return (slot.key, slot.value, j + 1)
            } else if location <= -2 {
                let a = -2 - location
                return (Value(inlineInt: Int64(a)), m.pointee.array.unsafelyUnwrapped[a], j + 1)
            }
            j += 1
        }
        return nil
    }
    /// The value under `key` in a map (nil when absent; the caller checked that it is a map),
    /// or `NativeCall.failure` when an instance key's `hash` or `==` method raised (the error
    /// is pending, as after `callValue`).
    package func lookup(in map: Value, _ key: Value) -> Value? {
        let v = rt.mapGet(map.obj(ObjMap.self), key)
        return v == .empty ? nil : v
    }

    // MARK: building values (keep each one before the next allocation)

    /// A new empty list with room for `capacity` items.
    package func newList(capacity: Int) -> Value { Value(rt.newList(capacity: capacity)) }
    /// Appends to a list; false when `list` is not a list.
    package func append(to list: Value, _ item: Value) -> Bool {
        guard list.isObject(.list) else { return false }
        rt.append(list.obj(ObjList.self), item)
        return true
    }
    package func newMap() -> Value { Value(rt.newMap()) }
    /// Why `insert(into:_:_:)` did not insert.
    package enum InsertFailure: Error {
        /// Not a map, or a nil key.
        case refused(String)
        /// An instance key's `hash` or `==` method raised; the error is pending, as after
        /// `callValue`.
        case raised
    }

    /// Inserts or replaces `key` in a map; nil when done.
    package func insert(into map: Value, _ key: Value, _ value: Value) -> InsertFailure? {
        guard map.isObject(.map) else { return .refused("expected a map, got \(rt.typeName(map))") }
        if key.isNil { return .refused("map key cannot be nil") }
        return rt.mapSet(map.obj(ObjMap.self), key, value) ? nil : .raised
    }
    /// A new string with these bytes, or nil when they are not valid UTF-8.
    package func validatedStringValue(_ bytes: UnsafeBufferPointer<UInt8>) -> Value? {
        var decoder = UTF8()
        var it = bytes.makeIterator()
        loop: while true {
            switch decoder.decode(&it) {
            case .scalarValue: continue
            case .emptyInput: break loop
            case .error: return nil
            }
        }
        return Value(rt.makeString(bytes))
    }
}
