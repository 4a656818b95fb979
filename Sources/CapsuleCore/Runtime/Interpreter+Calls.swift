/// Calls that leave the fast path, closures and upvalues, errors and unwinding.
extension Runtime {
    enum CallOutcome { case done, pushed, failed }

    /// A native's way of saying "I raised an error" (see `fail`).
    static let failure = Value(bits: Value.specialTag | 5)

    // MARK: calls

    /// CALL's slow path: `argc` is its B operand, where `Runtime.spreadCall` and
    /// `Runtime.namedCall` mean the arguments were prepared by the SPREAD or NAMED instruction
    /// just before.
    @inline(never)
    func callSlow(base: Int, argc: Int) -> CallOutcome {
        if argc >= Runtime.namedCall { return callPrepared(base: base, marker: argc) }
        return callValue(base: base, argc: argc)
    }

    /// Calls the value in `stack[base]` with `argc` arguments above it. Closures (and class
    /// initialisers) get a new frame (`.pushed`); natives run to completion (`.done`).
    func callValue(base: Int, argc: Int) -> CallOutcome {
        let callee = stack[base]
        guard callee.isObject else { raiseCannotCall(callee, base: base); return .failed }
        switch callee.header.pointee.kind {
        case .closure:
            return pushFrame(callee.obj(ObjClosure.self), base: base, argc: argc)
        case .native:
            let n = callee.obj(ObjNative.self)
            return callNative(n, base: base, argc: argc, receiver: false,
                              name: n.pointee.name.obj(ObjString.self).string)
        case .klass:
            let klass = callee.obj(ObjClass.self)
            // Calling `Error` or a subclass makes an error value of that class.
            let isError = isErrorClass(klass)
            let instance: Value
            if isError {
                // The empty message stays rooted while the error is allocated.
                let empty = Value(intern(""))
                pushRoot(empty)
                instance = newError(message: empty)
                popRoot()
                instance.obj(ObjError.self).pointee.klass = callee
            } else {
                instance = Value(newInstance(klass))
            }
            stack[base] = instance
            let initializer = klass.pointee.initializer
            if initializer.isObject(.closure) {
                return pushFrame(initializer.obj(ObjClosure.self), base: base, argc: argc)
            }
            if initializer.isObject(.native) {
                // `Error.init(message)`, inherited by error classes without their own `init`.
                let outcome = callNative(initializer.obj(ObjNative.self), base: base, argc: argc, receiver: true,
                                         name: klass.pointee.name.obj(ObjString.self).string)
                stack[base] = instance
                return outcome
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
                // A native that parks its fiber runs again from this call, which must find
                // the bound method, not its receiver, in the callee's register
                // (Concurrency/Runtime+Fibers.swift); the root keeps it alive meanwhile.
                pushRoot(callee)
                defer { popRoot() }
                // A built-in method is named as INVOKE names it: `list.map`.
                let outcome = callNative(n, base: base, argc: argc, receiver: true,
                                         name: (n.pointee.isMethod ? "\(self.typeName(b.pointee.receiver))." : "")
                                             + n.pointee.name.obj(ObjString.self).string)
                if outcome == .failed && suspendRequested { stack[base] = callee }
                return outcome
            }
            raise("cannot call \(typeName(method))")
            return .failed
        default:
            raise("cannot call \(typeName(callee))")
            return .failed
        }
    }

    /// `cannot call nil (local 'handler')`: the callee's type, and for nil the compiler's
    /// description of it when the CALL (or INVOKE of a field) being run put it at `base`.
    @inline(never)
    func raiseCannotCall(_ callee: Value, base: Int) {
        guard callee.isNil else { raise("cannot call \(typeName(callee))"); return }
        let name = operandName(0, of: [.call], base: base) ?? operandName(1, of: [.invoke], base: base)
        raise("cannot call " + (name.map { "nil (\($0))" } ?? "nil"))
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
        let flexible = f.pointee.arity != argc
        if flexible {
            guard f.pointee.arity < 0, argc >= f.pointee.requiredCount,
                  argc <= f.pointee.paramCount || f.pointee.hasRest else {
                arityError(f, argc)
                return .failed
            }
        }
        guard hasRoom(f, base: base) else { return .failed }
        if flexible {
            // Optional parameters left out get the missing-argument marker, which makes their
            // defaults run (`Compiler.defaultValues`); extra arguments go to a rest list.
            // The list first: its allocation may collect, and a collection clears the
            // registers above the caller's frame, where the markers go (there are markers
            // only when there are no extra arguments, so the two never overlap).
            if f.pointee.hasRest { collectRest(base: base + 1 + f.pointee.paramCount, count: argc - f.pointee.paramCount) }
            var j = argc
            while j < f.pointee.paramCount { stack[base + 1 + j] = .undefined; j += 1 }
        }
        return enterFrame(target, base: base, boundary: boundary)
    }

