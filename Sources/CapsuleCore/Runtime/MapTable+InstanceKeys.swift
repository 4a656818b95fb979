/// Instances as map keys: the one place where a map operation may run script code.
///
/// An instance whose class defines both `hash()` (returning an int) and `==(other)` is a key
/// by value: each lookup, insert or removal with it as the key calls its `hash()` once, then
/// its `==` with each stored key that has the same hash and is itself such an instance (so
/// such keys never equal strings, numbers or identity keys). Any other instance is a key by
/// identity and no script code runs. `mapGet`, `mapSet` and `mapRemove` (MapTable.swift)
/// send every instance key here, from the `.instance` case of `withKeyHash`.
///
/// Script code runs in the middle of a map operation, so:
/// - the map, the key and the value being stored stay rooted while it runs (the GC may run);
/// - the hash is computed before the table is read, so a `hash` that changes the map is
///   harmless; an `==` that changes the table (an insert, removal or clear: `version`, or a
///   new slot array) makes the operation raise `map changed while its keys were compared`
///   instead of reading a table that moved;
/// - an error raised by `hash` or `==` is the operation's error, and the operation changes
///   nothing (errors are returned as `Runtime.failure` / nil, as the callers document);
/// - deep recursion (a `hash` that looks itself up) ends at the usual call-depth limit.
extension Runtime {
    /// The `hash` and `==` methods of `k`'s class when `k` is an instance key by value.
    func valueKeyMethods(_ k: Value) -> (hash: Value, equals: Value)? {
        guard k.isObject(.instance) else { return nil }
        let methods = k.obj(ObjInstance.self).pointee.klass.pointee.methods
        guard methods.count > 0, let h = methods.get(nameHash), let e = methods.get(nameEquals) else { return nil }
        return (h, e)
    }

    /// `k.hash()` mixed like an int key's hash; nil after raising (`hash` raised, or returned
    /// something that is not an int: a TypeError).
    private func scriptHash(_ k: Value, _ method: Value) -> UInt64? {
        guard let r = callOperator(k, method, []) else { return nil }
        if r.isInlineInt { return mixHash(UInt64(bitPattern: r.asInlineInt)) }
        if r.isObject(.int) { return mixHash(UInt64(bitPattern: r.obj(ObjInt.self).pointee.value)) }
        raise("hash() must return an int, got \(typeName(r))", kind: .type)
        return nil
    }

    /// The slot of instance key `k` in `m` (-1 when absent) and the hash it is stored under;
    /// nil after raising.
    @inline(never)
    func instanceKeyFind(_ m: UnsafeMutablePointer<ObjMap>, _ k: Value) -> (slot: Int, hash: UInt64)? {
        guard let methods = valueKeyMethods(k) else {
            let h = mixHash(k.bits)
            return (mapFind(m, k, hash: h), h)
        }
        pushRoot(Value(m))
        pushRoot(k)
        defer { popRoot(2) }
        guard let h = scriptHash(k, methods.hash) else { return nil }
        guard let slots = m.pointee.slots, let info = m.pointee.info else { return (-1, h) }
        let mask = m.pointee.slotCapacity - 1
        let version = m.pointee.version
        let h32 = UInt32(truncatingIfNeeded: h)
        var i = probeStart(h32, mask: mask)
        while true {
            let stored = slots[i].key
            if stored.bits == k.bits { return (i, h) }
            if stored.bits == Value.empty.bits { return (-1, h) }
            if info[i].hash == h32 && valueKeyMethods(stored) != nil {
                // `stored` is rooted by the call (an argument), even if `==` removes it.
                guard let same = callOperator(k, methods.equals, [stored]) else { return nil }
                // NOTE: `slots` and `info` are only read again when the table is the same one.
                guard m.pointee.version == version && m.pointee.slots == slots else {
                    raise("map changed while its keys were compared (by an == method of a key)")
                    return nil
                }
                if same.isTruthy { return (i, h) }
            }
            i = (i + 1) & mask
        }
    }

    /// `mapGet` for an instance key: the value, `.empty` when absent, `Runtime.failure`
    /// after raising.
    @inline(never)
    func instanceKeyGet(_ m: UnsafeMutablePointer<ObjMap>, _ k: Value) -> Value {
        guard let found = instanceKeyFind(m, k) else { return Runtime.failure }
        return found.slot < 0 ? .empty : m.pointee.slots.unsafelyUnwrapped[found.slot].value
    }

    /// `mapGet(indexing: true)` for an instance key: `.empty` when absent and after raising,
    /// then with `indexLookupRaised` set.
    @inline(never)
    func instanceKeyIndex(_ m: UnsafeMutablePointer<ObjMap>, _ k: Value) -> Value {
        let v = instanceKeyGet(m, k)
        guard v.bits == Runtime.failure.bits else { return v }
        indexLookupRaised = true
        return .empty
    }

    /// `mapSet` for an instance key: false after raising (the map unchanged).
    @inline(never)
    func instanceKeySet(_ m: UnsafeMutablePointer<ObjMap>, _ k: Value, _ value: Value) -> Bool {
        pushRoot(k)
        pushRoot(value)
        defer { popRoot(2) }
        guard let found = instanceKeyFind(m, k) else { return false }
        if found.slot >= 0 {
            m.pointee.slots.unsafelyUnwrapped[found.slot].value = value
        } else {
            insertIntoSlots(m, k, hash: found.hash, value)
        }
        return true
    }
}
