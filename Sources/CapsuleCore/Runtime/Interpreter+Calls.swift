/// Calls that leave the fast path, closures and upvalues, errors and unwinding.
extension Runtime {
    enum CallOutcome { case done, pushed, failed }

    /// A native's way of saying "I raised an error" (see `fail`).
    static let failure = Value(bits: Value.specialTag | 5)

    // MARK: calls

    /// Calls the value in `stack[base]` with `argc` arguments above it. Closures (and class
    /// initialisers) get a new frame (`.pushed`); natives run to completion (`.done`).
    @inline(never)
    func callSlow(base: Int, argc: Int) -> CallOutcome {
        let callee = stack[base]
        guard callee.isObject else { raise("cannot call \(typeName(callee))"); return .failed }
        switch callee.header.pointee.kind {
        case .closure:
            return pushFrame(callee.obj(ObjClosure.self), base: base, argc: argc)
        case .native:
            let n = callee.obj(ObjNative.self)
            return callNative(n, base: base, argc: argc, receiver: false,
                              name: n.pointee.name.obj(ObjString.self).string)
        case .klass:
            let klass = callee.obj(ObjClass.self)
            let instance = Value(newInstance(klass))
            stack[base] = instance
            let initializer = klass.pointee.initializer
            if initializer.isObject(.closure) {
                return pushFrame(initializer.obj(ObjClosure.self), base: base, argc: argc)
            }
            if argc != 0 {
                raise("\(klass.pointee.name.obj(ObjString.self).string) expects 0 arguments, got \(argc)")
                return .failed
            }
            return .done
        case .boundMethod:
            let b = callee.obj(ObjBoundMethod.self)
            stack[base] = b.pointee.receiver
            let method = b.pointee.method
            if method.isObject(.closure) { return pushFrame(method.obj(ObjClosure.self), base: base, argc: argc) }
            if method.isObject(.native) {
                let n = method.obj(ObjNative.self)
                return callNative(n, base: base, argc: argc, receiver: true,
                                  name: n.pointee.name.obj(ObjString.self).string)
            }
            raise("cannot call \(typeName(method))")
            return .failed
        default:
            raise("cannot call \(typeName(callee))")
            return .failed
        }
    }

    /// Runs native `n` to completion. Its arguments follow `stack[base]`; with `receiver`,
    /// `stack[base]` itself is passed first (methods of built-in types and bound natives).
    /// The result replaces `stack[base]`.
    private func callNative(_ n: UnsafeMutablePointer<ObjNative>, base: Int, argc: Int, receiver: Bool,
                            name: @autoclosure () -> String) -> CallOutcome {
        if n.pointee.arity >= 0 && n.pointee.arity != argc {
            raise("\(name()) expects \(plural(n.pointee.arity, "argument")), got \(argc)")
            return .failed
        }
        let r: Value
        if let entry = n.pointee.entry {
            let call = receiver ? NativeCall(rt: self, args: stack + base, count: argc + 1)
                                : NativeCall(rt: self, args: stack + base + 1, count: argc)
            r = entry(n.pointee.target.unsafelyUnwrapped, call)
        } else {
            r = receiver ? n.pointee.body(self, stack + base, argc + 1) : n.pointee.body(self, stack + base + 1, argc)
        }
        if r.bits == Runtime.failure.bits { return .failed }
        stack[base] = r
        return .done
    }

    /// Pushes a frame for `target` whose register 0 is `stack[base]`.
    func pushFrame(_ target: UnsafeMutablePointer<ObjClosure>, base: Int, argc: Int, boundary: Bool = false) -> CallOutcome {
        let f = target.pointee.function
        if f.pointee.arity != argc {
            raise("\(f.pointee.name.obj(ObjString.self).string) expects \(plural(f.pointee.arity, "argument")), got \(argc)")
            return .failed
        }
        if frameCount >= frameLimit {
            raise("stack overflow (call depth limit of \(frameLimit) exceeded)")
            return .failed
        }
        if base + f.pointee.maxRegisters > stackLimit {
            raise("stack overflow")
            return .failed
        }
        fuel &-= f.pointee.codeCount
        if fuel < 0 && !checkLimits(canCollect: false) { return .failed }
        let top = base + f.pointee.maxRegisters
        if top > stackHighWater { stackHighWater = top }
        frames[frameCount] = CallFrame(closure: target, pc: 0, base: base, isBoundary: boundary)
        frameCount += 1
        return .pushed
    }

