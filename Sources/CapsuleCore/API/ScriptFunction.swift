/// A script function held by Swift: what a function value (a script function, closure,
/// native or bound method) becomes when it is copied out of a VM as `ScriptValue.function`.
///
/// It keeps the function alive in its VM (a pinned root the collector marks) until it is
/// released, and can be called with `VM.call(_:_:)` (also from a host function while the
/// script runs: callbacks and event handlers) or passed back into the same VM as an
/// argument or result. Releasing the last reference, on any thread, unpins the function.
public final class ScriptFunction: Sendable, CustomStringConvertible, CustomReflectable {
    let pins: PinnedValues
    let id: Int
    /// The function object's address: the same function pinned twice compares equal.
    let identity: UInt64
    /// How `str` shows the function (`<fn name>`), computed when it was copied out.
    public let description: String

    init(pins: PinnedValues, value: Value, description: String) {
        self.pins = pins
        self.id = pins.pin(value)
        self.identity = value.bits
        self.description = description
    }

    deinit { pins.release(id) }

    /// Reflection (`dump`, test failure output) shows the description only: the pin table
    /// behind it holds raw VM values and a mutex, which a mirror must not walk.
    public var customMirror: Mirror { Mirror(self, children: ["description": description], displayStyle: .class) }
}

extension VM {
    /// How many values Swift holds pinned in this VM (for tests and diagnostics).
    var pinnedCount: Int { rt.pinned.count }
}
