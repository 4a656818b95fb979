#if canImport(Glibc)
import Glibc
#endif
import CapsuleSDK

/// The values lent to a plugin during one call of an export whose signature uses `value`.
///
/// A `capsule_value` is `serial << 32 | (index + 1)`: the index of a VM temporary root,
/// counted from `base`, the number of roots when the call began. Every reference the host
/// hands out is such a root, so its value survives collections until the call returns and
/// the roots are dropped; the serial tells this call's references from another call's.
struct ValueScope {
    let call: NativeCall
    let base: Int
    let serial: UInt32
}

extension CallContext {
    /// Starts lending values for `call`; returns the scope of an enclosing call, for
    /// `closeValues`.
    func openValues(_ call: NativeCall) -> ValueScope? {
        let previous = values
        valueSerial &+= 1
        values = ValueScope(call: call, base: call.rootCount, serial: valueSerial)
        return previous
    }

    /// Drops every reference of the current scope and restores `previous`.
    func closeValues(restoring previous: ValueScope?) {
        if let scope = values { scope.call.dropRoots(to: scope.base) }
        values = previous
    }

    /// A new reference to `v` in the current scope (which must be open).
    func reference(to v: Value) -> capsule_value {
        let scope = values.unsafelyUnwrapped
        let index = scope.call.rootCount - scope.base
        scope.call.keep(v)
        return UInt64(scope.serial) << 32 | UInt64(index + 1)
    }

    /// The value `ref` refers to, or nil when it is not a live reference of the current scope.
    func resolve(_ ref: capsule_value) -> Value? {
        guard let scope = values, ref >> 32 == UInt64(scope.serial) else { return nil }
        let index = Int(ref & 0xFFFF_FFFF) - 1
        guard index >= 0, scope.base + index < scope.call.rootCount else { return nil }
        return scope.call.root(at: scope.base + index)
    }
}

/// The value functions of `capsule_host_api` (value_kind … values_release). Each finds the
/// current call's scope through `CallContext.current`.
enum HostValues {
    /// The current scope's context, or nil having raised (no call, or one without `value`).
    static func context(_ function: String) -> CallContext? {
        guard let context = CallContext.current else {
            HostAPI.writeLog("plugin called host->\(function) outside a call")
            return nil
        }
        guard context.values != nil else {
            fail(context, "host->\(function) can only be used in a call of an export whose signature uses value")
            return nil
        }
        return context
    }

    static func fail(_ context: CallContext, _ message: String) {
        if context.raised == nil { context.raised = message }
    }

    /// The value of `ref` in the current scope, or nil having raised.
    static func resolve(_ ref: capsule_value, _ function: String) -> (CallContext, NativeCall, Value)? {
        guard let context = context(function) else { return nil }
        guard let v = context.resolve(ref) else {
            fail(context, "host->\(function): invalid capsule_value (made in another call, released, or never made)")
            return nil
        }
        return (context, context.values.unsafelyUnwrapped.call, v)
    }

    /// Lends `v` to the current call (having resolved or made it in `context`).
    static func lend(_ context: CallContext, _ v: Value) -> capsule_value { context.reference(to: v) }

    /// Type names as static C strings (value_type_name).
    /// NOTE: `nonisolated(unsafe)` for the pointers: the strings are made once, in the
    /// one-time initialiser, and never written or freed.
    nonisolated(unsafe) static let typeNames: [String: UnsafePointer<CChar>] = {
        var names: [String: UnsafePointer<CChar>] = [:]
        for name in ["nil", "bool", "int", "float", "string", "bytes", "list", "map", "function",
                     "class", "instance", "module", "error", "handle", "upvalue", "value"] {
            names[name] = UnsafePointer(strdup(name)!)
        }
        return names
    }()
    /// What value_bytes returns for empty bytes, whose storage has no address.
    /// NOTE: as above: one byte, made once, never written (plugins get a const pointer).
    nonisolated(unsafe) static let emptyBytes: UnsafeMutablePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()

    // MARK: inspecting

    static let kind: @convention(c) (capsule_value) -> Int32 = { ref in
        guard let (_, call, v) = resolve(ref, "value_kind") else { return -1 }
        return call.kind(of: v).rawValue
    }

    static let typeName: @convention(c) (capsule_value) -> UnsafePointer<CChar>? = { ref in
        guard let (_, call, v) = resolve(ref, "value_type_name") else { return nil }
        return typeNames[call.typeName(of: v)] ?? typeNames["value"]
    }

    static let bool: @convention(c) (capsule_value, UnsafeMutablePointer<Bool>?) -> Int32 = { ref, out in
        guard let (_, call, v) = resolve(ref, "value_bool"), let b = call.boolOf(v) else { return -1 }
        out?.pointee = b
        return 0
    }

    static let int: @convention(c) (capsule_value, UnsafeMutablePointer<Int64>?) -> Int32 = { ref, out in
        guard let (_, call, v) = resolve(ref, "value_int"), let i = call.intOf(v) else { return -1 }
        out?.pointee = i
        return 0
    }