    /// Whether a frame for `f` at `base` fits in the frame array and the register stack;
    /// raises `stack overflow` if not.
    func hasRoom(_ f: UnsafeMutablePointer<ObjFunction>, base: Int) -> Bool {
        if frameCount >= frameLimit {
            raise("stack overflow (call depth limit of \(frameLimit) exceeded)")
            return false
        }
        if base + f.pointee.maxRegisters > stackLimit {
            raise("stack overflow")
            return false
        }
        return true
    }

    /// The end of every call of a closure, once its arguments are bound and `hasRoom` said
    /// yes: charges fuel and pushes the frame.
    func enterFrame(_ target: UnsafeMutablePointer<ObjClosure>, base: Int, boundary: Bool) -> CallOutcome {
        let f = target.pointee.function
        fuel &-= f.pointee.codeCount
        if fuel < 0 && !checkLimits(canCollect: false) { return .failed }
        let top = base + f.pointee.maxRegisters
        if top > stackHighWater { stackHighWater = top }
        frames[frameCount] = CallFrame(closure: target, pc: 0, base: base, isBoundary: boundary)
        frameCount += 1
        return .pushed
    }

    /// Puts a list of the `count` (possibly <= 0) arguments from `stack[first]` on into
    /// `stack[first]`, the rest parameter's register. The arguments are in the caller's
    /// registers or kept by whoever placed them (`call`, `callPrepared`), so allocating here
    /// is safe.
    @inline(never)
    func collectRest(base first: Int, count: Int) {
        let list = newList(capacity: max(0, count))
        pushRoot(Value(list))
        for j in 0..<max(0, count) { append(list, stack[first + j]) }
        popRoot()
        stack[first] = Value(list)
    }

    /// CALL B operands that are not argument counts: the arguments were prepared by SPREAD
    /// (their count is in `preparedArgc`) or by NAMED (`preparedArgc` positional ones and a
    /// map of named ones). The compiler limits real counts to 200.
    static let namedCall = 254, spreadCall = 255

    /// SPREAD A: the arguments are the elements of the list in `stack[base + 1]` (built by
    /// the call site), copied onto the stack in its place for the CALL A 255 that follows.
    @inline(never)
    func spreadArguments(base: Int) -> Bool {
        let args = stack[base + 1]
        guard args.isObject(.list) else { raise("'...' needs a list, got \(typeName(args))"); return false }
        let l = args.obj(ObjList.self)
        let argc = l.pointee.count
        guard base + 2 + argc <= stackLimit else { raise("stack overflow"); return false }
        if let items = l.pointee.items {
            for j in 0..<argc { stack[base + 1 + j] = items[j] }
        }
        // NOTE: nothing allocates between here and the CALL that follows, where
        // `callPrepared` covers the slots above the caller's registers with `argumentTop`, so
        // no collection can clear them first.
        if base + 1 + argc > stackHighWater { stackHighWater = base + 1 + argc }
        preparedArgc = argc
        return true
    }

    /// CALLABLE A + EXTRA X: R[A] = method X of R[A] as a callable, looked up as INVOKE would
    /// (built-in methods, then an instance's methods, then its fields; a module's variable),
    /// for a method call with `...` or named arguments.
    @inline(never)
    func callableMember(_ receiver: Value, _ name: UnsafeMutablePointer<ObjString>) -> Value? {
        if receiver.isObject {
            let kind = receiver.header.pointee.kind
            if let m = methodTables[Int(kind.rawValue)].get(name) { return newBoundMethod(receiver: receiver, method: m) }
            switch kind {
            case .instance:
                let inst = receiver.obj(ObjInstance.self)
                if let m = inst.pointee.klass.pointee.methods.get(name) { return newBoundMethod(receiver: receiver, method: m) }
                if let field = inst.pointee.fields.get(name) { return field }
            case .module:
                return moduleExport(receiver.obj(ObjModule.self), name)
            case .error:
                if let v = errorField(receiver, name) { return v }
            default:
                break
            }
        }
        raise("\(describeForError(receiver)) has no field or method '\(name.string)'")
        return nil
    }