    func plural(_ n: Int, _ word: String) -> String { n == 1 ? "1 \(word)" : "\(n) \(word)s" }

    /// `module.fn(args…)` when `fn` is a native with a direct entry (a plugin export, a raw FFI
    /// function) and the arity matches: calls it as CALL does, without `invokeSlow`'s second
    /// lookup and `callSlow`. Returns the result (or `failure`), or `Value.empty` when it did
    /// not call (an undefined variable, a closure, an arity mismatch): the caller then takes
    /// `invokeSlow`, with its checks and messages. Out of line, so INVOKE's case stays small
    /// (inlined, it cost fib and loop about 5% more instructions).
    @inline(never)
    func callModuleEntry(_ m: UnsafeMutablePointer<ObjModule>, _ name: UnsafeMutablePointer<ObjString>,
                         args: UnsafeMutablePointer<Value>, argc: Int) -> Value {
        guard let slot = m.pointee.names.get(name) else { return .empty }
        let v = m.pointee.variables.unsafelyUnwrapped[Int(slot.asInlineInt)]
        guard v.isObject(.native) else { return .empty }
        let n = v.obj(ObjNative.self)
        guard let entry = n.pointee.entry, n.pointee.arity == argc else { return .empty }
        return entry(n.pointee.target.unsafelyUnwrapped, NativeCall(rt: self, args: args, count: argc))
    }

    /// `receiver.name(args…)` when the receiver is not an instance with that method.
    @inline(never)
    func invokeSlow(base: Int, argc: Int, name: UnsafeMutablePointer<ObjString>) -> CallOutcome {
        let receiver = stack[base]
        guard receiver.isObject else {
            raise("\(describeForError(receiver)) has no field or method '\(name.string)'")
            return .failed
        }
        let kind = receiver.header.pointee.kind
        // Built-in types first: one table lookup, then the native.
        if let m = methodTables[Int(kind.rawValue)].get(name) {
            return callNative(m.obj(ObjNative.self), base: base, argc: argc, receiver: true,
                              name: "\(typeName(receiver)).\(name.string)")
        }
        switch kind {
        case .instance:
            let inst = receiver.obj(ObjInstance.self)
            if let m = inst.pointee.klass.pointee.methods.get(name) {
                if m.isObject(.closure) { return pushFrame(m.obj(ObjClosure.self), base: base, argc: argc) }
                stack[base] = m
                return callSlow(base: base, argc: argc)
            }
            if let field = inst.pointee.fields.get(name) {
                stack[base] = field
                return callSlow(base: base, argc: argc)
            }
        case .module:
            guard let v = moduleExport(receiver.obj(ObjModule.self), name) else { return .failed }
            stack[base] = v
            return callSlow(base: base, argc: argc)
        case .error:
            if let v = errorField(receiver, name) {
                stack[base] = v
                return callSlow(base: base, argc: argc)
            }
        default:
            break
        }
        raise("\(describeForError(receiver)) has no field or method '\(name.string)'")
        return .failed
    }

    /// Calls `callee` with `args` from native code and runs it to completion. Returns nil
    /// when it raised (the error stays in `pendingError` for the caller to propagate).
    func call(_ callee: Value, _ args: [Value]) -> Value? {
        if nativeDepth >= config.maxNativeDepth {
            raise("stack overflow")
            return nil
        }
        // Place the callee and arguments above the innermost frame's registers.
        var base = 0
        if frameCount > 0 {
            let f = frames[frameCount - 1]
            base = f.base + f.closure.pointee.function.pointee.maxRegisters
        }
        guard base + args.count + 1 < stackLimit else { raise("stack overflow"); return nil }
        stack[base] = callee
        for (i, a) in args.enumerated() { stack[base + 1 + i] = a }
        let top = base + args.count + 1
        if stackHighWater < top { stackHighWater = top }
        // Keep them rooted while a native (not a frame) is being set up.
        for a in args { pushRoot(a) }
        pushRoot(callee)
        defer { popRoot(args.count + 1) }
        var outcome: CallOutcome
        if callee.isObject(.closure) {
            outcome = pushFrame(callee.obj(ObjClosure.self), base: base, argc: args.count, boundary: true)
        } else {
            outcome = callSlow(base: base, argc: args.count)
            if outcome == .pushed { frames[frameCount - 1].isBoundary = true }
        }
        switch outcome {
        case .failed: return nil
        case .done: return stack[base]
        case .pushed:
            nativeDepth += 1
            defer { nativeDepth -= 1 }
            return execute()
        }
    }

