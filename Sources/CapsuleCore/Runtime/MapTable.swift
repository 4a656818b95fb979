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
        m.pointee.array = nil
        m.pointee.arrayOrder = nil
        m.pointee.arrayCapacity = 0
        m.pointee.arrayCount = 0
        return m
    }

    /// The array-part index of `k`, or -1 when `k` is not an int in the array part's range.
    @inline(__always) func arrayIndex(_ m: UnsafeMutablePointer<ObjMap>, _ k: Value) -> Int {
        guard k.isInlineInt else { return -1 }
        let i = k.asInlineInt
        return i >= 0 && i < Int64(m.pointee.arrayCapacity) ? Int(i) : -1
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

    /// `plain(hash of k)`, or `instance()` when `k` is an instance: instance keys take the
    /// cold path of MapTable+InstanceKeys.swift, which may call the class's `hash` and `==`.
    /// NOTE: the instance test comes after the string and int tests (a `switch` let the
    /// compiler test `.instance` first), so string and int keys never pay for it; closures
    /// rather than an optional hash, so that no "has a hash" flag is materialised and tested
    /// afterwards (measured: +4 instructions per `m.has(k)` with `UInt64?`).
    @inline(__always)
    func withKeyHash<R>(_ k: Value, instance: () -> R, plain: (UInt64) -> R) -> R {
        if k.isObject {
            let kind = k.header.pointee.kind
            if kind == .string { return plain(hashOf(k.obj(ObjString.self))) }
            if kind == .int { return plain(mixHash(UInt64(bitPattern: k.obj(ObjInt.self).pointee.value))) }
            if _slowPath(kind == .instance) { return instance() }
            return plain(mixHash(k.bits))
        }
        if k.isInlineInt { return plain(mixHash(UInt64(bitPattern: k.asInlineInt))) }
        return plain(mixHash(k.bits))
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

    /// The value stored under `key`, `Value.empty` when absent, or `Runtime.failure` after
    /// raising (an instance key's `hash` or `==` method raised: MapTable+InstanceKeys.swift).
    /// With `indexing` (for `m[k]`, whose hit path then tests one value), `.empty` also after
    /// raising, with `indexLookupRaised` set: the caller tests and clears it on its miss path.
    /// NOTE: two functions sharing a body instead of the flag were merged by the compiler
    /// into one with a thunk, 5 instructions more per `m[k]` (callgrind, hashmap.cap).
    @inline(__always)
    func mapGet(_ m: UnsafeMutablePointer<ObjMap>, _ key: Value, indexing: Bool = false) -> Value {
        let k = key.isDouble ? normalizeKey(key) : key
        let a = arrayIndex(m, k)
        if a >= 0 { return m.pointee.array.unsafelyUnwrapped[a] }
        return withKeyHash(k, instance: { indexing ? instanceKeyIndex(m, k) : instanceKeyGet(m, k) }) { h in
            let s = mapFind(m, k, hash: h)
            return s < 0 ? .empty : m.pointee.slots.unsafelyUnwrapped[s].value
        }
    }

    /// Inserts or replaces. The caller has checked that `key` is not nil. False after raising
    /// (an instance key's `hash` or `==` method raised; the map is unchanged).
    @discardableResult
    func mapSet(_ m: UnsafeMutablePointer<ObjMap>, _ key: Value, _ value: Value) -> Bool {
        var k = key
        if k.isDouble { pushRoot(value); k = normalizeKey(k); popRoot() }
        return withKeyHash(k, instance: { instanceKeySet(m, k, value) }) { h in mapSet(m, k, hash: h, value) }
    }

    /// `mapSet` for a key that is not an instance, with its hash.
    @inline(__always)
    private func mapSet(_ m: UnsafeMutablePointer<ObjMap>, _ k: Value, hash h: UInt64, _ value: Value) -> Bool {
        while true {
            let a = arrayIndex(m, k)
            if a >= 0 {
                let array = m.pointee.array!
                if array[a].bits != Value.empty.bits { array[a] = value; return true }
                if m.pointee.used == m.pointee.orderCapacity { growOrder(m); continue }
                let position = m.pointee.used
                array[a] = value
                m.pointee.arrayOrder![a] = Int32(position)
                m.pointee.order![position] = Int32(-2 - a)
                m.pointee.used += 1
                m.pointee.live += 1
                m.pointee.arrayCount += 1
                m.pointee.version += 1
                return true
            }
            let found = mapFind(m, k, hash: h)
            if found >= 0 { m.pointee.slots![found].value = value; return true }
            // Rebuilding may move keys (this one included) into the array part: look again.
            guard roomForNewSlot(m, adding: k) else { continue }
            placeInSlots(m, k, hash: h, value)
            return true
        }
    }

    /// Adds `k`, known to be absent and never in the array part (an instance key, from
    /// `instanceKeySet`), under hash `h`: the end of `mapSet` without its array-part checks.
    func insertIntoSlots(_ m: UnsafeMutablePointer<ObjMap>, _ k: Value, hash h: UInt64, _ value: Value) {
        while !roomForNewSlot(m, adding: k) {}
        placeInSlots(m, k, hash: h, value)
    }

    /// Makes room for one more key `k` in the hash part. False after the table or the order
    /// array was rebuilt (the caller looks for `k` again before placing it), true when a new
    /// key can be placed now.
    @inline(__always)
    private func roomForNewSlot(_ m: UnsafeMutablePointer<ObjMap>, adding k: Value) -> Bool {
        if (m.pointee.filled + 1) * 4 > m.pointee.slotCapacity * 3 {
            if rehash(m, adding: k) { return false }
            // The system refused a bigger table: fill this one's free slots meanwhile
            // (`out of memory` is raised at the next check); one must stay empty.
            if m.pointee.filled + 2 > m.pointee.slotCapacity { fatalOutOfMemory(m.pointee.slotCapacity * 2 * MemoryLayout<MapSlot>.stride) }
        }
        if m.pointee.used == m.pointee.orderCapacity { growOrder(m); return false }
        return true
    }

    /// Places the absent key `k` (hash `h`) in the hash part, after `roomForNewSlot`.
    @inline(__always)
    private func placeInSlots(_ m: UnsafeMutablePointer<ObjMap>, _ k: Value, hash h: UInt64, _ value: Value) {
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

    /// The array part size for the live int keys (plus `adding`): the largest power of two n
    /// such that more than half of the keys 0..<n are present (Lua's rule), or the current
    /// size if that is larger. Only the slot table is scanned: every key of the array part is
    /// below any larger candidate, so `arrayCount` stands for them.
    private func arraySize(_ m: UnsafeMutablePointer<ObjMap>, adding: Value?) -> Int {
        var counts = [Int](repeating: 0, count: 40)  // counts[b]: slot-table keys in [2^(b-1), 2^b)
        func count(_ k: Value) {
            guard k.isInlineInt else { return }
            let i = k.asInlineInt
            guard i >= 0 && i < (1 << 38) else { return }
            counts[i == 0 ? 0 : 64 - i.leadingZeroBitCount] += 1
        }
        if let slots = m.pointee.slots {
            for s in 0..<m.pointee.slotCapacity {
                let k = slots[s].key
                if k.bits != Value.empty.bits && k.bits != Value.tombstone.bits { count(k) }
            }
        }
        if let adding { count(adding) }
        var best = m.pointee.arrayCapacity
        var below = m.pointee.arrayCount
        for b in 0..<counts.count {
            below += counts[b]
            let n = 1 << b
            if n > m.pointee.arrayCapacity && below * 2 > n { best = n }
        }
        return best
    }

    /// Rebuilds the map: grows the array part when dense int keys call for it (moving them
    /// out of the slot table), sizes the slot table for the remaining keys, drops tombstones
    /// and compacts the insertion order.
    /// Returns false, changing nothing, when the system refused the memory (Runtime/
    /// SystemMemory.swift): the map then keeps using the free slots it has.
    @discardableResult
    private func rehash(_ m: UnsafeMutablePointer<ObjMap>, adding: Value?) -> Bool {
        let newArray = arraySize(m, adding: adding)
        let oldArray = m.pointee.arrayCapacity
        func staysInSlots(_ k: Value) -> Bool {
            !(k.isInlineInt && k.asInlineInt >= 0 && k.asInlineInt < Int64(newArray))
        }
        // Keys that stay in the slot table.
        var remaining = adding.map { staysInSlots($0) ? 1 : 0 } ?? 0
        if let oldSlots = m.pointee.slots {
            for s in 0..<m.pointee.slotCapacity {
                let k = oldSlots[s].key
                if k.bits != Value.empty.bits && k.bits != Value.tombstone.bits && staysInSlots(k) { remaining += 1 }
            }
        }
        var capacity = 8
        while capacity < remaining * 2 { capacity *= 2 }  // at most half full after
        // Everything new is allocated before anything changes, so a refusal leaves the map whole.
        guard let (newSlots, info, grown) = allocateRehash(m, capacity: capacity, newArray: newArray) else { return false }
        if let grown {
            let array = grown.array.assumingMemoryBound(to: Value.self)
            for i in oldArray..<newArray { array[i] = .empty }
            m.pointee.array = array
            m.pointee.arrayOrder = grown.order.assumingMemoryBound(to: Int32.self)
            accountExternal((newArray - oldArray) * 12)
            m.pointee.arrayCapacity = newArray
        }
        let oldSlots = m.pointee.slots, oldInfo = m.pointee.info, oldCapacity = m.pointee.slotCapacity
        let slots = newSlots.assumingMemoryBound(to: MapSlot.self)
        for i in 0..<capacity { slots[i].key = .empty }
        let mask = capacity - 1
        var n = 0, filled = 0
        if m.pointee.used == m.pointee.live, let order = m.pointee.order {
            // Nothing removed: keep every entry's place in the insertion order and move only
            // the slot table's entries (O(size of the slot table), not of the whole map).
            if let oldSlots, let oldInfo {
                for s in 0..<oldCapacity {
                    let old = oldSlots[s]
                    if old.key.bits == Value.empty.bits || old.key.bits == Value.tombstone.bits { continue }
                    let position = oldInfo[s].order
                    let a = arrayIndex(m, old.key)
                    if a >= 0 {
                        m.pointee.array![a] = old.value
                        m.pointee.arrayOrder![a] = position
                        order[Int(position)] = Int32(-2 - a)
                        m.pointee.arrayCount += 1
                    } else {
                        var i = probeStart(oldInfo[s].hash, mask: mask)
                        while slots[i].key.bits != Value.empty.bits { i = (i + 1) & mask }
                        slots[i] = old
                        info[i] = MapSlotInfo(hash: oldInfo[s].hash, order: position)
                        order[Int(position)] = Int32(i)
                        filled += 1
                    }
                }
            }
            n = m.pointee.used
        } else if let order = m.pointee.order {
            for j in 0..<m.pointee.used {
                let location = Int(order[j])
                if location == -1 { continue }
                if location <= -2 {
                    let a = -2 - location
                    m.pointee.arrayOrder![a] = Int32(n)
                    order[n] = Int32(location)
                } else {
                    let old = oldSlots![location]
                    let a = arrayIndex(m, old.key)
                    if a >= 0 {
                        m.pointee.array![a] = old.value
                        m.pointee.arrayOrder![a] = Int32(n)
                        order[n] = Int32(-2 - a)
                        m.pointee.arrayCount += 1
                    } else {
                        let hash = oldInfo![location].hash
                        var i = probeStart(hash, mask: mask)
                        while slots[i].key.bits != Value.empty.bits { i = (i + 1) & mask }
                        slots[i] = old
                        info[i] = MapSlotInfo(hash: hash, order: Int32(n))
                        order[n] = Int32(i)
                        filled += 1
                    }
                }
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
        m.pointee.filled = filled
        m.pointee.used = n
        return true
    }

    /// The new slot table and its side array, and the grown array part when it grows; nil
    /// (nothing allocated) when the system refuses any of them.
    private func allocateRehash(_ m: UnsafeMutablePointer<ObjMap>, capacity: Int, newArray: Int)
        -> (UnsafeMutableRawPointer, UnsafeMutablePointer<MapSlotInfo>, (array: UnsafeMutableRawPointer, order: UnsafeMutableRawPointer)?)? {
        for attempt in 0..<2 {
            if attempt == 1 && !systemRefusedMemory() { return nil }
            guard let slots = Runtime.allocateTable(capacity * MemoryLayout<MapSlot>.stride) else { continue }
            guard let info = malloc(capacity * MemoryLayout<MapSlotInfo>.stride) else { free(slots); continue }
            guard newArray > m.pointee.arrayCapacity else {
                return (slots, info.assumingMemoryBound(to: MapSlotInfo.self), nil)
            }
            // NOTE: realloc leaves the old block valid when it fails, so a failed step undoes
            // nothing; a grown array part that is then not used only has spare room.
            guard let array = realloc(m.pointee.array, newArray * 8) else { free(slots); free(info); continue }
            m.pointee.array = array.assumingMemoryBound(to: Value.self)
            guard let order = realloc(m.pointee.arrayOrder, newArray * 4) else { free(slots); free(info); continue }
            m.pointee.arrayOrder = order.assumingMemoryBound(to: Int32.self)
            return (slots, info.assumingMemoryBound(to: MapSlotInfo.self), (array, order))
        }
        return nil
    }

    private func growOrder(_ m: UnsafeMutablePointer<ObjMap>) {
        if m.pointee.live * 2 < m.pointee.used {
            rehash(m, adding: nil)  // compacts the order array too
            if m.pointee.used < m.pointee.orderCapacity { return }
        }
        let (order, bytes) = systemGrow(m.pointee.order, wanted: max(8, m.pointee.orderCapacity * 2) * 4, minimum: (m.pointee.used + 1) * 4)
        let capacity = bytes / 4
        m.pointee.order = order.assumingMemoryBound(to: Int32.self)
        accountExternal((capacity - m.pointee.orderCapacity) * 4)
        m.pointee.orderCapacity = capacity
    }

    /// Removes `key`; returns its value, nil when absent, or `Runtime.failure` after raising
    /// (an instance key's `hash` or `==` method raised; the map is unchanged).
    func mapRemove(_ m: UnsafeMutablePointer<ObjMap>, _ key: Value) -> Value? {
        let k = normalizeKey(key)
        let a = arrayIndex(m, k)
        if a >= 0 {
            let array = m.pointee.array!
            let v = array[a]
            if v.bits == Value.empty.bits { return nil }
            array[a] = .empty
            m.pointee.order![Int(m.pointee.arrayOrder![a])] = -1
            m.pointee.live -= 1
            m.pointee.arrayCount -= 1
            m.pointee.version += 1
            return v
        }
        let s = withKeyHash(k, instance: { instanceKeyFind(m, k)?.slot ?? -2 }) { h in mapFind(m, k, hash: h) }
        if s == -2 { return Runtime.failure }
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
        if let array = m.pointee.array { for i in 0..<m.pointee.arrayCapacity { array[i] = .empty } }
        m.pointee.arrayCount = 0
        m.pointee.filled = 0
        m.pointee.used = 0
        m.pointee.live = 0
        m.pointee.version += 1
    }

    /// Memory for a slot table. Large tables are 2 MiB aligned and marked for transparent huge
    /// pages: lookups land at random places, and with 4 KiB pages each one also missed the TLB.
    static func allocateTable(_ bytes: Int) -> UnsafeMutableRawPointer? {
        let huge = 2 << 20
        if bytes >= huge {
            var p: UnsafeMutableRawPointer? = nil
            if posix_memalign(&p, huge, bytes) == 0, let p {
                _ = madvise(p, bytes, 14 /* MADV_HUGEPAGE */)
                return p
            }
        }
        return malloc(max(bytes, 1))
    }

    /// Calls `body` with each live entry, in insertion order.
    @inline(__always)
    func forEachEntry(_ m: UnsafeMutablePointer<ObjMap>, _ body: (Value, Value) -> Void) {
        guard let order = m.pointee.order else { return }
        for j in 0..<m.pointee.used {
            let location = Int(order[j])
            if location >= 0 {
                let slot = m.pointee.slots.unsafelyUnwrapped[location]
                body(slot.key, slot.value)
            } else if location <= -2 {
                let a = -2 - location
                body(Value(inlineInt: Int64(a)), m.pointee.array.unsafelyUnwrapped[a])
            }
        }
    }
}
