#if canImport(Glibc)
import Glibc
#endif

/// Operations on `ObjMap`, the insertion-ordered hash map behind map values.
extension Runtime {
    func newMap(capacity: Int = 0) -> UnsafeMutablePointer<ObjMap> {
        let m = allocateObject(kind: .map, size: MemoryLayout<ObjMap>.stride).assumingMemoryBound(to: ObjMap.self)
        m.pointee.slots = nil
        m.pointee.info = nil
        m.pointee.slotCapacity = 0
        m.pointee.filled = 0
        m.pointee.order = nil
        m.pointee.used = 0
        m.pointee.orderCapacity = 0
        m.pointee.live = 0
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
        // splitmix64's finalizer: sequential or strided ints spread over the whole table.
        var z = x ^ (x >> 30)
        z = z &* 0xBF58_476D_1CE4_E5B9
        z ^= z >> 27
        z = z &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// First slot to probe for a 32-bit hash: Fibonacci hashing takes the well-mixed high bits
    /// of a product, so weak low bits (FNV, regular keys) cannot build long probe clusters.
    @inline(__always) func probeStart(_ h32: UInt32, mask: Int) -> Int {
        Int(truncatingIfNeeded: (UInt64(h32) &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
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

    /// Slot holding `key` (already normalised), or -1.
    @inline(__always)
    func mapFind(_ m: UnsafeMutablePointer<ObjMap>, _ key: Value, hash: UInt64) -> Int {
        guard let slots = m.pointee.slots else { return -1 }
        let mask = m.pointee.slotCapacity - 1
        let h32 = UInt32(truncatingIfNeeded: hash)
        var i = probeStart(h32, mask: mask)
        while true {
            let k = slots[i].key
            if k.bits == key.bits { return i }
            if k.bits == Value.empty.bits { return -1 }
            // Different objects can still be equal keys (two strings with the same text).
            if k.isObject && key.isObject && m.pointee.info.unsafelyUnwrapped[i].hash == h32 && keysEqual(k, key) {
                return i
            }
            i = (i + 1) & mask
        }
    }

    /// The value stored under `key`, or `Value.empty` when absent.
    @inline(__always)
    func mapGet(_ m: UnsafeMutablePointer<ObjMap>, _ key: Value) -> Value {
        let k = key.isDouble ? normalizeKey(key) : key
        let s = mapFind(m, k, hash: hashKey(k))
        return s < 0 ? .empty : m.pointee.slots.unsafelyUnwrapped[s].value
    }

    /// Inserts or replaces. The caller has checked that `key` is not nil.
    func mapSet(_ m: UnsafeMutablePointer<ObjMap>, _ key: Value, _ value: Value) {
        var k = key
        if k.isDouble { pushRoot(value); k = normalizeKey(k); popRoot() }
        let h = hashKey(k)
        let found = mapFind(m, k, hash: h)
        if found >= 0 { m.pointee.slots![found].value = value; return }
        if (m.pointee.filled + 1) * 4 > m.pointee.slotCapacity * 3 { rehash(m, minimumLive: m.pointee.live + 1) }
        if m.pointee.used == m.pointee.orderCapacity { growOrder(m) }
        let slots = m.pointee.slots!
        let mask = m.pointee.slotCapacity - 1
        let h32 = UInt32(truncatingIfNeeded: h)
        var i = probeStart(h32, mask: mask)
        // Reuse the first tombstone on the probe path, else the empty slot that ended it.
        while slots[i].key.bits != Value.empty.bits && slots[i].key.bits != Value.tombstone.bits { i = (i + 1) & mask }
        if slots[i].key.bits == Value.empty.bits { m.pointee.filled += 1 }
        let position = m.pointee.used
        slots[i] = MapSlot(key: k, value: value)
        m.pointee.info![i] = MapSlotInfo(hash: h32, order: Int32(position))
        m.pointee.order![position] = Int32(i)
        m.pointee.used += 1
        m.pointee.live += 1
        m.pointee.version += 1
    }

    /// Rebuilds the slot table for at least `minimumLive` entries, dropping tombstones and
    /// compacting the insertion order.
    private func rehash(_ m: UnsafeMutablePointer<ObjMap>, minimumLive: Int) {
        var capacity = 8
        while capacity < minimumLive * 2 { capacity *= 2 }  // at most half full after
        let oldSlots = m.pointee.slots, oldInfo = m.pointee.info, oldCapacity = m.pointee.slotCapacity
        let slots = Runtime.allocateTable(capacity * MemoryLayout<MapSlot>.stride).assumingMemoryBound(to: MapSlot.self)
        let info = malloc(capacity * MemoryLayout<MapSlotInfo>.stride)!.assumingMemoryBound(to: MapSlotInfo.self)
        for i in 0..<capacity { slots[i].key = .empty }
        let mask = capacity - 1
        var n = 0
        if let oldSlots, let oldInfo, let order = m.pointee.order {
            for j in 0..<m.pointee.used {
                let s = Int(order[j])
                if s < 0 { continue }
                let hash = oldInfo[s].hash
                var i = probeStart(hash, mask: mask)
                while slots[i].key.bits != Value.empty.bits { i = (i + 1) & mask }
                slots[i] = oldSlots[s]
                info[i] = MapSlotInfo(hash: hash, order: Int32(n))
                order[n] = Int32(i)
                n += 1
            }
        }
        free(oldSlots)
        free(oldInfo)
        let perSlot = MemoryLayout<MapSlot>.stride + MemoryLayout<MapSlotInfo>.stride
        accountExternal((capacity - oldCapacity) * perSlot)
        m.pointee.slots = slots
        m.pointee.info = info
        m.pointee.slotCapacity = capacity
        m.pointee.filled = n
        m.pointee.used = n
    }

    private func growOrder(_ m: UnsafeMutablePointer<ObjMap>) {
        if m.pointee.live * 2 < m.pointee.used && m.pointee.slots != nil {
            rehash(m, minimumLive: m.pointee.live + 1)  // compacts the order array too
            if m.pointee.used < m.pointee.orderCapacity { return }
        }
        let capacity = max(8, m.pointee.orderCapacity * 2)
        m.pointee.order = realloc(m.pointee.order, capacity * 4)!.assumingMemoryBound(to: Int32.self)
        accountExternal((capacity - m.pointee.orderCapacity) * 4)
        m.pointee.orderCapacity = capacity
    }

    /// Removes `key`; returns its value or nil when absent.
    func mapRemove(_ m: UnsafeMutablePointer<ObjMap>, _ key: Value) -> Value? {
        let k = normalizeKey(key)
        let s = mapFind(m, k, hash: hashKey(k))
        guard s >= 0 else { return nil }
        let slots = m.pointee.slots!
        let v = slots[s].value
        m.pointee.order![Int(m.pointee.info![s].order)] = -1
        slots[s].key = .tombstone
        slots[s].value = .nil
        m.pointee.live -= 1
        m.pointee.version += 1
        return v
    }

    func mapClear(_ m: UnsafeMutablePointer<ObjMap>) {
        if let slots = m.pointee.slots { for i in 0..<m.pointee.slotCapacity { slots[i].key = .empty; slots[i].value = .nil } }
        m.pointee.filled = 0
        m.pointee.used = 0
        m.pointee.live = 0
        m.pointee.version += 1
    }

    /// Memory for a slot table. Large tables are 2 MiB aligned and marked for transparent huge
    /// pages: lookups land at random places, and with 4 KiB pages each one also missed the TLB.
    static func allocateTable(_ bytes: Int) -> UnsafeMutableRawPointer {
        let huge = 2 << 20
        if bytes >= huge {
            var p: UnsafeMutableRawPointer? = nil
            if posix_memalign(&p, huge, bytes) == 0, let p {
                _ = madvise(p, bytes, 14 /* MADV_HUGEPAGE */)
                return p
            }
        }
        return malloc(max(bytes, 1))!
    }

    /// Calls `body` with each live entry, in insertion order.
    @inline(__always)
    func forEachEntry(_ m: UnsafeMutablePointer<ObjMap>, _ body: (Value, Value) -> Void) {
        guard let slots = m.pointee.slots, let order = m.pointee.order else { return }
        for j in 0..<m.pointee.used {
            let s = Int(order[j])
            if s >= 0 { body(slots[s].key, slots[s].value) }
        }
    }
}
