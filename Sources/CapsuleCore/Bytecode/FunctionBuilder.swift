#if canImport(Glibc)
import Glibc
#endif

extension Runtime {
    /// Creates a heap function from compiled parts, after verifying the bytecode: every
    /// register, constant, upvalue and jump target is in range, and every instruction that
    /// needs an EXTRA word has one. The interpreter relies on this and does not re-check.
    func makeFunction(code: [UInt32], lines: [Int32], constants: [Value], upvalues: [UInt16],
                      debug: FunctionDebugInfo,
                      arity: Int, requiredCount: Int? = nil, hasRest: Bool = false, paramNames: [String] = [],
                      maxRegisters: Int, name: String, className: String,
                      module: UnsafeMutablePointer<ObjModule>?, isInitializer: Bool, isMethod: Bool) -> UnsafeMutablePointer<ObjFunction> {
        let required = requiredCount ?? arity
        precondition(BytecodeVerifier.verify(code: code, constantCount: constants.count, upvalueCount: upvalues.count,
                                             maxRegisters: maxRegisters) == nil,
                     "capsule: compiler produced invalid bytecode in \(name): \(BytecodeVerifier.verify(code: code, constantCount: constants.count, upvalueCount: upvalues.count, maxRegisters: maxRegisters) ?? "")")
        var names = Value.nil
        if !paramNames.isEmpty {
            let list = newList(capacity: paramNames.count)
            names = Value(list)
            pushRoot(names)
            for p in paramNames { append(list, Value(intern(p))) }
            popRoot()
        }
        pushRoot(names)
        let nameValue = Value(intern(name))
        pushRoot(nameValue)
        let classValue = className.isEmpty ? Value.nil : Value(intern(className))
        pushRoot(classValue)
        defer { popRoot(3) }
        let f = allocateObject(kind: .function, size: MemoryLayout<ObjFunction>.stride).assumingMemoryBound(to: ObjFunction.self)
        let codePtr = malloc(max(1, code.count) * 4)!.assumingMemoryBound(to: UInt32.self)
        code.withUnsafeBufferPointer { codePtr.update(from: $0.baseAddress!, count: code.count) }
        let linePtr = malloc(max(1, lines.count) * 4)!.assumingMemoryBound(to: Int32.self)
        lines.withUnsafeBufferPointer { if !lines.isEmpty { linePtr.update(from: $0.baseAddress!, count: lines.count) } }
        let constPtr = malloc(max(1, constants.count) * 8)!.assumingMemoryBound(to: Value.self)
        for (i, c) in constants.enumerated() { constPtr[i] = c }
        var upPtr: UnsafeMutablePointer<UInt16>? = nil
        if !upvalues.isEmpty {
            upPtr = malloc(upvalues.count * 2)!.assumingMemoryBound(to: UInt16.self)
            for (i, u) in upvalues.enumerated() { upPtr![i] = u }
        }
        f.pointee.code = codePtr
        f.pointee.codeCount = code.count
        f.pointee.constants = constPtr
        f.pointee.constantCount = constants.count
        f.pointee.lines = linePtr
        f.pointee.upvalueDescs = upPtr
        f.pointee.upvalueCount = upvalues.count
        // A function with defaults or a rest parameter has no fixed arity: the fast path of
        // CALL never matches it.
        f.pointee.arity = required < arity || hasRest ? -1 : arity
        f.pointee.requiredCount = required
        f.pointee.paramCount = arity
        f.pointee.hasRest = hasRest
        f.pointee.paramNames = names
        f.pointee.maxRegisters = maxRegisters
        f.pointee.name = nameValue
        f.pointee.module = module
        f.pointee.isInitializer = isInitializer
        f.pointee.isMethod = isMethod
        f.pointee.className = classValue
        precondition(debug.columns.count == code.count, "capsule: compiler produced a column table of the wrong length in \(name)")
        f.pointee.debug = Unmanaged.passRetained(debug)
        accountExternal(code.count * 8 + constants.count * 8 + upvalues.count * 2)
        return f
    }
}

/// Checks bytecode once, when a function is made, so the interpreter can trust it.
enum BytecodeVerifier {
    static let needsExtra: Set<Opcode> = [.invoke, .getField, .setField, .method, .getSuper, .forPrep, .forLoop, .iterNext, .tryBegin,
                                          .unpackKey, .callable]

