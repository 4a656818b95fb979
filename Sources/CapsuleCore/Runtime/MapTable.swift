#if canImport(Glibc)
import Glibc
#endif

/// Operations on `ObjMap`, the insertion-ordered hash map behind map values.
extension Runtime {
    func newMap(capacity: Int = 0) -> UnsafeMutablePointer<ObjMap> {
        let m = allocateObject(kind: .map, size: MemoryLayout<ObjMap>.stride).assumingMemoryBound(to: ObjMap.self)
        m.pointee.entries = nil
        m.pointee.used = 0
        m.pointee.entryCapacity = 0
        m.pointee.live = 0
        m.pointee.index = nil
        m.pointee.indexCapacity = 0
        m.pointee.version = 0
        return m
    }

    /// The key a value is stored under: floats equal to an int become that int.
    @inline(__always) func normalizeKey(_ k: Value) -> Value {
        if k.isDouble {
            let d = k.asDouble
            if d == d.rounded(.towardZero) && d >= -9.223372036854775808e18 && d < 9.223372036854775808e18 {
                return intValue(Int64(d))
            }
        }
        return k
    }

    @inline(__always) func hashKey(_ k: Value) -> UInt64 {
        if k.isObject {
            switch k.header.pointee.kind {
            case .string: return hashOf(k.obj(ObjString.self))
            case .int: return mixHash(UInt64(bitPattern: k.obj(ObjInt.self).pointee.value))
            default: return mixHash(k.bits)
            }
        }
        if k.isInlineInt { return mixHash(UInt64(bitPattern: k.asInlineInt)) }
        return mixHash(k.bits)
    }

    @inline(__always) func mixHash(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Key equality: identical bits, equal string contents, or equal boxed ints.
    @inline(__always) func keysEqual(_ a: Value, _ b: Value) -> Bool {
        if a.bits == b.bits { return true }
        guard a.isObject && b.isObject else { return false }
        let ka = a.header.pointee.kind
        guard ka == b.header.pointee.kind else { return false }
        if ka == .string {
            let sa = a.obj(ObjString.self), sb = b.obj(ObjString.self)
            return sa.pointee.count == sb.pointee.count && memcmp(sa.bytes, sb.bytes, sa.pointee.count) == 0
        }
        if ka == .int { return a.obj(ObjInt.self).pointee.value == b.obj(ObjInt.self).pointee.value }
        return false
    }

    /// Index of the entry holding `key` (already normalised), or -1.
    func mapFind(_ m: UnsafeMutablePointer<ObjMap>, _ key: Value, hash: UInt64) -> Int {
        guard let index = m.pointee.index else { return -1 }
        let mask = m.pointee.indexCapacity - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        let entries = m.pointee.entries!
        while true {
            let e = Int(index[i])
            if e == 0 { return -1 }
            if e > 0 {
                let slot = entries[e - 1]
                if slot.hash == hash && keysEqual(slot.key, key) { return e - 1 }
            }
            i = (i + 1) & mask
        }
    }

    /// The value stored under `key`, or `Value.empty` when absent.
    @inline(__always)
    func mapGet(_ m: UnsafeMutablePointer<ObjMap>, _ key: Value) -> Value {
        let k = key.isDouble ? normalizeKey(key) : key
        let e = mapFind(m, k, hash: hashKey(k))
        return e < 0 ? .empty : m.pointee.entries.unsafelyUnwrapped[e].value
    }

    /// Inserts or replaces. The caller has checked that `key` is not nil.
    func mapSet(_ m: UnsafeMutablePointer<ObjMap>, _ key: Value, _ value: Value) {
        var k = key
        if k.isDouble { pushRoot(value); k = normalizeKey(k); popRoot() }
        let h = hashKey(k)
        let e = mapFind(m, k, hash: h)
        if e >= 0 { m.pointee.entries![e].value = value; return }
        if m.pointee.used == m.pointee.entryCapacity { growMap(m) }
        let n = m.pointee.used
        m.pointee.entries![n] = MapSlot(key: k, value: value, hash: h)
        m.pointee.used += 1
        m.pointee.live += 1
        m.pointee.version += 1
        insertIndex(m, entry: n, hash: h)
    }

    private func insertIndex(_ m: UnsafeMutablePointer<ObjMap>, entry: Int, hash: UInt64) {
        let index = m.pointee.index!
        let mask = m.pointee.indexCapacity - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while index[i] > 0 { i = (i + 1) & mask }
        index[i] = Int32(entry + 1)
    }

    /// Makes room for one more entry: compacts deleted entries or doubles the arrays.
    private func growMap(_ m: UnsafeMutablePointer<ObjMap>) {
        let live = m.pointee.live
        let newCap = live * 2 < m.pointee.entryCapacity ? m.pointee.entryCapacity : max(8, m.pointee.entryCapacity * 2)
        let newEntries = malloc(newCap * MemoryLayout<MapSlot>.stride)!.assumingMemoryBound(to: MapSlot.self)
        var n = 0
        if let old = m.pointee.entries {
            for i in 0..<m.pointee.used where old[i].key != .empty { newEntries[n] = old[i]; n += 1 }
            free(old)
        }
        let indexCap = newCap * 2
        let newIndex = calloc(indexCap, 4)!.assumingMemoryBound(to: Int32.self)
        free(m.pointee.index)
        accountExternal((newCap - m.pointee.entryCapacity) * MemoryLayout<MapSlot>.stride + (indexCap - m.pointee.indexCapacity) * 4)
        m.pointee.entries = newEntries
        m.pointee.entryCapacity = newCap
        m.pointee.index = newIndex
        m.pointee.indexCapacity = indexCap
        m.pointee.used = n
        for i in 0..<n { insertIndex(m, entry: i, hash: newEntries[i].hash) }
    }

    /// Removes `key`; returns its value or nil when absent.
    func mapRemove(_ m: UnsafeMutablePointer<ObjMap>, _ key: Value) -> Value? {
        let k = normalizeKey(key)
        let h = hashKey(k)
        guard let index = m.pointee.index else { return nil }
        let mask = m.pointee.indexCapacity - 1
        var i = Int(truncatingIfNeeded: h) & mask
        let entries = m.pointee.entries!
        while true {
            let e = Int(index[i])
            if e == 0 { return nil }
            if e > 0 && entries[e - 1].hash == h && keysEqual(entries[e - 1].key, k) {
                let v = entries[e - 1].value
                entries[e - 1].key = .empty
                entries[e - 1].value = .nil
                index[i] = -1
                m.pointee.live -= 1
                m.pointee.version += 1
                return v
            }
            i = (i + 1) & mask
        }
    }

    func mapClear(_ m: UnsafeMutablePointer<ObjMap>) {
        if let index = m.pointee.index { memset(index, 0, m.pointee.indexCapacity * 4) }
        m.pointee.used = 0
        m.pointee.live = 0
        m.pointee.version += 1
    }
}