    /// CALL A 255 after SPREAD, CALL A 254 after NAMED.
    private func callPrepared(base: Int, marker: Int) -> CallOutcome {
        let argc = preparedArgc
        preparedArgc = -1
        guard argc >= 0 else { raise("internal error: CALL \(marker) without prepared arguments"); return .failed }
        if marker == Runtime.namedCall { return callNamed(base: base, positional: argc) }
        // NOTE: `argumentTop` keeps the collector from clearing the spread arguments' slots,
        // which may lie above the caller's registers, while the call is set up.
        let savedArgumentTop = argumentTop
        argumentTop = max(argumentTop, base + 1 + argc)
        defer { argumentTop = savedArgumentTop }
        let outcome = callValue(base: base, argc: argc)
        if outcome == .failed && suspendRequested { respread(first: base + 1, count: argc) }
        return outcome
    }

    /// A call with named arguments: `p` positional arguments after `stack[base]`, then a map
    /// of named ones. A script function (a closure, a class's `init`, a bound method — which
    /// is what CALLABLE makes of an instance's method) gets them bound to its parameters by
    /// name; anything else (natives, built-in methods) gets the map as one more, last
    /// argument.
    private func callNamed(base: Int, positional p: Int) -> CallOutcome {
        guard let target = namedCallTarget(base: base) else { return callValue(base: base, argc: p + 1) }
        return bindNamed(target, base: base, positional: p)
    }

    /// The closure a named call runs, with `stack[base]` set to its register 0 (the instance
    /// for an initialiser or method); nil when the callee is not a script function.
    private func namedCallTarget(base: Int) -> UnsafeMutablePointer<ObjClosure>? {
        let callee = stack[base]
        // `stack[base]` changes only when a closure is found: otherwise the call falls back
        // to `callValue`, which needs the original callee.
        guard callee.isObject else { return nil }
        switch callee.header.pointee.kind {
        case .closure:
            stack[base] = callee
            return callee.obj(ObjClosure.self)
        case .boundMethod:
            let b = callee.obj(ObjBoundMethod.self)
            guard b.pointee.method.isObject(.closure) else { return nil }
            stack[base] = b.pointee.receiver
            return b.pointee.method.obj(ObjClosure.self)
        case .klass:
            let klass = callee.obj(ObjClass.self)
            guard klass.pointee.initializer.isObject(.closure) else { return nil }
            stack[base] = Value(newInstance(klass))
            return klass.pointee.initializer.obj(ObjClosure.self)
        default:
            return nil
        }
    }

    /// Binds `p` positional arguments and the named ones in the map after them to the
    /// parameters of `target`, then enters it.
    private func bindNamed(_ target: UnsafeMutablePointer<ObjClosure>, base: Int, positional p: Int) -> CallOutcome {
        let f = target.pointee.function
        let fname = f.pointee.name.obj(ObjString.self).string
        let mapValue = stack[base + 1 + p]
        // NOTE: the map is overwritten below when a parameter's register is its slot; the
        // root keeps it, and so the named values, alive until the frame holds them.
        pushRoot(mapValue)
        defer { popRoot() }
        var named: [(Int, Value)] = []
        var problem: String?
        let names = f.pointee.paramNames.isObject(.list) ? f.pointee.paramNames.obj(ObjList.self) : nil
        forEachEntry(mapValue.obj(ObjMap.self)) { key, value in
            guard problem == nil else { return }
            let name = key.obj(ObjString.self).string
            var index = -1
            if let names, let items = names.pointee.items {
                for j in 0..<names.pointee.count where items[j].obj(ObjString.self).string == name { index = j; break }
            }
            if index < 0 { problem = "\(fname) has no parameter named '\(name)'" }
            else if index < p { problem = "\(fname) got two values for parameter '\(name)'" }
            else { named.append((index, value)) }
        }
        if let problem { raise(problem); return .failed }
        let paramCount = f.pointee.paramCount
        if p > paramCount && !f.pointee.hasRest {
            arityError(f, p + named.count)
            return .failed
        }
        guard hasRoom(f, base: base) else { return .failed }
        if f.pointee.hasRest { collectRest(base: base + 1 + paramCount, count: p - paramCount) }
        var j = p
        while j < paramCount { stack[base + 1 + j] = .undefined; j += 1 }
        for (index, value) in named { stack[base + 1 + index] = value }
        for j in p..<max(p, f.pointee.requiredCount) where stack[base + 1 + j].bits == Value.undefined.bits {
            let missing = names.map { $0.pointee.items.unsafelyUnwrapped[j].obj(ObjString.self).string } ?? "?"
            raise("\(fname) is missing an argument for '\(missing)'")
            return .failed
        }
        return enterFrame(target, base: base, boundary: false)
    }

