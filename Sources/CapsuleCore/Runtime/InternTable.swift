/// The set of interned strings, keyed by content. Weak: the collector removes strings that
/// nothing else marked before it sweeps.
struct InternTable {
    /// nil = empty; `tombstone` = deleted.
    var slots: UnsafeMutablePointer<UnsafeMutablePointer<ObjString>?>? = nil
    var capacity = 0
    var count = 0
    /// A constant address, never dereferenced (computed: a pointer is not `Sendable`).
    @inline(__always) static var tombstone: UnsafeMutablePointer<ObjString> { UnsafeMutablePointer(bitPattern: 8)! }

    func find(_ bytes: UnsafeBufferPointer<UInt8>, hash: UInt64) -> UnsafeMutablePointer<ObjString>? {
        guard let slots else { return nil }
        let mask = capacity - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            guard let s = slots[i] else { return nil }
            if s != InternTable.tombstone && s.pointee.hash == hash && s.pointee.count == bytes.count
                && (bytes.count == 0 || memcmp(s.bytes, bytes.baseAddress!, bytes.count) == 0) {
                return s
            }
            i = (i + 1) & mask
        }
    }

    mutating func insert(_ s: UnsafeMutablePointer<ObjString>) {
        if (count + 1) * 2 > capacity { grow() }
        let mask = capacity - 1
        var i = Int(truncatingIfNeeded: s.pointee.hash) & mask
        while let existing = slots![i], existing != InternTable.tombstone { i = (i + 1) & mask }
        slots![i] = s
        count += 1
    }

    private mutating func grow() {
        let old = slots, oldCap = capacity
        capacity = max(64, capacity * 2)
        slots = .allocate(capacity: capacity)
        slots!.initialize(repeating: nil, count: capacity)
        count = 0
        if let old {
            for i in 0..<oldCap { if let s = old[i], s != InternTable.tombstone { insert(s) } }
            old.deallocate()
        }
    }

    /// Drops every string the collector did not mark.
    mutating func removeUnmarked() {
        guard let slots else { return }
        for i in 0..<capacity {
            if let s = slots[i], s != InternTable.tombstone, !s.pointee.header.marked {
                slots[i] = InternTable.tombstone
                count -= 1
            }
        }
    }

    mutating func free() { slots?.deallocate(); slots = nil; capacity = 0; count = 0 }
}

#if canImport(Glibc)
import Glibc
#endif