    static let float: @convention(c) (capsule_value, UnsafeMutablePointer<Double>?) -> Int32 = { ref, out in
        guard let (_, call, v) = resolve(ref, "value_float"), let d = call.doubleOf(v) else { return -1 }
        out?.pointee = d
        return 0
    }

    static let string: @convention(c) (capsule_value, UnsafeMutablePointer<Int>?) -> UnsafePointer<CChar>? = { ref, length in
        guard let (_, call, v) = resolve(ref, "value_string"), let s = call.stringOf(v) else { return nil }
        length?.pointee = s.count
        return UnsafeRawPointer(s.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) }
    }

    static let bytes: @convention(c) (capsule_value, UnsafeMutablePointer<Int>?) -> UnsafePointer<UInt8>? = { ref, length in
        guard let (_, call, v) = resolve(ref, "value_bytes"), let b = call.bytesOf(v) else { return nil }
        length?.pointee = b.count
        return UnsafePointer(b.baseAddress ?? emptyBytes)
    }

    static let length: @convention(c) (capsule_value) -> Int64 = { ref in
        guard let (_, call, v) = resolve(ref, "value_length"), let n = call.lengthOf(v) else { return -1 }
        return Int64(n)
    }

    static let listGet: @convention(c) (capsule_value, Int) -> capsule_value = { ref, index in
        guard let (context, call, list) = resolve(ref, "list_get") else { return 0 }
        guard call.kind(of: list) == .list else {
            fail(context, "host->list_get: expected a list, got \(call.typeName(of: list))")
            return 0
        }
        guard let item = call.item(of: list, at: index) else {
            fail(context, "host->list_get: index \(UInt(bitPattern: index)) is out of range for a list of length \(call.lengthOf(list)!)")
            return 0
        }
        return lend(context, item)
    }

    static let mapNext: @convention(c) (capsule_value, UnsafeMutablePointer<Int>?, UnsafeMutablePointer<capsule_value>?,
                                        UnsafeMutablePointer<capsule_value>?) -> Int32 = { ref, cursor, key, value in
        guard let (context, call, map) = resolve(ref, "map_next") else { return -1 }
        guard call.kind(of: map) == .map else {
            fail(context, "host->map_next: expected a map, got \(call.typeName(of: map))")
            return -1
        }
        guard let cursor else { fail(context, "host->map_next: cursor is NULL"); return -1 }
        guard let entry = call.entry(of: map, from: cursor.pointee) else { return 0 }
        cursor.pointee = entry.next
        key?.pointee = lend(context, entry.key)
        value?.pointee = lend(context, entry.value)
        return 1
    }

    static let mapGet: @convention(c) (capsule_value, capsule_value) -> capsule_value = { ref, keyRef in
        guard let (context, call, map) = resolve(ref, "map_get"), let (_, _, key) = resolve(keyRef, "map_get") else { return 0 }
        guard call.kind(of: map) == .map else {
            fail(context, "host->map_get: expected a map, got \(call.typeName(of: map))")
            return 0
        }
        guard let v = call.lookup(in: map, key) else { return 0 }
        if v == NativeCall.failure {
            // An instance key's `hash` or `==` raised: propagated like a failed call_value.
            context.callbackFailed = true
            return 0
        }
        return lend(context, v)
    }

    // MARK: building

    static let newNil: @convention(c) () -> capsule_value = {
        guard let context = context("new_nil") else { return 0 }
        return lend(context, .nil)
    }

    static let newBool: @convention(c) (Bool) -> capsule_value = { b in
        guard let context = context("new_bool") else { return 0 }
        return lend(context, context.values.unsafelyUnwrapped.call.boolValue(b))
    }

    static let newInt: @convention(c) (Int64) -> capsule_value = { i in
        guard let context = context("new_int") else { return 0 }
        return lend(context, context.values.unsafelyUnwrapped.call.intValue(i))
    }

    static let newFloat: @convention(c) (Double) -> capsule_value = { d in
        guard let context = context("new_float") else { return 0 }
        return lend(context, context.values.unsafelyUnwrapped.call.doubleValue(d))
    }

    static let newString: @convention(c) (UnsafePointer<CChar>?, Int) -> capsule_value = { data, length in
        guard let context = context("new_string") else { return 0 }
        guard length >= 0, data != nil || length == 0 else {
            fail(context, "host->new_string: NULL data with length \(UInt(bitPattern: length))")
            return 0
        }
        if let oom = context.values.unsafelyUnwrapped.call.heapShortfall(length) {
            fail(context, "host->new_string: \(oom): \(length) bytes")
            return 0
        }
        let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(data)?.assumingMemoryBound(to: UInt8.self), count: length)
        guard let s = context.values.unsafelyUnwrapped.call.validatedStringValue(bytes) else {
            fail(context, "host->new_string: the text is not valid UTF-8")
            return 0
        }
        return lend(context, s)
    }

    static let newBytes: @convention(c) (UnsafePointer<UInt8>?, Int) -> capsule_value = { data, length in
        guard let context = context("new_bytes") else { return 0 }
        guard length >= 0, data != nil || length == 0 else {
            fail(context, "host->new_bytes: NULL data with length \(UInt(bitPattern: length))")
            return 0
        }
        if let oom = context.values.unsafelyUnwrapped.call.heapShortfall(length) {
            fail(context, "host->new_bytes: \(oom): \(length) bytes")
            return 0
        }
        return lend(context, context.values.unsafelyUnwrapped.call.bytesValue(UnsafeBufferPointer(start: data, count: length)))
    }

    static let newList: @convention(c) (Int) -> capsule_value = { capacity in
        guard let context = context("new_list") else { return 0 }
        // The capacity is a hint: a huge one is not trusted.
        let hint = capacity >= 0 ? min(capacity, 1 << 16) : 0
        return lend(context, context.values.unsafelyUnwrapped.call.newList(capacity: hint))
    }

    static let listPush: @convention(c) (capsule_value, capsule_value) -> Int32 = { listRef, itemRef in
        guard let (context, call, list) = resolve(listRef, "list_push"), let (_, _, item) = resolve(itemRef, "list_push") else { return -1 }
        guard call.append(to: list, item) else {
            fail(context, "host->list_push: expected a list, got \(call.typeName(of: list))")
            return -1
        }
        return 0
    }

    static let newMap: @convention(c) () -> capsule_value = {
        guard let context = context("new_map") else { return 0 }
        return lend(context, context.values.unsafelyUnwrapped.call.newMap())
    }

    static let mapSet: @convention(c) (capsule_value, capsule_value, capsule_value) -> Int32 = { mapRef, keyRef, valueRef in
        guard let (context, call, map) = resolve(mapRef, "map_set"), let (_, _, key) = resolve(keyRef, "map_set"),
              let (_, _, value) = resolve(valueRef, "map_set") else { return -1 }
        switch call.insert(into: map, key, value) {
        case nil: break
        case .refused(let message)?:
            fail(context, "host->map_set: \(message)")
            return -1
        case .raised?:
            context.callbackFailed = true
            return -1
        }
        return 0
    }

    // MARK: keeping and calling (SDK 0.3)

    static let pin: @convention(c) (capsule_value) -> UInt64 = { ref in
        guard let (context, call, v) = resolve(ref, "value_pin") else { return 0 }
        guard let id = call.pin(v) else {
            fail(context, "host->value_pin: this VM has pinned 2^32 values")
            return 0
        }
        return id
    }

    static let pinned: @convention(c) (UInt64) -> capsule_value = { id in
        guard let context = context("pinned_value") else { return 0 }
        switch context.values.unsafelyUnwrapped.call.pinnedValue(id) {
        case .value(let v): return lend(context, v)
        case .otherVM:
            fail(context, "host->pinned_value: id \(id) was pinned in another VM (plugin state is shared by every VM in the process)")
        case .unknown:
            fail(context, "host->pinned_value: id \(id) is not pinned (unpinned, or never made by value_pin)")
        }
        return 0
    }

    static let unpin: @convention(c) (UInt64) -> Void = { id in
        guard let context = context("value_unpin") else { return }
        context.values.unsafelyUnwrapped.call.unpin(id)
    }

    static let callValue: @convention(c) (capsule_value, UnsafePointer<capsule_value>?, Int) -> capsule_value = { ref, args, count in
        guard let (context, call, function) = resolve(ref, "call_value") else { return 0 }
        // After a callback raised, the call is failing: nothing more runs.
        if context.callbackFailed { return 0 }
        guard call.kind(of: function) == .function else {
            fail(context, "host->call_value: expected a function, got \(call.typeName(of: function))")
            return 0
        }
        guard count >= 0, args != nil || count == 0 else {
            fail(context, "host->call_value: NULL args with count \(UInt(bitPattern: count))")
            return 0
        }
        var arguments: [Value] = []
        arguments.reserveCapacity(count)
        for i in 0..<count {
            // Each argument is one of this call's references, so already rooted.
            guard let v = context.resolve(args.unsafelyUnwrapped[i]) else {
                fail(context, "host->call_value: argument \(i + 1) is not a valid capsule_value (made in another call, released, or never made)")
                return 0
            }
            arguments.append(v)
        }
        // The function may call this plugin again: nested calls save and restore the
        // context's current call and value scope.
        guard let result = context.callScript(call, function, arguments) else { return 0 }
        return lend(context, result)
    }

    static let mark: @convention(c) () -> Int = {
        guard let context = context("values_mark") else { return 0 }
        let scope = context.values.unsafelyUnwrapped
        return scope.call.rootCount - scope.base
    }

    static let release: @convention(c) (Int) -> Void = { mark in
        guard let context = context("values_release") else { return }
        let scope = context.values.unsafelyUnwrapped
        if mark >= 0 { scope.call.dropRoots(to: scope.base + mark) }
    }
}
