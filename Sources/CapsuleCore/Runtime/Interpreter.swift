/// The interpreter loop: one function, one `switch` over the opcode.
///
/// NOTE: pc, the register base, code and constants pointers live in locals and are written
/// back to the frame only at calls, returns and errors (PERFORMANCE.md rule 4). Every case
/// ends in `continue`; a case that falls out of the `switch` has raised an error
/// (`pendingError` is set) and continues to the unwinding code below it.
extension Runtime {
    /// Runs from the innermost frame until the boundary frame that was pushed for this call
    /// returns. Returns its result, or nil when an error escapes (left in `pendingError`).
    func execute() -> Value? { execute(from: frameCount - 1) }

    /// Runs from the innermost frame; errors unwind to handlers down to `entryFrame` (a
    /// resumed fiber's are all its own, from frame 0).
    func execute(from entryFrame: Int) -> Value? {
        var frame = frames + (frameCount - 1)
        var closure = frame.pointee.closure
        // NOTE: the current function is not kept in a local (it is `closure.pointee.function`):
        // one register fewer in the loop measurably reduced spills.
        var code = UnsafePointer(closure.pointee.function.pointee.code)
        var k = UnsafePointer(closure.pointee.function.pointee.constants)
        var regs = stack + frame.pointee.base
        var pc = frame.pointee.pc
        var globals = closure.pointee.function.pointee.module.unsafelyUnwrapped.pointee.variables
        let stack = self.stack
        let stackAddress = Int(bitPattern: stack)
        /// Stack index of a register pointer. NOTE: a shift, not pointer subtraction, which
        /// divides with rounding code because the difference could be negative.
        @inline(__always) func index(_ p: UnsafeMutablePointer<Value>) -> Int {
            (Int(bitPattern: p) &- stackAddress) >> 3
        }

        while true {
            let i = code[pc]
            pc &+= 1
            switch Instruction.op(i) {
            case .move:
                regs[Instruction.a(i)] = regs[Instruction.b(i)]
                continue
            case .loadK:
                regs[Instruction.a(i)] = k[Instruction.bx(i)]
                continue
            case .loadI:
                regs[Instruction.a(i)] = Value(inlineInt: Int64(Instruction.sbx(i)))
                continue
            case .loadNil:
                regs[Instruction.a(i)] = .nil
                continue
            case .loadTrue:
                regs[Instruction.a(i)] = .true
                continue
            case .loadFalse:
                regs[Instruction.a(i)] = .false
                continue
            case .getGlobal:
                let v = globals.unsafelyUnwrapped[Instruction.bx(i)]
                if v.bits != Value.undefined.bits { regs[Instruction.a(i)] = v; continue }
                frame.pointee.pc = pc
                undefinedVariable(closure.pointee.function, slot: Instruction.bx(i))
            case .setGlobal:
                let g = globals.unsafelyUnwrapped + Instruction.bx(i)
                if g.pointee.bits != Value.undefined.bits { g.pointee = regs[Instruction.a(i)]; continue }
                frame.pointee.pc = pc
                undefinedVariable(closure.pointee.function, slot: Instruction.bx(i))
            case .defGlobal:
                globals.unsafelyUnwrapped[Instruction.bx(i)] = regs[Instruction.a(i)]
                continue
            case .getUpval:
                regs[Instruction.a(i)] = closure.upvalues[Instruction.b(i)].pointee.location.pointee
                continue
            case .setUpval:
                closure.upvalues[Instruction.b(i)].pointee.location.pointee = regs[Instruction.a(i)]
                continue

            // MARK: arithmetic
            case .add:
                let x = regs[Instruction.b(i)], y = regs[Instruction.c(i)]
                if Value.bothInlineInts(x, y) {
                    let r = x.asInlineInt &+ y.asInlineInt
                    if Value.fitsInline(r) { regs[Instruction.a(i)] = Value(inlineInt: r); continue }
                } else if x.isDouble && y.isDouble {
                    // NOTE: arithmetic on canonical NaNs yields canonical NaNs, so no check.
                    regs[Instruction.a(i)] = Value(bits: (x.asDouble + y.asDouble).bitPattern); continue
                } else if x.isFastNumber && y.isFastNumber {
                    regs[Instruction.a(i)] = Value(bits: (x.fastNumberAsDouble + y.fastNumberAsDouble).bitPattern); continue
                }
                frame.pointee.pc = pc
                if let v = arithmetic(.add, x, y) { regs[Instruction.a(i)] = v; continue }
            case .sub:
                let x = regs[Instruction.b(i)], y = regs[Instruction.c(i)]
                if Value.bothInlineInts(x, y) {
                    let r = x.asInlineInt &- y.asInlineInt
                    if Value.fitsInline(r) { regs[Instruction.a(i)] = Value(inlineInt: r); continue }
                } else if x.isDouble && y.isDouble {
                    regs[Instruction.a(i)] = Value(bits: (x.asDouble - y.asDouble).bitPattern); continue
                } else if x.isFastNumber && y.isFastNumber {
                    regs[Instruction.a(i)] = Value(bits: (x.fastNumberAsDouble - y.fastNumberAsDouble).bitPattern); continue
                }
                frame.pointee.pc = pc
                if let v = arithmetic(.subtract, x, y) { regs[Instruction.a(i)] = v; continue }
            case .mul:
                let x = regs[Instruction.b(i)], y = regs[Instruction.c(i)]
                if Value.bothInlineInts(x, y) {
                    let (r, o) = x.asInlineInt.multipliedReportingOverflow(by: y.asInlineInt)
                    if !o && Value.fitsInline(r) { regs[Instruction.a(i)] = Value(inlineInt: r); continue }
                } else if x.isDouble && y.isDouble {
                    regs[Instruction.a(i)] = Value(bits: (x.asDouble * y.asDouble).bitPattern); continue
                } else if x.isFastNumber && y.isFastNumber {
                    regs[Instruction.a(i)] = Value(bits: (x.fastNumberAsDouble * y.fastNumberAsDouble).bitPattern); continue
                }
                frame.pointee.pc = pc
                if let v = arithmetic(.multiply, x, y) { regs[Instruction.a(i)] = v; continue }
            case .div:
                let x = regs[Instruction.b(i)], y = regs[Instruction.c(i)]
                if Value.bothInlineInts(x, y) {
                    // A zero divisor takes the slow path, which raises; -2^47 / -1 leaves the
                    // inline range and is boxed there.
                    if y.asInlineInt != 0 {
                        let r = x.asInlineInt / y.asInlineInt
                        if Value.fitsInline(r) { regs[Instruction.a(i)] = Value(inlineInt: r); continue }
                    }
                } else if x.isDouble && y.isDouble {
                    regs[Instruction.a(i)] = Value(bits: (x.asDouble / y.asDouble).bitPattern); continue
                } else if x.isFastNumber && y.isFastNumber {
                    regs[Instruction.a(i)] = Value(bits: (x.fastNumberAsDouble / y.fastNumberAsDouble).bitPattern); continue
                }
                frame.pointee.pc = pc
                if let v = arithmetic(.divide, x, y) { regs[Instruction.a(i)] = v; continue }
            case .mod:
                let x = regs[Instruction.b(i)], y = regs[Instruction.c(i)]
                if Value.bothInlineInts(x, y) && y.asInlineInt != 0 {
                    regs[Instruction.a(i)] = Value(inlineInt: x.asInlineInt % y.asInlineInt); continue
                }
                frame.pointee.pc = pc
                if let v = arithmetic(.remainder, x, y) { regs[Instruction.a(i)] = v; continue }
            case .band, .bor, .bxor, .shl, .shr:
                let x = regs[Instruction.b(i)], y = regs[Instruction.c(i)]
                frame.pointee.pc = pc
                if let v = bitwise(Instruction.op(i), x, y) { regs[Instruction.a(i)] = v; continue }
            case .addK:
                let x = regs[Instruction.b(i)], y = k[Instruction.c(i)]
                if Value.bothInlineInts(x, y) {
                    let r = x.asInlineInt &+ y.asInlineInt
                    if Value.fitsInline(r) { regs[Instruction.a(i)] = Value(inlineInt: r); continue }
                } else if x.isDouble && y.isDouble {
                    regs[Instruction.a(i)] = Value(bits: (x.asDouble + y.asDouble).bitPattern); continue
                } else if x.isFastNumber && y.isFastNumber {
                    regs[Instruction.a(i)] = Value(bits: (x.fastNumberAsDouble + y.fastNumberAsDouble).bitPattern); continue
                }
                frame.pointee.pc = pc
                if let v = arithmetic(.add, x, y) { regs[Instruction.a(i)] = v; continue }
            case .subK:
                let x = regs[Instruction.b(i)], y = k[Instruction.c(i)]
                if Value.bothInlineInts(x, y) {
                    let r = x.asInlineInt &- y.asInlineInt
                    if Value.fitsInline(r) { regs[Instruction.a(i)] = Value(inlineInt: r); continue }
                } else if x.isFastNumber && y.isFastNumber {
                    regs[Instruction.a(i)] = Value(bits: (x.fastNumberAsDouble - y.fastNumberAsDouble).bitPattern); continue
                }
                frame.pointee.pc = pc
                if let v = arithmetic(.subtract, x, y) { regs[Instruction.a(i)] = v; continue }
            case .mulK:
                let x = regs[Instruction.b(i)], y = k[Instruction.c(i)]
                if Value.bothInlineInts(x, y) {
                    let (r, o) = x.asInlineInt.multipliedReportingOverflow(by: y.asInlineInt)
                    if !o && Value.fitsInline(r) { regs[Instruction.a(i)] = Value(inlineInt: r); continue }
                } else if x.isDouble && y.isDouble {
                    regs[Instruction.a(i)] = Value(bits: (x.asDouble * y.asDouble).bitPattern); continue
                } else if x.isFastNumber && y.isFastNumber {
                    regs[Instruction.a(i)] = Value(bits: (x.fastNumberAsDouble * y.fastNumberAsDouble).bitPattern); continue
                }
                frame.pointee.pc = pc
                if let v = arithmetic(.multiply, x, y) { regs[Instruction.a(i)] = v; continue }
            case .divK:
                let x = regs[Instruction.b(i)], y = k[Instruction.c(i)]
                if Value.bothInlineInts(x, y) {
                    // A zero divisor takes the slow path, which raises; -2^47 / -1 leaves the
                    // inline range and is boxed there.
                    if y.asInlineInt != 0 {
                        let r = x.asInlineInt / y.asInlineInt
                        if Value.fitsInline(r) { regs[Instruction.a(i)] = Value(inlineInt: r); continue }
                    }
                } else if x.isDouble && y.isDouble {
                    regs[Instruction.a(i)] = Value(bits: (x.asDouble / y.asDouble).bitPattern); continue
                } else if x.isFastNumber && y.isFastNumber {
                    regs[Instruction.a(i)] = Value(bits: (x.fastNumberAsDouble / y.fastNumberAsDouble).bitPattern); continue
                }
                frame.pointee.pc = pc
                if let v = arithmetic(.divide, x, y) { regs[Instruction.a(i)] = v; continue }
            case .modK:
                let x = regs[Instruction.b(i)], y = k[Instruction.c(i)]
                if Value.bothInlineInts(x, y) && y.asInlineInt != 0 {
                    regs[Instruction.a(i)] = Value(inlineInt: x.asInlineInt % y.asInlineInt); continue
                }
                frame.pointee.pc = pc
                if let v = arithmetic(.remainder, x, y) { regs[Instruction.a(i)] = v; continue }
            case .addI:
                let x = regs[Instruction.b(i)]
                if x.isInlineInt {
                    let r = x.asInlineInt &+ Instruction.sc(i)
                    if Value.fitsInline(r) { regs[Instruction.a(i)] = Value(inlineInt: r); continue }
                } else if x.isDouble {
                    regs[Instruction.a(i)] = Value(bits: (x.asDouble + Double(Instruction.sc(i))).bitPattern); continue
                }
                frame.pointee.pc = pc
                if let v = arithmetic(.add, x, Value(inlineInt: Instruction.sc(i))) { regs[Instruction.a(i)] = v; continue }

            case .subI:
                let x = regs[Instruction.b(i)]
                if x.isInlineInt {
                    let r = x.asInlineInt &- Instruction.sc(i)
                    if Value.fitsInline(r) { regs[Instruction.a(i)] = Value(inlineInt: r); continue }
                } else if x.isDouble {
                    regs[Instruction.a(i)] = Value(bits: (x.asDouble - Double(Instruction.sc(i))).bitPattern); continue
                }
                frame.pointee.pc = pc
                if let v = arithmetic(.subtract, x, Value(inlineInt: Instruction.sc(i))) { regs[Instruction.a(i)] = v; continue }

            // MARK: unary
            case .neg:
                let x = regs[Instruction.b(i)]
                if x.isInlineInt && x.asInlineInt != Value.inlineIntMin {
                    regs[Instruction.a(i)] = Value(inlineInt: -x.asInlineInt); continue
                } else if x.isDouble {
                    regs[Instruction.a(i)] = Value(bits: (-x.asDouble).bitPattern); continue
                }
                frame.pointee.pc = pc
                if let v = negate(x) { regs[Instruction.a(i)] = v; continue }
            case .bnot:
                let x = regs[Instruction.b(i)]
                if x.isInlineInt { regs[Instruction.a(i)] = Value(inlineInt: ~x.asInlineInt); continue }
                frame.pointee.pc = pc
                if let v = bitwiseNot(x) { regs[Instruction.a(i)] = v; continue }
            case .not:
                regs[Instruction.a(i)] = Value(bool: !regs[Instruction.b(i)].isTruthy)
                continue

            // MARK: comparisons
            case .eq, .ne:
                let x = regs[Instruction.b(i)], y = regs[Instruction.c(i)]
                var equal = (x.bits == y.bits && !x.isDouble) || valuesEqual(x, y)
                if !equal && x.isObject(.instance) {
                    // A class's `==` method (Runtime/OperatorMethods.swift).
                    frame.pointee.pc = pc
                    guard let r = instanceEquals(x, y) else { break }
                    equal = r
                }
                regs[Instruction.a(i)] = Value(bool: equal == (Instruction.op(i) == .eq))
                continue
            case .lt, .le:
                let x = regs[Instruction.b(i)], y = regs[Instruction.c(i)]
                let strict = Instruction.op(i) == .lt
                if Value.bothInlineInts(x, y) {
                    let r = strict ? x.asInlineInt < y.asInlineInt : x.asInlineInt <= y.asInlineInt
                    regs[Instruction.a(i)] = Value(bool: r); continue
                }
                frame.pointee.pc = pc
                if let r = compare(x, y, strict: strict) { regs[Instruction.a(i)] = Value(bool: r); continue }
            case .gt, .ge:
                let x = regs[Instruction.b(i)], y = regs[Instruction.c(i)]
                let strict = Instruction.op(i) == .gt
                if Value.bothInlineInts(x, y) {
                    let r = strict ? x.asInlineInt > y.asInlineInt : x.asInlineInt >= y.asInlineInt
                    regs[Instruction.a(i)] = Value(bool: r); continue
                }
                frame.pointee.pc = pc
                if let r = compare(y, x, strict: strict, swapped: true) { regs[Instruction.a(i)] = Value(bool: r); continue }

            // MARK: conditional jumps
            case .testEq:
                let x = regs[Instruction.a(i)], y = regs[Instruction.b(i)]
                var equal = (x.bits == y.bits && !x.isDouble) || valuesEqual(x, y)
                if !equal && x.isObject(.instance) {
                    frame.pointee.pc = pc
                    guard let r = instanceEquals(x, y) else { break }
                    equal = r
                }
                if equal == (Instruction.c(i) != 0) { pc &+= 1 &+ Instruction.sj(code[pc]) } else { pc &+= 1 }
                continue
            case .testEqK:
                let x = regs[Instruction.a(i)], y = k[Instruction.b(i)]
                let equal = (x.bits == y.bits && !x.isDouble) || valuesEqual(x, y)
                if equal == (Instruction.c(i) != 0) { pc &+= 1 &+ Instruction.sj(code[pc]) } else { pc &+= 1 }
                continue
            case .testLt:
                let x = regs[Instruction.a(i)], y = regs[Instruction.b(i)]
                let r: Bool
                if Value.bothInlineInts(x, y) { r = x.asInlineInt < y.asInlineInt }
                else if x.isDouble && y.isDouble { r = x.asDouble < y.asDouble }
                else {
                    frame.pointee.pc = pc
                    guard let c = compare(x, y, strict: true, swapped: Instruction.c(i) & 2 != 0) else { break }
                    r = c
                }
                if r == (Instruction.c(i) & 1 != 0) { pc &+= 1 &+ Instruction.sj(code[pc]) } else { pc &+= 1 }
                continue
            case .testLe:
                let x = regs[Instruction.a(i)], y = regs[Instruction.b(i)]
                let r: Bool
                if Value.bothInlineInts(x, y) { r = x.asInlineInt <= y.asInlineInt }
                else if x.isDouble && y.isDouble { r = x.asDouble <= y.asDouble }
                else {
                    frame.pointee.pc = pc
                    guard let c = compare(x, y, strict: false, swapped: Instruction.c(i) & 2 != 0) else { break }
                    r = c
                }
                if r == (Instruction.c(i) & 1 != 0) { pc &+= 1 &+ Instruction.sj(code[pc]) } else { pc &+= 1 }
                continue
            case .testLtI:
                let x = regs[Instruction.a(i)]
                let r: Bool
                if x.isInlineInt {
                    r = x.asInlineInt < Instruction.sb(i)
                } else {
                    frame.pointee.pc = pc
                    let y = Value(inlineInt: Instruction.sb(i))
                    guard let c = compare(x, y, strict: true) else { break }
                    r = c
                }
                if r == (Instruction.c(i) != 0) { pc &+= 1 &+ Instruction.sj(code[pc]) } else { pc &+= 1 }
                continue
            case .testLeI:
                let x = regs[Instruction.a(i)]
                let r: Bool
                if x.isInlineInt {
                    r = x.asInlineInt <= Instruction.sb(i)
                } else {
                    frame.pointee.pc = pc
                    let y = Value(inlineInt: Instruction.sb(i))
                    guard let c = compare(x, y, strict: false) else { break }
                    r = c
                }
                if r == (Instruction.c(i) != 0) { pc &+= 1 &+ Instruction.sj(code[pc]) } else { pc &+= 1 }
                continue
            case .testGtI:
                let x = regs[Instruction.a(i)]
                let r: Bool
                if x.isInlineInt {
                    r = x.asInlineInt > Instruction.sb(i)
                } else {
                    frame.pointee.pc = pc
                    let y = Value(inlineInt: Instruction.sb(i))
                    guard let c = compare(y, x, strict: true, swapped: true) else { break }
                    r = c
                }
                if r == (Instruction.c(i) != 0) { pc &+= 1 &+ Instruction.sj(code[pc]) } else { pc &+= 1 }
                continue
            case .testGeI:
                let x = regs[Instruction.a(i)]
                let r: Bool
                if x.isInlineInt {
                    r = x.asInlineInt >= Instruction.sb(i)
                } else {
                    frame.pointee.pc = pc
                    let y = Value(inlineInt: Instruction.sb(i))
                    guard let c = compare(y, x, strict: false, swapped: true) else { break }
                    r = c
                }
                if r == (Instruction.c(i) != 0) { pc &+= 1 &+ Instruction.sj(code[pc]) } else { pc &+= 1 }
                continue
            case .test:
                if regs[Instruction.a(i)].isTruthy == (Instruction.c(i) != 0) {
                    pc &+= 1 &+ Instruction.sj(code[pc])
                } else {
                    pc &+= 1
                }
                continue
            case .testArg:
                if regs[Instruction.a(i)].bits != Value.undefined.bits {
                    pc &+= 1 &+ Instruction.sj(code[pc])
                } else {
                    pc &+= 1
                }
                continue
            case .jmp:
                let offset = Instruction.sj(i)
                if offset < 0 {
                    // A loop back-edge: charge the loop body (Runtime/Limits.swift).
                    fuel &+= offset
                    if fuel < 0 {
                        frame.pointee.pc = pc
                        if !checkLimits() { break }
                    }
                }
                pc &+= offset
                continue

            // MARK: calls and returns
            case .call:
                let a = Instruction.a(i)
                let callee = regs[a]
                if callee.isObject(.closure) {
                    let target = callee.obj(ObjClosure.self)
                    let f = target.pointee.function
                    let newBase = index(regs) &+ a
                    if f.pointee.arity == Instruction.b(i) && frameCount < frameLimit
                        && newBase &+ f.pointee.maxRegisters <= stackLimit {
                        frame.pointee.pc = pc
                        fuel &-= f.pointee.codeCount  // a call: charge the callee's length
                        if fuel < 0 && !checkLimits() { break }
                        let top = newBase &+ f.pointee.maxRegisters
                        if top > stackHighWater { stackHighWater = top }
                        frame += 1
                        frameCount += 1
                        frame.pointee = CallFrame(closure: target, pc: 0, base: newBase, isBoundary: false)
                        closure = target
                        code = UnsafePointer(f.pointee.code)
                        k = UnsafePointer(f.pointee.constants)
                        regs = stack + newBase
                        globals = f.pointee.module.unsafelyUnwrapped.pointee.variables
                        pc = 0
                        continue
                    }
                } else if callee.isObject(.native) {
                    // A host native with a direct entry (a plugin export, a raw FFI function):
                    // called here, without a closure or `callSlow`'s dispatch.
                    let n = callee.obj(ObjNative.self)
                    if let entry = n.pointee.entry, n.pointee.arity == Instruction.b(i) {
                        frame.pointee.pc = pc
                        let r = entry(n.pointee.target.unsafelyUnwrapped,
                                      NativeCall(rt: self, args: regs + (a &+ 1), count: Instruction.b(i)))
                        if r.bits != Runtime.failure.bits { regs[a] = r; continue }
                        break
                    }
                }
                frame.pointee.pc = pc
                let outcome = callSlow(base: index(regs) &+ a, argc: Instruction.b(i))
                if outcome == .done { continue }
                if outcome == .pushed {
                    frame = frames + (frameCount - 1)
                    closure = frame.pointee.closure
                    let function = closure.pointee.function
                    code = UnsafePointer(function.pointee.code)
                    k = UnsafePointer(function.pointee.constants)
                    regs = stack + frame.pointee.base
                    globals = function.pointee.module.unsafelyUnwrapped.pointee.variables
                    pc = frame.pointee.pc
                    continue
                }
            case .invoke:
                let a = Instruction.a(i)
                let receiver = regs[a]
                let name = k[Instruction.extraValue(code[pc])].obj(ObjString.self)
                pc &+= 1
                if receiver.isObject(.instance) {
                    let inst = receiver.obj(ObjInstance.self)
                    // Calls look up methods first, then fields (docs/language.md).
                    if let m = inst.pointee.klass.pointee.methods.get(name), m.isObject(.closure) {
                        let target = m.obj(ObjClosure.self)
                        let f = target.pointee.function
                        let newBase = index(regs) &+ a
                        if f.pointee.arity == Instruction.b(i) && frameCount < frameLimit
                            && newBase &+ f.pointee.maxRegisters <= stackLimit {
                            frame.pointee.pc = pc
                            fuel &-= f.pointee.codeCount
                            if fuel < 0 && !checkLimits() { break }
                            let top = newBase &+ f.pointee.maxRegisters
                            if top > stackHighWater { stackHighWater = top }
                            frame += 1
                            frameCount += 1
                            frame.pointee = CallFrame(closure: target, pc: 0, base: newBase, isBoundary: false)
                            closure = target
                            code = UnsafePointer(f.pointee.code)
                            k = UnsafePointer(f.pointee.constants)
                            regs = stack + newBase
                            globals = f.pointee.module.unsafelyUnwrapped.pointee.variables
                            pc = 0
                            continue
                        }
                    }
                } else if receiver.isObject, let m = methodTables[Int(receiver.header.pointee.kind.rawValue)].get(name) {
                    // A method of a built-in type (list.push, map.get, …): call the native here.
                    let native = m.obj(ObjNative.self)
                    if native.pointee.arity < 0 || native.pointee.arity == Instruction.b(i) {
                        frame.pointee.pc = pc
                        let r = native.pointee.body(self, regs + a, Instruction.b(i) &+ 1)
                        if r.bits != Runtime.failure.bits { regs[a] = r; continue }
                        break
                    }
                } else if receiver.isObject(.module) {
                    // `module.fn(…)` on a native with a direct entry: see `callModuleEntry`.
                    frame.pointee.pc = pc
                    let r = callModuleEntry(receiver.obj(ObjModule.self), name, args: regs + (a &+ 1), argc: Instruction.b(i))
                    if r.bits != Value.empty.bits {
                        if r.bits != Runtime.failure.bits { regs[a] = r; continue }
                        break
                    }
                }
                frame.pointee.pc = pc
                // A native that parks here runs again from this INVOKE; invokeSlow may have
                // put the method in the receiver's register (Concurrency/Runtime+Fibers.swift).
                invokeReceiver = receiver
                let outcome = invokeSlow(base: index(regs) &+ a, argc: Instruction.b(i), name: name)
                // Kept only for a park (`noteParked` takes it): left over after an error, it
                // would be written into the register of the next INVOKE that parks.
                if outcome != .failed || !suspendRequested { invokeReceiver = .nil }
                if outcome == .done { continue }
                if outcome == .pushed {
                    frame = frames + (frameCount - 1)
                    closure = frame.pointee.closure
                    let function = closure.pointee.function
                    code = UnsafePointer(function.pointee.code)
                    k = UnsafePointer(function.pointee.constants)
                    regs = stack + frame.pointee.base
                    globals = function.pointee.module.unsafelyUnwrapped.pointee.variables
                    pc = frame.pointee.pc
                    continue
                }
            case .ret, .retNil:
                // NOTE: initialisers always end in `RETURN 0` (the compiler emits it for every
                // exit of `init`), so no check for them is needed here.
                let result = Instruction.op(i) == .ret ? regs[Instruction.a(i)] : Value.nil
                let base = index(regs)
                if let open = openUpvalues, open.pointee.stackIndex >= base { closeUpvalues(from: base) }
                if handlerCount > 0 { dropHandlers(aboveFrame: frameCount - 1) }
                regs[0] = result
                frameCount -= 1
                if frame.pointee.isBoundary { return result }
                frame -= 1
                closure = frame.pointee.closure
                let function = closure.pointee.function
                code = UnsafePointer(function.pointee.code)
                k = UnsafePointer(function.pointee.constants)
                regs = stack + frame.pointee.base
                globals = function.pointee.module.unsafelyUnwrapped.pointee.variables
                pc = frame.pointee.pc
                continue
            case .closure:
                frame.pointee.pc = pc
                makeClosure(into: regs + Instruction.a(i), function: k[Instruction.bx(i)].obj(ObjFunction.self),
                            enclosing: closure, base: index(regs))
                continue
            case .close:
                let from = index(regs) &+ Instruction.a(i)
                if let open = openUpvalues, open.pointee.stackIndex >= from { closeUpvalues(from: from) }
                continue

            // MARK: collections and fields
            case .newList:
                frame.pointee.pc = pc
                let l = newList(capacity: Instruction.b(i))
                regs[Instruction.a(i)] = Value(l)
                continue
            case .append:
                let l = regs[Instruction.a(i)].obj(ObjList.self)
                let b = Instruction.b(i)
                frame.pointee.pc = pc
                for j in 0..<Instruction.c(i) { append(l, regs[b + j]) }
                continue
            case .newMap:
                frame.pointee.pc = pc
                regs[Instruction.a(i)] = Value(newMap())
                continue
            case .getIndex:
                let container = regs[Instruction.b(i)], index = regs[Instruction.c(i)]
                if container.isObject(.list) && index.isInlineInt {
                    let l = container.obj(ObjList.self)
                    var n = Int(index.asInlineInt)
                    if n < 0 { n += l.pointee.count }
                    if n >= 0 && n < l.pointee.count { regs[Instruction.a(i)] = l.pointee.items.unsafelyUnwrapped[n]; continue }
                }
                frame.pointee.pc = pc
                if let v = getIndex(container, index) { regs[Instruction.a(i)] = v; continue }
            case .setIndex:
                let container = regs[Instruction.a(i)], index = regs[Instruction.b(i)]
                if container.isObject(.list) && index.isInlineInt {
                    let l = container.obj(ObjList.self)
                    var n = Int(index.asInlineInt)
                    if n < 0 { n += l.pointee.count }
                    if n >= 0 && n < l.pointee.count { l.pointee.items.unsafelyUnwrapped[n] = regs[Instruction.c(i)]; continue }
                }
                frame.pointee.pc = pc
                if setIndex(container, index, regs[Instruction.c(i)]) { continue }
            case .slice:
                frame.pointee.pc = pc
                let c = Instruction.c(i)
                if let v = slice(regs[Instruction.b(i)], regs[c], regs[c + 1]) { regs[Instruction.a(i)] = v; continue }
            case .getField:
                let object = regs[Instruction.b(i)]
                let name = k[Instruction.extraValue(code[pc])].obj(ObjString.self)
                pc &+= 1
                if object.isObject(.instance), let v = object.obj(ObjInstance.self).pointee.fields.get(name) {
                    regs[Instruction.a(i)] = v; continue
                }
                frame.pointee.pc = pc
                if let v = getField(object, name) { regs[Instruction.a(i)] = v; continue }
            case .setField:
                let object = regs[Instruction.a(i)]
                let name = k[Instruction.extraValue(code[pc])].obj(ObjString.self)
                pc &+= 1
                if object.isObject(.instance)
                    && object.obj(ObjInstance.self).pointee.fields.replaceExisting(name, regs[Instruction.c(i)]) {
                    continue
                }
                frame.pointee.pc = pc
                if setField(object, name, regs[Instruction.c(i)]) { continue }
            case .range:
                frame.pointee.pc = pc
                let b = Instruction.b(i)
                if let v = makeRange(regs[b], regs[b + 1], inclusive: Instruction.c(i) != 0) { regs[Instruction.a(i)] = v; continue }

            // MARK: classes
            case .newClass:
                frame.pointee.pc = pc
                regs[Instruction.a(i)] = Value(newClass(name: k[Instruction.bx(i)]))
                continue
            case .inherit:
                frame.pointee.pc = pc
                if inherit(regs[Instruction.a(i)], from: regs[Instruction.b(i)]) { continue }
            case .method:
                let name = k[Instruction.extraValue(code[pc])].obj(ObjString.self)
                pc &+= 1
                setMethod(regs[Instruction.a(i)].obj(ObjClass.self), name, regs[Instruction.b(i)])
                continue
            case .getSuper:
                let name = k[Instruction.extraValue(code[pc])].obj(ObjString.self)
                pc &+= 1
                frame.pointee.pc = pc
                if let v = superMethod(regs[Instruction.b(i)], name, receiver: regs[Instruction.c(i)]) {
                    regs[Instruction.a(i)] = v; continue
                }

            // MARK: loops
            case .forPrep:
                let a = Instruction.a(i)
                let jump = Instruction.extraValue(code[pc])
                pc &+= 1
                frame.pointee.pc = pc
                if let enter = forPrepare(regs + a, inclusive: Instruction.c(i) != 0) {
                    if !enter { pc &+= jump }
                    continue
                }
            case .forLoop:
                let a = Instruction.a(i)
                let index = regs[a], limit = regs[a + 1]
                if Value.bothInlineInts(index, limit) {
                    let next = index.asInlineInt &+ 1
                    if next < limit.asInlineInt {
                        let v = Value(inlineInt: next)
                        regs[a] = v
                        regs[a + 2] = v
                        let offset = Instruction.extraValue(code[pc])
                        fuel &+= offset  // a back-edge: charge the loop body
                        if fuel < 0 {
                            frame.pointee.pc = pc
                            if !checkLimits() { break }
                        }
                        pc &+= 1 &+ offset
                    } else {
                        pc &+= 1
                    }
                    continue
                }
                frame.pointee.pc = pc
                if forStepSlow(regs + a) {
                    let offset = Instruction.extraValue(code[pc])
                    fuel &+= offset
                    if fuel < 0 && !checkLimits() { break }
                    pc &+= 1 &+ offset
                } else {
                    pc &+= 1
                }
                continue
            case .iterPrep:
                frame.pointee.pc = pc
                if iterPrepare(regs + Instruction.a(i)) { continue }
            case .iterNext:
                let jump = Instruction.extraValue(code[pc])
                pc &+= 1
                frame.pointee.pc = pc
                let r = iterNext(regs + Instruction.a(i), pair: Instruction.b(i) == 2)
                if r > 0 { continue }
                if r == 0 { pc &+= jump; continue }

            // MARK: errors, modules, strings
            case .tryBegin:
                let jump = Instruction.extraValue(code[pc])
                pc &+= 1
                beginTry(catchPC: pc + jump, register: index(regs) &+ Instruction.a(i), mode: Instruction.b(i))
                continue
            case .tryEnd:
                handlerCount -= 1
                continue
            case .throwValue:
                frame.pointee.pc = pc
                throwValue(regs[Instruction.a(i)])
            case .assertFail:
                frame.pointee.pc = pc
                assertionFailed(message: Instruction.b(i) == 1 ? regs[Instruction.a(i)] : nil)
            case .importModule:
                frame.pointee.pc = pc
                if let m = importModule(k[Instruction.bx(i)], from: closure.pointee.function) {
                    regs[Instruction.a(i)] = m
                    continue
                }
            case .toStr:
                let x = regs[Instruction.b(i)]
                if x.isString { regs[Instruction.a(i)] = x; continue }
                frame.pointee.pc = pc
                if let s = toStringValue(x) { regs[Instruction.a(i)] = s; continue }
            case .concat:
                frame.pointee.pc = pc
                if let s = concatenate(regs + Instruction.b(i), count: Instruction.c(i)) { regs[Instruction.a(i)] = s; continue }
            case .isInstance:
                frame.pointee.pc = pc
                if let r = isInstance(regs[Instruction.b(i)], of: regs[Instruction.c(i)]) {
                    regs[Instruction.a(i)] = Value(bool: r); continue
                }
            case .isType:
                regs[Instruction.a(i)] = Value(bool: hasBuiltinType(regs[Instruction.b(i)], Instruction.c(i)))
                continue
            case .contains:
                frame.pointee.pc = pc
                if let v = membership(regs[Instruction.b(i)], in: regs[Instruction.c(i)]) { regs[Instruction.a(i)] = v; continue }
            case .unpack:
                frame.pointee.pc = pc
                if unpack(regs[Instruction.b(i)], count: Instruction.c(i), into: regs + Instruction.a(i)) { continue }
            case .unpackKey:
                let key = k[Instruction.extraValue(code[pc])].obj(ObjString.self)
                pc &+= 1
                frame.pointee.pc = pc
                if let v = unpackKey(regs[Instruction.b(i)], key) { regs[Instruction.a(i)] = v; continue }
            case .extend:
                frame.pointee.pc = pc
                if extend(regs[Instruction.a(i)], with: regs[Instruction.b(i)]) { continue }
            case .spread:
                frame.pointee.pc = pc
                if spreadArguments(base: index(regs) &+ Instruction.a(i)) { continue }
            case .named:
                preparedArgc = Instruction.b(i)
                continue
            case .callable:
                let name = k[Instruction.extraValue(code[pc])].obj(ObjString.self)
                pc &+= 1
                frame.pointee.pc = pc
                if let v = callableMember(regs[Instruction.a(i)], name) { regs[Instruction.a(i)] = v; continue }
            case .extra:
                continue
            }

            // The running fiber parked (Concurrency/Runtime+Fibers.swift): back to the scheduler.
            if suspendRequested {
                suspendRequested = false
                frame.pointee.pc = pc
                noteParked(pc: pc, code: code, regs: regs)
                return Runtime.suspended
            }
            // An error was raised: the receiver an INVOKE kept for a park is stale (noteParked
            // would put it into the register of a later INVOKE that parks). Find the
            // innermost handler inside this execution.
            invokeReceiver = .nil
            guard let h = unwindToHandler(entryFrame: entryFrame) else { return nil }
            frame = frames + h.frameIndex
            closure = frame.pointee.closure
            let function = closure.pointee.function
            code = UnsafePointer(function.pointee.code)
            k = UnsafePointer(function.pointee.constants)
            regs = stack + frame.pointee.base
            globals = function.pointee.module.unsafelyUnwrapped.pointee.variables
            pc = h.catchPC
        }
    }
}
