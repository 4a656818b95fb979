/// A small open-addressed hash table keyed by *interned* strings (compared by address).
/// Used for fields, methods, module exports and built-in method tables. Its memory is owned
/// by the object that embeds it and freed with `free()` when that object is swept.
struct NameTable {
    struct Slot {
        /// Interned string, or nil when the slot is empty.
        var key: UnsafeMutablePointer<ObjString>?
        var value: Value
    }
    var slots: UnsafeMutablePointer<Slot>?
    var count: Int = 0
    /// A power of two (or 0).
    var capacity: Int = 0

    init() { slots = nil }

    /// Bytes held, for the heap's accounting.
    var byteSize: Int { capacity * MemoryLayout<Slot>.stride }

    @inline(__always) func get(_ key: UnsafeMutablePointer<ObjString>) -> Value? {
        guard let slots else { return nil }
        let mask = capacity - 1
        var i = Int(truncatingIfNeeded: key.pointee.hash) & mask
        while true {
            let k = slots[i].key
            if k == key { return slots[i].value }
            if k == nil { return nil }
            i = (i + 1) & mask
        }
    }

    /// Replaces the value of an existing key; false (and no change) when the key is absent.
    @inline(__always) func replaceExisting(_ key: UnsafeMutablePointer<ObjString>, _ value: Value) -> Bool {
        guard let slots else { return false }
        let mask = capacity - 1
        var i = Int(truncatingIfNeeded: key.pointee.hash) & mask
        while true {
            let k = slots[i].key
            if k == key { slots[i].value = value; return true }
            if k == nil { return false }
            i = (i + 1) & mask
        }
    }

    /// Inserts or replaces; returns the change in bytes held.
    @discardableResult
    mutating func set(_ key: UnsafeMutablePointer<ObjString>, _ value: Value) -> Int {
        var grown = 0
        if (count + 1) * 4 > capacity * 3 { grown = grow() }
        let slots = self.slots.unsafelyUnwrapped
        let mask = capacity - 1
        var i = Int(truncatingIfNeeded: key.pointee.hash) & mask
        while true {
            let k = slots[i].key
            if k == key { slots[i].value = value; return grown }
            if k == nil {
                slots[i] = Slot(key: key, value: value)
                count += 1
                return grown
            }
            i = (i + 1) & mask
        }
    }

    private mutating func grow() -> Int {
        let oldSlots = slots, oldCap = capacity
        capacity = max(8, capacity * 2)
        let new = UnsafeMutablePointer<Slot>.allocate(capacity: capacity)
        new.initialize(repeating: Slot(key: nil, value: .nil), count: capacity)
        slots = new
        count = 0
        if let oldSlots {
            for j in 0..<oldCap where oldSlots[j].key != nil {
                set(oldSlots[j].key!, oldSlots[j].value)
            }
            oldSlots.deallocate()
        }
        return (capacity - oldCap) * MemoryLayout<Slot>.stride
    }

    /// Calls `body` for each entry (order unspecified).
    func forEach(_ body: (UnsafeMutablePointer<ObjString>, Value) -> Void) {
        guard let slots else { return }
        for i in 0..<capacity { if let k = slots[i].key { body(k, slots[i].value) } }
    }

    mutating func free() {
        slots?.deallocate()
        slots = nil; capacity = 0; count = 0
    }
}