    // MARK: closures and upvalues

    func makeClosure(into dest: UnsafeMutablePointer<Value>, function f: UnsafeMutablePointer<ObjFunction>,
                     enclosing: UnsafeMutablePointer<ObjClosure>, base: Int) {
        let c = newClosure(f)
        dest.pointee = Value(c)  // rooted from here on
        let n = f.pointee.upvalueCount
        guard n > 0, let descs = f.pointee.upvalueDescs else { return }
        for j in 0..<n {
            let d = descs[j]
            let u: UnsafeMutablePointer<ObjUpvalue>
            if d & 0x8000 != 0 {
                u = captureUpvalue(slot: base + Int(d & 0x7FFF))
            } else {
                u = enclosing.upvalues[Int(d)]
            }
            c.upvalues[j] = u
            c.pointee.upvalueCount = j + 1
        }
    }

    func captureUpvalue(slot: Int) -> UnsafeMutablePointer<ObjUpvalue> {
        var previous: UnsafeMutablePointer<ObjUpvalue>? = nil
        var current = openUpvalues
        while let u = current, u.pointee.stackIndex > slot {
            previous = u
            current = u.pointee.nextOpen
        }
        if let u = current, u.pointee.stackIndex == slot { return u }
        let created = newUpvalue(slot: slot)
        created.pointee.nextOpen = current
        if let previous { previous.pointee.nextOpen = created } else { openUpvalues = created }
        return created
    }

    @inline(never)
    func closeUpvalues(from slot: Int) {
        let offset = MemoryLayout<ObjUpvalue>.offset(of: \ObjUpvalue.closed)!
        while let u = openUpvalues, u.pointee.stackIndex >= slot {
            u.pointee.closed = u.pointee.location.pointee
            u.pointee.location = (UnsafeMutableRawPointer(u) + offset).assumingMemoryBound(to: Value.self)
            openUpvalues = u.pointee.nextOpen
        }
    }

    // MARK: errors

    /// Raises a runtime error with `message` at the current position.
    @inline(never)
    func raise(_ message: String) {
        let m = Value(makeString(message))
        pushRoot(m)
        let trace = captureTrace()
        pushRoot(trace)
        pendingError = newError(message: m, trace: trace)
        popRoot(2)
    }

    /// For natives: raise `message` and return the failure marker.
    func fail(_ message: String) -> Value {
        raise(message)
        return Runtime.failure
    }

    /// The current call stack as a list of `NAME (FILE:LINE)` strings, innermost first.
    /// Deep stacks keep their innermost and outermost 32 frames.
    func captureTrace() -> Value {
        var lines: [String] = []
        let n = frameCount
        var indices = Array((0..<n).reversed())
        if n > 64 { indices = Array(indices.prefix(32)) + Array(indices.suffix(32)) }
        for (position, fi) in indices.enumerated() {
            if n > 64 && position == 32 { lines.append("... \(n - 64) more frames") }
            lines.append(frameDescription(frames[fi]))
        }
        let list = newList(capacity: lines.count)
        pushRoot(Value(list))
        for l in lines { append(list, Value(makeString(l))) }
        popRoot()
        return Value(list)
    }