    func plural(_ n: Int, _ word: String) -> String { n == 1 ? "1 \(word)" : "\(n) \(word)s" }

    /// `f expects 2 arguments, got 3`; for a function with defaults `f expects 1 to 3
    /// arguments, got 0` or `f expects at most 2 arguments, got 3`.
    @inline(never)
    func arityError(_ f: UnsafeMutablePointer<ObjFunction>, _ argc: Int) {
        let name = f.pointee.name.obj(ObjString.self).string
        let required = f.pointee.requiredCount, all = f.pointee.paramCount
        let expected = f.pointee.hasRest ? "at least \(plural(required, "argument"))"
            : required == all ? plural(all, "argument")
            : required == 0 ? "at most \(plural(all, "argument"))" : "\(required) to \(all) arguments"
        raise("\(name) expects \(expected), got \(argc)")
    }

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
            raise(noMember(receiver, name, opcodes: [.invoke], base: base))
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
                return callValue(base: base, argc: argc)
            }
            if let field = inst.pointee.fields.get(name) {
                stack[base] = field
                return callValue(base: base, argc: argc)
            }
        case .module:
            guard let v = moduleExport(receiver.obj(ObjModule.self), name) else { return .failed }
            stack[base] = v
            return callValue(base: base, argc: argc)
        case .error:
            // Methods of its class first (as for instances), then fields.
            let klass = errorClassOf(receiver.obj(ObjError.self))
            if let m = klass.obj(ObjClass.self).pointee.methods.get(name) {
                if m.isObject(.closure) { return pushFrame(m.obj(ObjClosure.self), base: base, argc: argc) }
                if m.isObject(.native) {
                    return callNative(m.obj(ObjNative.self), base: base, argc: argc, receiver: true, name: name.string)
                }
            }
            if let v = errorField(receiver, name) {
                stack[base] = v
                return callValue(base: base, argc: argc)
            }
        default:
            break
        }
        raise(noMember(receiver, name, opcodes: [.invoke], base: base))
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
        // Keep them rooted while a native (not a frame) is being set up, and keep their stack
        // slots, which are above the innermost frame's registers, from being cleared by a
        // collection before the callee's frame covers them (an initialiser's instance, a rest
        // list and natives allocate).
        for a in args { pushRoot(a) }
        pushRoot(callee)
        let savedArgumentTop = argumentTop
        argumentTop = max(argumentTop, top)
        defer { popRoot(args.count + 1); argumentTop = savedArgumentTop }
        var outcome: CallOutcome
        if callee.isObject(.closure) {
            outcome = pushFrame(callee.obj(ObjClosure.self), base: base, argc: args.count, boundary: true)
        } else {
            outcome = callValue(base: base, argc: args.count)
            if outcome == .pushed { frames[frameCount - 1].isBoundary = true }
        }
        switch outcome {
        case .failed: return nil
        case .done: return stack[base]
        case .pushed:
            nativeDepth += 1
            defer { nativeDepth -= 1 }
            // A call from outside any script runs the scheduler when a fiber parks.
            if nativeDepth == 1 { return runTopLevel() }
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

    /// Raises a runtime error with `message` at the current position. Its class is `kind`,
    /// or the one `Runtime.errorKind(of:)` gives for the message.
    @inline(never)
    func raise(_ message: String, kind: ErrorKind? = nil) {
        let m = Value(makeString(message))
        pushRoot(m)
        let trace = captureTrace()
        pushRoot(trace)
        pendingError = newError(message: m, trace: trace)
        recordOrigin(pendingError)
        popRoot(2)
        classify(pendingError, message: message, kind: kind)
    }

    /// Notes in error `e` the instruction the innermost frame is executing: the position its
    /// report points at (`errorReport`).
    func recordOrigin(_ e: Value) {
        guard frameCount > 0, e.isObject(.error) else { return }
        let frame = frames[frameCount - 1]
        let fn = frame.closure.pointee.function
        let error = e.obj(ObjError.self)
        error.pointee.origin = Value(fn)
        error.pointee.originPC = instructionIndex(fn, pc: frame.pc)
    }

    /// For natives: raise `message` and return the failure marker.
    func fail(_ message: String) -> Value {
        raise(message)
        return Runtime.failure
    }

    /// Most trace entries kept; past this, the innermost and outermost halves are kept.
    static let traceEntryLimit = 64

    /// The current call stack as a list of `NAME (FILE:LINE:COL)` strings, innermost first.
    /// A frame repeated in a row (deep recursion), or a cycle of two or three frames repeated
    /// (mutual recursion), is listed once and followed by
    /// `[previous frame repeated 199,998 more times]` (`[previous 2 frames repeated …]`).
    /// Past `traceEntryLimit` entries, the innermost and outermost halves are kept around a
    /// `... N more frames` line. Frames are compared by function and position, so this is
    /// linear in the depth and describes only the frames shown.
    func captureTrace() -> Value {
        let n = frameCount
        // Position j (0 = innermost) is frames[n - 1 - j].
        @inline(__always) func same(_ x: Int, _ y: Int) -> Bool {
            let a = frames[n - 1 - x], b = frames[n - 1 - y]
            return a.closure.pointee.function == b.closure.pointee.function && a.pc == b.pc
        }
        // Entries: a frame to describe (`frame` >= 0) or a repetition line, with the number of
        // frames each stands for.
        var entries: [(frame: Int, text: String?, frames: Int)] = []
        var j = 0
        while j < n {
            var collapsed = false
            for period in 1...3 where j + 3 * period <= n {
                // How many times the `period` frames from j repeat in a row.
                var repeats = 1
                outer: while j + (repeats + 1) * period <= n {
                    for d in 0..<period where !same(j + d, j + repeats * period + d) { break outer }
                    repeats += 1
                }
                guard repeats >= 3 else { continue }
                for d in 0..<period { entries.append((j + d, nil, 1)) }
                let more = Runtime.groupedThousands(repeats - 1)
                let what = period == 1 ? "previous frame" : "previous \(period) frames"
                entries.append((-1, "[\(what) repeated \(more) more times]", (repeats - 1) * period))
                j += repeats * period
                collapsed = true
                break
            }
            if !collapsed {
                entries.append((j, nil, 1))
                j += 1
            }
        }
        var lines: [String] = []
        let limit = Runtime.traceEntryLimit
        for (position, entry) in entries.enumerated() {
            if entries.count > limit {
                if position == limit / 2 {
                    let hidden = entries[(limit / 2)..<(entries.count - limit / 2)].reduce(0) { $0 + $1.frames }
                    lines.append("... \(Runtime.groupedThousands(hidden)) more frames")
                }
                if position >= limit / 2 && position < entries.count - limit / 2 { continue }
            }
            lines.append(entry.text ?? frameDescription(frames[n - 1 - entry.frame]))
        }
        let list = newList(capacity: lines.count)
        pushRoot(Value(list))
        for l in lines { append(list, Value(makeString(l))) }
        popRoot()
        return Value(list)
    }

    /// `12345678` as `12,345,678`.
    static func groupedThousands(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return n < 0 ? "-" + out : out
    }

    /// `NAME (FILE:LINE:COL)` for a frame.
    func frameDescription(_ f: CallFrame) -> String {
        let fn = f.closure.pointee.function
        let (line, column) = position(fn, at: instructionIndex(fn, pc: f.pc))
        let file = fn.pointee.module.map { $0.pointee.sourceName.isString ? $0.pointee.sourceName.obj(ObjString.self).string : "?" } ?? "?"
        let at = column > 0 ? "\(line):\(column)" : "\(line)"
        return "\(fn.pointee.name.obj(ObjString.self).string) (\(file):\(at))"
    }

    @inline(never)
    func throwValue(_ v: Value) {
        if v.isObject(.error) {
            let e = v.obj(ObjError.self)
            if e.pointee.trace.isNil {
                pushRoot(v)
                e.pointee.trace = captureTrace()
                recordOrigin(v)
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
        recordOrigin(wrapper)
        popRoot(2)
        pendingError = wrapper
    }

    @inline(never)
    func assertionFailed(message: Value?) {
        if let message {
            if message.isString { raise(message.obj(ObjString.self).string, kind: .assertion) }
            else { raise(describe(message, quoted: false), kind: .assertion) }
        } else {
            raise("assertion failed", kind: .assertion)
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
            let raw = pendingError
            var caught = raw
            if h.mode != 1 && caught.isObject(.error) && caught.header.pointee.flags == ObjErrorFlags.wrapsThrownValue {
                caught = caught.obj(ObjError.self).pointee.message
            }
            stack[h.register] = caught
            if h.mode == 2 { stack[h.register + 1] = raw }
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
    /// An imported module did not compile: uncaught, the run ends as a compile error (65).
    static let moduleCompileError: UInt16 = 4
    /// A limit (fuel, timeout, out of memory) stopped the code, wherever it was: its report
    /// shows no source line and caret.
    static let limit: UInt16 = 8
    /// The deadlock report (Concurrency/Runtime+Fibers.swift): no fiber can run.
    static let deadlock: UInt16 = 16
}