    /// Returns nil when the code is valid, else a description of the first problem.
    static func verify(code: [UInt32], constantCount: Int, upvalueCount: Int, maxRegisters: Int) -> String? {
        guard let last = code.last, [.ret, .retNil, .jmp, .throwValue].contains(Instruction.op(last)) || code.count > 1 else {
            return code.isEmpty ? "empty code" : nil
        }
        var pc = 0
        func reg(_ r: Int, _ span: Int = 1) -> Bool { r >= 0 && r + span <= maxRegisters }
        func target(_ from: Int, _ offset: Int) -> Bool { let t = from + offset; return t >= 0 && t < code.count }
        while pc < code.count {
            let i = code[pc]
            guard let op = Opcode(rawValue: UInt8(truncatingIfNeeded: i)) else { return "bad opcode at \(pc)" }
            let a = Instruction.a(i), b = Instruction.b(i), c = Instruction.c(i)
            var ok = true
            switch op {
            case .move, .neg, .bnot, .not, .toStr: ok = reg(a) && reg(b)
            case .loadK: ok = reg(a) && Instruction.bx(i) < constantCount
            case .loadI, .loadNil, .loadTrue, .loadFalse, .ret, .close, .throwValue, .newMap, .newList, .iterPrep, .tryBegin:
                ok = reg(a)
                if op == .tryBegin { ok = b <= 2 && reg(a, b == 2 ? 2 : 1) }
                if op == .iterPrep { ok = reg(a, 5) }
            case .retNil, .tryEnd: ok = true
            case .getGlobal, .setGlobal, .defGlobal: ok = reg(a)  // slot checked at run time against the module
            case .getUpval, .setUpval: ok = reg(a) && b < upvalueCount
            case .add, .sub, .mul, .div, .mod, .band, .bor, .bxor, .shl, .shr, .eq, .ne, .lt, .le, .gt, .ge, .getIndex, .contains:
                ok = reg(a) && reg(b) && reg(c)
            case .addK, .subK, .mulK, .divK, .modK: ok = reg(a) && reg(b) && c < constantCount
            case .addI, .subI: ok = reg(a) && reg(b)
            case .testEq, .testLt, .testLe: ok = reg(a) && reg(b)
            case .testLtI, .testLeI, .testGtI, .testGeI, .test, .testArg: ok = reg(a)
            case .testEqK: ok = reg(a) && b < constantCount
            case .jmp: ok = target(pc + 1, Instruction.sj(i))
            case .call:
                if b >= Runtime.namedCall {
                    // Only right after the instruction that prepares its arguments.
                    let prefix: Opcode = b == Runtime.spreadCall ? .spread : .named
                    ok = reg(a, 2) && pc > 0 && Instruction.op(code[pc - 1]) == prefix && Instruction.a(code[pc - 1]) == a
                } else {
                    ok = reg(a, 1 + b)
                }
            case .invoke: ok = reg(a, 1 + b)
            case .closure: ok = reg(a) && Instruction.bx(i) < constantCount
            case .append: ok = reg(a) && reg(b, c)
            case .setIndex: ok = reg(a) && reg(b) && reg(c)
            case .slice: ok = reg(a) && reg(b) && reg(c, 2)
            case .getField: ok = reg(a) && reg(b)
            case .setField: ok = reg(a) && reg(c)
            case .range: ok = reg(a) && reg(b, 2)
            case .newClass: ok = reg(a) && Instruction.bx(i) < constantCount
            case .inherit, .method: ok = reg(a) && reg(b)
            case .getSuper: ok = reg(a) && reg(b) && reg(c)
            case .forPrep, .forLoop: ok = reg(a, 3)
            case .iterNext: ok = reg(a, 5)
            case .assertFail: ok = reg(a)
            case .importModule: ok = reg(a) && Instruction.bx(i) < constantCount
            case .concat: ok = reg(a) && reg(b, c)
            case .isInstance: ok = reg(a) && reg(b) && reg(c)
            case .isType: ok = reg(a) && reg(b) && c < Runtime.builtinTypeNames.count
            case .unpack: ok = reg(a, (c & 0x7F) + (c >> 7)) && reg(b)
            case .extend: ok = reg(a) && reg(b)
            case .spread, .callable: ok = reg(a, 2)
            case .named: ok = reg(a, b + 2)
            case .unpackKey: ok = reg(a) && reg(b)
            case .extra: return "stray EXTRA at \(pc)"
            }
            if !ok { return "operand out of range at \(pc) (\(op))" }
            // Conditional tests must be followed by a JMP.
            if [.testEq, .testLt, .testLe, .testLtI, .testLeI, .testGtI, .testGeI, .testEqK, .test, .testArg].contains(op) {
                guard pc + 1 < code.count, Instruction.op(code[pc + 1]) == .jmp else { return "test without jump at \(pc)" }
            }
            if needsExtra.contains(op) {
                guard pc + 1 < code.count, Instruction.op(code[pc + 1]) == .extra else { return "missing EXTRA at \(pc)" }
                let x = Instruction.extraValue(code[pc + 1])
                switch op {
                case .forPrep, .forLoop, .iterNext, .tryBegin:
                    if !target(pc + 2, x) && pc + 2 + x != code.count { return "jump out of range at \(pc)" }
                default:
                    if x < 0 || x >= constantCount { return "constant out of range at \(pc)" }
                }
                pc += 2
                continue
            }
            pc += 1
        }
        return nil
    }
}