    func frameDescription(_ f: CallFrame) -> String {
        let fn = f.closure.pointee.function
        let pc = max(0, min(f.pc - 1, fn.pointee.codeCount - 1))
        let line = fn.pointee.lines[pc]
        let file = fn.pointee.module.map { $0.pointee.sourceName.isString ? $0.pointee.sourceName.obj(ObjString.self).string : "?" } ?? "?"
        return "\(fn.pointee.name.obj(ObjString.self).string) (\(file):\(line))"
    }

    @inline(never)
    func throwValue(_ v: Value) {
        if v.isObject(.error) {
            let e = v.obj(ObjError.self)
            if e.pointee.trace.isNil {
                pushRoot(v)
                e.pointee.trace = captureTrace()
                popRoot()
            }
            pendingError = v
            return
        }
        // Other values are wrapped so the trace survives; `catch` unwraps them again.
        pushRoot(v)
        let trace = captureTrace()
        pushRoot(trace)
        let wrapper = newError(message: v, trace: trace)
        wrapper.header.pointee.flags = ObjErrorFlags.wrapsThrownValue
        popRoot(2)
        pendingError = wrapper
    }

    @inline(never)
    func assertionFailed(message: Value?) {
        if let message {
            if message.isString { raise(message.obj(ObjString.self).string) }
            else { raise(describe(message, quoted: false)) }
        } else {
            raise("assertion failed")
        }
    }

    @inline(never)
    func undefinedVariable(_ f: UnsafeMutablePointer<ObjFunction>, slot: Int) {
        var name = "?"
        f.pointee.module?.pointee.names.forEach { k, v in if v.asInlineInt == Int64(slot) { name = k.string } }
        raise("variable '\(name)' is used before it is defined")
    }

    /// Pops handlers that belong to frame `index` or deeper (a return leaves them behind).
    func dropHandlers(aboveFrame index: Int) {
        while handlerCount > 0 && handlers[handlerCount - 1].frameIndex >= index { handlerCount -= 1 }
    }

    /// Finds the innermost handler installed by a frame at or above `entryFrame`, unwinds to
    /// it and stores the caught value in its register. Returns nil, after dropping the frames
    /// of this execution, when the error must leave this `execute`.
    @inline(never)
    func unwindToHandler(entryFrame: Int) -> Handler? {
        // An error raised once the deadline has passed (a host wait that gave up there, a
        // plugin load or reload killed at it) ends the run as the timeout, uncaught.
        if deadline != 0 && !(pendingError.isObject(.error) && pendingError.header.pointee.flags & ObjErrorFlags.uncatchable != 0)
            && Runtime.preciseNow() >= deadline {
            haltForTimeout()
        }
        // An error raised while an interrupt waits (a host wait that ended early for it) ends
        // the run as `interrupted`, uncaught.
        if interruptible && interruptRequest.isRequested
            && !(pendingError.isObject(.error) && pendingError.header.pointee.flags & ObjErrorFlags.uncatchable != 0) {
            _ = checkInterrupt()
        }
        if handlerCount > 0 && handlers[handlerCount - 1].frameIndex >= entryFrame
            && !(pendingError.isObject(.error) && pendingError.header.pointee.flags & ObjErrorFlags.uncatchable != 0) {
            let h = handlers[handlerCount - 1]
            handlerCount -= 1
            if let open = openUpvalues, open.pointee.stackIndex >= h.register { closeUpvalues(from: h.register) }
            frameCount = h.frameIndex + 1
            var caught = pendingError
            if caught.isObject(.error) && caught.header.pointee.flags == ObjErrorFlags.wrapsThrownValue {
                caught = caught.obj(ObjError.self).pointee.message
            }
            stack[h.register] = caught
            pendingError = .nil
            return h
        }
        let base = frames[entryFrame].base
        if let open = openUpvalues, open.pointee.stackIndex >= base { closeUpvalues(from: base) }
        dropHandlers(aboveFrame: entryFrame)
        frameCount = entryFrame
        return nil
    }
}

enum ObjErrorFlags {
    /// The error wraps a non-error value thrown with `throw`; `message` holds that value.
    static let wrapsThrownValue: UInt16 = 1
    /// A limit error (fuel, timeout): handlers do not catch it, so it ends the run.
    static let uncatchable: UInt16 = 2
}
