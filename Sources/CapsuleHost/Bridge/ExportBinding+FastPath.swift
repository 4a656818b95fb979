/// Typed entries for the commonest signatures: the VM calls them directly (a `NativeEntry`
/// with the binding as its target), and they call the C function with its real type instead
/// of through `ffi_call`. No closure, no `[Value]`, no reference counting, no allocation
/// (except boxing an int result outside the inline range). An argument that does not fit the
/// fast form (a boxed int, a wrong type) falls back to `invoke`, which makes the same checks
/// and messages as every other call; so does a call whose C function raised.
///
/// The entry loads `function` from the binding on every call: the binding is the slot a hot
/// reload repoints, and the VM's function value never holds the C address itself.
extension ExportBinding {
    /// The typed entry for this export's shape, or nil when there is none (the VM then calls
    /// the general path, `invoke`, through the definition's body).
    func entry() -> NativeEntry? {
        guard export.flags == 0 else { return nil }
        let signature = export.signature
        // errno capture, variadics, structs, callbacks and values take `invoke`.
        guard extras == nil, !usesValues, !signature.needsGeneralPath else { return nil }
        guard !signature.parameters.contains(where: \.isOut) else { return nil }
        switch (signature.parameters.map(\.type), signature.result) {
        case ([.i64, .i64], .i64): return Self.intIntToInt
        case ([.i64], .i64): return Self.intToInt
        case ([.f64, .f64], .f64): return Self.doubleDoubleToDouble
        case ([.f64], .f64): return Self.doubleToDouble
        case ([.str], .i64): return Self.stringToInt
        case ([.str], .u64): return Self.stringToUInt
        default: return nil
        }
    }

    /// The target the VM passes back to the entry: this binding, unretained (the native's
    /// body holds the reference that keeps it alive).
    var entryTarget: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    /// NOTE: `_withUnsafeGuaranteedRef` borrows the binding without a retain/release pair; the
    /// function value being called owns it for the whole call.
    @inline(__always)
    static func with(_ target: UnsafeMutableRawPointer, _ body: (ExportBinding) -> Value) -> Value {
        Unmanaged<ExportBinding>.fromOpaque(target)._withUnsafeGuaranteedRef(body)
    }

    /// The function, as the C type the signature says it has.
    /// NOTE: the signature is the function's C type (checked when the export was bound).
    @inline(__always) func cFunction<F>(as type: F.Type) -> F { unsafeBitCast(function, to: type) }

    /// After the C function returned, in every typed entry: nothing to do in the common case
    /// (a few loads, inlined), else `failAfterCall`.
    @inline(__always)
    func afterCall(_ call: NativeCall) -> Value? {
        guard context.raised != nil || context.callbackFailed || call.safePointRequested else { return nil }
        return failAfterCall(call)
    }

    /// After the C function returned: the error it raised through the host API, or the error
    /// of a kept `ffi.callback` it called that raised (already pending in the VM), if any.
    /// Also where a safe-point request that came during the call (a reload) is passed on, so
    /// an export that blocks does not hold it back for a slice of counted instructions.
    @inline(never)
    func failAfterCall(_ call: NativeCall) -> Value? {
        call.afterBlocking()
        if context.callbackFailed {
            context.callbackFailed = false
            context.raised = nil
            return NativeCall.failure
        }
        guard let message = context.raised else { return nil }
        context.raised = nil
        return raised(call, message)
    }

    static let intIntToInt: NativeEntry = { target, call in
        with(target) { b in
            guard let x = call.inlineInt(0), let y = call.inlineInt(1) else { return b.invoke(call) }
            let f = b.cFunction(as: (@convention(c) (Int64, Int64) -> Int64).self)
            let previous = b.context.enter()
            let r = f(x, y)
            b.context.leave(previous)
            if let failure = b.afterCall(call) { return failure }
            return call.fastIntValue(r)
        }
    }

    static let intToInt: NativeEntry = { target, call in
        with(target) { b in
            guard let x = call.inlineInt(0) else { return b.invoke(call) }
            let f = b.cFunction(as: (@convention(c) (Int64) -> Int64).self)
            let previous = b.context.enter()
            let r = f(x)
            b.context.leave(previous)
            if let failure = b.afterCall(call) { return failure }
            return call.fastIntValue(r)
        }
    }

    static let doubleDoubleToDouble: NativeEntry = { target, call in
        with(target) { b in
            guard let x = call.inlineDouble(0), let y = call.inlineDouble(1) else { return b.invoke(call) }
            let f = b.cFunction(as: (@convention(c) (Double, Double) -> Double).self)
            let previous = b.context.enter()
            let r = f(x, y)
            b.context.leave(previous)
            if let failure = b.afterCall(call) { return failure }
            return call.fastDoubleValue(r)
        }
    }

    static let doubleToDouble: NativeEntry = { target, call in
        with(target) { b in
            guard let x = call.inlineDouble(0) else { return b.invoke(call) }
            let f = b.cFunction(as: (@convention(c) (Double) -> Double).self)
            let previous = b.context.enter()
            let r = f(x)
            b.context.leave(previous)
            if let failure = b.afterCall(call) { return failure }
            return call.fastDoubleValue(r)
        }
    }

    static let stringToInt: NativeEntry = { target, call in
        with(target) { b in
            guard let s = call.cString(0) else { return b.invoke(call) }
            let f = b.cFunction(as: (@convention(c) (UnsafePointer<CChar>) -> Int64).self)
            let previous = b.context.enter()
            let r = f(s)
            b.context.leave(previous)
            if let failure = b.afterCall(call) { return failure }
            return call.fastIntValue(r)
        }
    }

    static let stringToUInt: NativeEntry = { target, call in
        with(target) { b in
            guard let s = call.cString(0) else { return b.invoke(call) }
            let f = b.cFunction(as: (@convention(c) (UnsafePointer<CChar>) -> UInt64).self)
            let previous = b.context.enter()
            let r = f(s)
            b.context.leave(previous)
            if let failure = b.afterCall(call) { return failure }
            // A result past Int64.max: the general conversion's message.
            guard r <= UInt64(Int64.max) else { return b.unsignedOverflow(call, r) }
            return call.fastIntValue(Int64(r))
        }
    }

    @inline(never)
    func unsignedOverflow(_ call: NativeCall, _ r: UInt64) -> Value {
        call.raise("\(qualifiedName): the u64 result \(r) does not fit in a script int")
    }
}
