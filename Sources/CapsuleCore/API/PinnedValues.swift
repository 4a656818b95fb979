import Synchronization

/// Values pinned in one VM, marked as roots by the collector: the `ScriptFunction`s Swift
/// holds (`Runtime.pinned`) and the values plugins keep between calls (`Runtime.pluginPins`).
/// Released from any thread (a `ScriptFunction` dies wherever its last reference goes), so
/// the table is behind a mutex; the collector copies it out before marking.
final class PinnedValues: Sendable {
    private struct State {
        var values: [Int: Value] = [:]
        var next = 0
    }
    private let state = Mutex(State())
    /// Process-unique: the high half of the ids plugins get (`NativeCall.pin`), so an id
    /// pinned in one VM is told from one pinned in another.
    let tag: UInt64

    /// NOTE: process-wide on purpose: it only hands out tags, unique across VMs.
    private static let tags = Atomic<UInt32>(0)

    init() { tag = UInt64(Self.tags.add(1, ordering: .relaxed).newValue) }

    func pin(_ v: Value) -> Int {
        state.withLock { s in
            s.next += 1
            s.values[s.next] = v
            return s.next
        }
    }

    func value(_ id: Int) -> Value? { state.withLock { $0.values[id] } }

    func release(_ id: Int) { _ = state.withLock { $0.values.removeValue(forKey: id) } }

    /// Every pinned value (a copy, taken under the lock).
    var all: [Value] { state.withLock { Array($0.values.values) } }

    var count: Int { state.withLock { $0.values.count } }
}

/// What `NativeCall.pinnedValue` found for an id.
package enum PinnedLookup {
    case value(Value)
    /// The id was pinned in another VM.
    case otherVM
    /// Never pinned, or unpinned.
    case unknown
}

extension NativeCall {
    /// Pins `v` in this VM until `unpin` (or the VM goes away): a nonzero id naming the VM and
    /// the value, for plugins that keep values between calls. Nil when this VM has pinned
    /// 2^32 values.
    package func pin(_ v: Value) -> UInt64? {
        let id = rt.pluginPins.pin(v)
        guard id <= Int(UInt32.max) else { rt.pluginPins.release(id); return nil }
        return rt.pluginPins.tag << 32 | UInt64(id)
    }

    /// The value pinned under `id` in this VM.
    package func pinnedValue(_ id: UInt64) -> PinnedLookup {
        // Tags start at 1: an id whose high half is 0 was never made by `pin`.
        guard id >> 32 == rt.pluginPins.tag else { return id >> 32 == 0 ? .unknown : .otherVM }
        guard let v = rt.pluginPins.value(Int(id & 0xFFFF_FFFF)) else { return .unknown }
        return .value(v)
    }

    /// Releases a pin made by `pin` in this VM (other ids are ignored).
    package func unpin(_ id: UInt64) {
        guard id >> 32 == rt.pluginPins.tag else { return }
        rt.pluginPins.release(Int(id & 0xFFFF_FFFF))
    }
}
