import CapsuleSyntax

extension Compiler {
    /// Compiles `e` and returns a register holding its value: a local's own register when
    /// `e` is a local variable, otherwise a new temporary.
    func expressionToAnyRegister(_ e: Expr) -> Int {
        if case .variable(let name) = e.kind, case .local(let r, _)? = resolve(name) { return r }
        if case .selfRef = e.kind, case .local(let r, _)? = resolve("self") { return r }
        return expressionToNewRegister(e)
    }

    func isLocalVariable(_ e: Expr) -> Bool {
        if case .variable(let name) = e.kind, case .local? = resolve(name) { return true }
        if case .selfRef = e.kind, case .local? = resolve("self") { return true }
        return false
    }

    func expressionToNewRegister(_ e: Expr) -> Int {
        let r = reserveRegisters()
        expression(e, into: r)
        return r
    }

    /// Compiles `e` so that its value ends up in register `dest`.
    func expression(_ e: Expr, into dest: Int) {
        setLine(e.loc)
        let top = fs.freeRegister
        defer { fs.freeRegister = max(top, dest + 1 > top ? top : top) }
        switch e.kind {
        case .nilLiteral: emit(Instruction.abc(.loadNil, dest))
        case .boolLiteral(let b): emit(Instruction.abc(b ? .loadTrue : .loadFalse, dest))
        case .intLiteral(let i): loadInt(i, into: dest)
        case .floatLiteral(let d): loadConstant(constant(.float(d.bitPattern)), into: dest)
        case .stringLiteral(let s): loadConstant(stringConstant(s), into: dest)
        case .interpolation(let parts):
            let base = reserveRegisters(max(1, parts.count))
            for (i, p) in parts.enumerated() {
                if case .stringLiteral = p.kind { expression(p, into: base + i) }
                else {
                    let r = expressionToAnyRegister(p)
                    setLine(p.loc)
                    emit(Instruction.abc(.toStr, base + i, r))
                }
                fs.freeRegister = base + parts.count
            }
            setLine(e.loc)
            emit(Instruction.abc(.concat, dest, base, parts.count))
        case .list(let items):
            emit(Instruction.abc(.newList, dest, min(items.count, 255)))
            var i = 0
            while i < items.count {
                if case .spread(let inner) = items[i].kind {
                    let r = expressionToAnyRegister(inner)
                    setLine(items[i].loc)
                    emit(Instruction.abc(.extend, dest, r))
                    fs.freeRegister = top
                    i += 1
                    continue
                }
                // A run of plain elements, up to the next `...`, 32 at a time.
                let run = items[i...].prefix { if case .spread = $0.kind { false } else { true } }.count
                let n = min(32, run)
                let base = reserveRegisters(n)
                for j in 0..<n { expression(items[i + j], into: base + j) }
                setLine(e.loc)
                emit(Instruction.abc(.append, dest, base, n))
                fs.freeRegister = base
                i += n
            }
        case .map(let entries):
            emit(Instruction.abc(.newMap, dest))
            for entry in entries {
                let k = expressionToAnyRegister(entry.key)
                let v = expressionToAnyRegister(entry.value)
                setLine(entry.key.loc)
                emit(Instruction.abc(.setIndex, dest, k, v))
                fs.freeRegister = top
            }
        case .variable(let name):
            variable(name, into: dest, at: e.loc)
        case .selfRef:
            guard let resolved = resolve("self"), isMethodContext else {
                error("'self' used outside of a method", at: e.loc)
                return
            }
            load(resolved, into: dest)
        case .superMember(let name):
            guard let sup = resolve("super"), let me = resolve("self"), isMethodContext else {
                error("'super' used outside of a method of a subclass", at: e.loc)
                return
            }
            let sr = reserveRegisters(2)
            load(sup, into: sr)
            load(me, into: sr + 1)
            setLine(e.loc)
            emit(Instruction.abc(.getSuper, dest, sr, sr + 1))
            emit(Instruction.extra(stringConstant(name)))
        case .unary(let op, let operand):
            unary(op, operand, into: dest, at: e.loc)
        case .binary(let op, let lhs, let rhs):
            binary(op, lhs, rhs, into: dest)
        case .logical(let op, let lhs, let rhs):
            expression(lhs, into: dest)
            // and: stop when falsy; or: stop when truthy.
            emit(Instruction.abc(.test, dest, 0, op == .and ? 0 : 1))
            let end = emitJump()
            expression(rhs, into: dest)
            patchJump(end)
        case .range(let lo, let hi, let inclusive):
            let base = reserveRegisters(2)
            expression(lo, into: base)
            expression(hi, into: base + 1)
            setLine(e.loc)
            emit(Instruction.abc(.range, dest, base, inclusive ? 1 : 0))
        case .typeTest(let value, let type):
            typeTest(value, type, into: dest, at: e.loc)
        case .call(let callee, let args):
            call(callee, args, into: dest, at: e.loc)
        case .member(let object, let name):
            let o = expressionToAnyRegister(object)
            setLine(e.loc)
            nameOperands(of: emit(Instruction.abc(.getField, dest, o)), object)
            emit(Instruction.extra(stringConstant(name)))
        case .index(let object, let index):
            let o = expressionToAnyRegister(object)
            let i = expressionToAnyRegister(index)
            setLine(e.loc)
            emit(Instruction.abc(.getIndex, dest, o, i))
        case .slice(let object, let lower, let upper):
            let o = expressionToAnyRegister(object)
            let bounds = reserveRegisters(2)
            if let lower { expression(lower, into: bounds) } else { emit(Instruction.abc(.loadNil, bounds)) }
            if let upper { expression(upper, into: bounds + 1) } else { emit(Instruction.abc(.loadNil, bounds + 1)) }
            setLine(e.loc)
            emit(Instruction.abc(.slice, dest, o, bounds))
        case .grouping(let inner):
            expression(inner, into: dest)
        case .spread:
            // The parser makes these only as arguments and list elements, handled there.
            error("'...' is only allowed in a call's arguments or a list", at: e.loc)
        case .named:
            error("a named argument is only allowed in a call", at: e.loc)
        case .spawn(let target):
            spawnExpression(target, into: dest, at: e.loc)
        case .selectedValue(let withOK):
            guard let selected = rt.internalNatives["selected"] else { return }
            let t = reserveRegisters(2)
            loadConstant(constant(.value(selected.bits)), into: t)
            emit(Instruction.abc(withOK ? .loadTrue : .loadFalse, t + 1))
            emit(Instruction.abc(.call, t, 1))
            if dest != t { emit(Instruction.abc(.move, dest, t)) }
        case .conditional(let condition, let then, let otherwise):
            let skipThen = conditionJump(condition, jumpWhen: false)
            expression(then, into: dest)
            let end = emitJump()
            skipThen.forEach(patchJump)
            expression(otherwise, into: dest)
            patchJump(end)
        case .function(let decl):
            let k = function(decl, kind: .function, name: decl.name ?? "<fn>")
            setLine(e.loc)
            emit(Instruction.abx(.closure, dest, constantOperand16(k)))
        }
    }

    var isMethodContext: Bool {
        var f: FunctionState? = fs
        while let current = f {
            if current.kind == .method || current.kind == .initializer { return true }
            f = current.enclosing
        }
        return false
    }

    func loadInt(_ i: Int64, into dest: Int) {
        if i >= -32767 && i <= 32768 { emit(Instruction.asbx(.loadI, dest, Int(i))) }
        else { loadConstant(constant(.int(i)), into: dest) }
    }

    func variable(_ name: String, into dest: Int, at loc: SourceLocation) {
        guard let resolved = resolve(name) ?? lateBoundModuleVariable(name) else {
            error("undefined variable '\(name)'" + NameSuggestion.hint(for: name, among: namesInScope()), at: loc)
            return
        }
        load(resolved, into: dest)
    }

    func load(_ resolved: Resolved, into dest: Int) {
        switch resolved {
        case .local(let r, _): if r != dest { emit(Instruction.abc(.move, dest, r)) }
        case .upvalue(let u, _): emit(Instruction.abc(.getUpval, dest, u))
        case .module(let slot, _): emit(Instruction.abx(.getGlobal, dest, slot))
        case .builtin(let v): loadConstant(constant(.value(v.bits)), into: dest)
        }
    }

    private func unary(_ op: UnaryOp, _ operand: Expr, into dest: Int, at loc: SourceLocation) {
        switch (op, operand.kind) {
        case (.negate, .intLiteral(let i)) where i != Int64.min:
            loadInt(-i, into: dest); return
        case (.negate, .floatLiteral(let d)):
            loadConstant(constant(.float((-d).bitPattern)), into: dest); return
        default: break
        }
        let r = expressionToAnyRegister(operand)
        setLine(loc)
        switch op {
        case .negate: nameOperands(of: emit(Instruction.abc(.neg, dest, r)), operand)
        case .bitNot: emit(Instruction.abc(.bnot, dest, r))
        case .not: emit(Instruction.abc(.not, dest, r))
        }
    }

    /// A small int literal usable as a signed 8-bit immediate.
    private func smallInt(_ e: Expr) -> Int64? {
        if case .intLiteral(let i) = e.kind, i >= -127, i <= 127 { return i }
        return nil
    }

    func binary(_ op: BinaryOp, _ lhs: Expr, _ rhs: Expr, into dest: Int) {
        // Constant folding of int/float literals where it cannot fail.
        if let folded = fold(op, lhs, rhs) {
            switch folded {
            case .int(let i): loadInt(i, into: dest)
            case .float(let bits): loadConstant(constant(.float(bits)), into: dest)
            default: break
            }
            return
        }
        // A temporary destination doubles as the left operand's register, so a chain like
        // `a + b + c + …` needs two registers, not one per operand.
        let a: Int
        if dest >= localsTop && dest == fs.freeRegister - 1 && !isLocalVariable(lhs) {
            expression(lhs, into: dest)
            a = dest
        } else {
            a = expressionToAnyRegister(lhs)
        }
        if op == .add || op == .subtract, let imm = smallInt(rhs) {
            setLine(lhs.loc)
            nameOperands(of: emit(Instruction.abc(op == .add ? .addI : .subI, dest, a, Int(imm) + 128)), lhs)
            return
        }
        if let kop = op.constantOpcode, let k = numericConstant(rhs), k <= 255 {
            setLine(lhs.loc)
            nameOperands(of: emit(Instruction.abc(kop, dest, a, k)), lhs)
            return
        }
        let b = expressionToAnyRegister(rhs)
        setLine(lhs.loc)
        let at = emit(Instruction.abc(op.opcode, dest, a, b))
        if op.constantOpcode != nil { nameOperands(of: at, lhs, rhs) }
        if op == .notIn { emit(Instruction.abc(.not, dest, dest)) }
    }

    /// The constant index of a numeric literal, if `e` is one.
    private func numericConstant(_ e: Expr) -> Int? {
        switch e.kind {
        case .intLiteral(let i): return constant(.int(i))
        case .floatLiteral(let d): return constant(.float(d.bitPattern))
        default: return nil
        }
    }

    private func fold(_ op: BinaryOp, _ lhs: Expr, _ rhs: Expr) -> Constant? {
        switch (lhs.kind, rhs.kind) {
        case (.intLiteral(let a), .intLiteral(let b)):
            switch op {
            case .add: let (r, o) = a.addingReportingOverflow(b); return o ? nil : .int(r)
            case .subtract: let (r, o) = a.subtractingReportingOverflow(b); return o ? nil : .int(r)
            case .multiply: let (r, o) = a.multipliedReportingOverflow(by: b); return o ? nil : .int(r)
            default: return nil
            }
        case (.floatLiteral(let a), .floatLiteral(let b)):
            switch op {
            case .add: return .float((a + b).bitPattern)
            case .subtract: return .float((a - b).bitPattern)
            case .multiply: return .float((a * b).bitPattern)
            case .divide: return .float((a / b).bitPattern)
            default: return nil
            }
        default: return nil
        }
    }

    private func call(_ callee: Expr, _ args: [Expr], into dest: Int, at loc: SourceLocation) {
        if args.contains(where: \.isSpreadArgument) { spreadCall(callee, args, into: dest, at: loc); return }
        if case .named? = args.last?.kind { namedCall(callee, args, into: dest, at: loc); return }
        if args.count > 200 { error("too many arguments (limit 200)", at: loc); return }
        // When the destination is the topmost register, call in place: the result lands in
        // it and no MOVE is needed.
        let inPlace = dest == fs.freeRegister - 1 && dest >= localsTop
        let base = inPlace ? dest : reserveRegisters(1)
        if args.count > 0 { _ = reserveRegisters(args.count) }
        if case .member(let object, let name) = callee.kind {
            expression(object, into: base)
            for (i, a) in args.enumerated() { expression(a, into: base + 1 + i) }
            setLine(loc)
            let at = emit(Instruction.abc(.invoke, base, args.count))
            fs.operandNames[Int32(at)] = [operandDescription(object) ?? "", "field '\(name)'"]
            emit(Instruction.extra(stringConstant(name)))
        } else {
            expression(callee, into: base)
            for (i, a) in args.enumerated() { expression(a, into: base + 1 + i) }
            setLine(loc)
            nameOperands(of: emit(Instruction.abc(.call, base, args.count)), callee)
        }
        if dest != base { emit(Instruction.abc(.move, dest, base)) }
    }

    // MARK: operand names for errors

    /// Records how `operands` read in the source, for the error raised if instruction `at`
    /// finds one nil (FunctionDebugInfo.operandNames). Call after compiling them, so naming
    /// resolves nothing new.
    func nameOperands(of at: Int, _ operands: Expr...) {
        let names = operands.map { operandDescription($0) ?? "" }
        if names.contains(where: { !$0.isEmpty }) { fs.operandNames[Int32(at)] = names }
    }

    /// `local 'x'`, `upvalue 'x'`, `global 'x'` or `field 'x'` (Lua's `varinfo`), or nil
    /// for any other expression.
    func operandDescription(_ e: Expr) -> String? {
        switch e.kind {
        case .variable(let name):
            switch resolve(name) {
            case .local?: return "local '\(name)'"
            case .upvalue?: return "upvalue '\(name)'"
            case .module?: return "global '\(name)'"
            case .builtin?, nil: return nil
            }
        case .member(_, let name): return "field '\(name)'"
        case .grouping(let inner): return operandDescription(inner)
        default: return nil
        }
    }

    /// Every name an expression here could mean, for "did you mean …?".
    func namesInScope() -> [String] {
        var names: [String] = []
        var f: FunctionState? = fs
        while let current = f {
            names += current.locals.map(\.name)
            names += current.upvalues.map(\.name)
            f = current.enclosing
        }
        names += moduleVariables.keys
        names += rt.builtins.keys
        names += rt.hostFunctions.keys
        return names.filter { $0 != "super" }
    }

    /// For a call with `...` or names: `obj` into `base` for `obj.m(…)` (returning `m`, which
    /// CALLABLE will look up), else the callee itself (returning nil).
    private func calleeOrReceiver(_ callee: Expr, into base: Int) -> String? {
        if case .member(let object, let name) = callee.kind {
            expression(object, into: base)
            return name
        }
        expression(callee, into: base)
        return nil
    }

    /// `spawn f(a, b)`: calls the `spawn` builtin with the callee (a bound method for
    /// `obj.m(…)`) and the arguments, all evaluated here, before the fiber starts.
    private func spawnExpression(_ target: Expr, into dest: Int, at loc: SourceLocation) {
        guard let spawn = rt.builtins["spawn"] else { return }
        var callee = target
        var args: [Expr] = []
        if case .call(let c, let a) = target.kind { callee = c; args = a }
        if args.contains(where: { if case .named = $0.kind { return true }; return $0.isSpreadArgument }) {
            error("'spawn' takes plain arguments; for '...' or named ones write spawn fn() { f(…) }", at: loc)
            return
        }
        guard args.count < 200 else { error("too many arguments (limit 199 for spawn)", at: loc); return }
        // CALLABLE checks two registers from the callee's: keep one past it even with no arguments.
        var isMember = false
        if case .member = callee.kind { isMember = true }
        let base = reserveRegisters(2 + max(args.count, isMember ? 1 : 0))
        loadConstant(constant(.value(spawn.bits)), into: base)
        if case .member(let object, let name) = callee.kind {
            expression(object, into: base + 1)
            emitCallable(base + 1, name)
        } else {
            expression(callee, into: base + 1)
        }
        for (i, a) in args.enumerated() { expression(a, into: base + 2 + i) }
        setLine(loc)
        emit(Instruction.abc(.call, base, args.count + 1))
        if dest != base { emit(Instruction.abc(.move, dest, base)) }
    }

    /// CALLABLE: replaces the receiver in `base` by its method `method`, as a value to call.
    private func emitCallable(_ base: Int, _ method: String) {
        emit(Instruction.abc(.callable, base))
        emit(Instruction.extra(stringConstant(method)))
    }

    /// `f(a, ...xs)`: the arguments are gathered into a list in the register after the
    /// callee, which SPREAD spreads onto the stack for `CALL base 255` (for `obj.m(…)`,
    /// CALLABLE first replaces the receiver by the method to call).
    private func spreadCall(_ callee: Expr, _ args: [Expr], into dest: Int, at loc: SourceLocation) {
        let inPlace = dest == fs.freeRegister - 1 && dest >= localsTop
        let base = inPlace ? dest : reserveRegisters(1)
        _ = reserveRegisters(1)
        let method = calleeOrReceiver(callee, into: base)
        expression(Expr(.list(args), loc), into: base + 1)
        setLine(loc)
        if let method { emitCallable(base, method) }
        emit(Instruction.abc(.spread, base))
        emit(Instruction.abc(.call, base, Runtime.spreadCall))
        if dest != base { emit(Instruction.abc(.move, dest, base)) }
    }

    /// `f(a, name: v, …)`: the positional arguments as for CALL, then a map of the named
    /// ones, then NAMED and `CALL base 254`, which binds the names to a script function's
    /// parameters or passes the map last to anything else (for `obj.m(…)`, CALLABLE first
    /// replaces the receiver by the method to call).
    private func namedCall(_ callee: Expr, _ args: [Expr], into dest: Int, at loc: SourceLocation) {
        let positional = args.filter { if case .named = $0.kind { false } else { true } }
        if positional.count > 200 { error("too many arguments (limit 200)", at: loc); return }
        let inPlace = dest == fs.freeRegister - 1 && dest >= localsTop
        let base = inPlace ? dest : reserveRegisters(1)
        _ = reserveRegisters(positional.count + 1)
        let method = calleeOrReceiver(callee, into: base)
        for (i, a) in positional.enumerated() { expression(a, into: base + 1 + i) }
        let map = base + 1 + positional.count
        setLine(loc)
        emit(Instruction.abc(.newMap, map))
        for a in args {
            guard case .named(let name, let value) = a.kind else { continue }
            let top = fs.freeRegister
            let k = reserveRegisters()
            loadConstant(stringConstant(name), into: k)
            let v = expressionToAnyRegister(value)
            setLine(a.loc)
            emit(Instruction.abc(.setIndex, map, k, v))
            fs.freeRegister = top
        }
        setLine(loc)
        if let method { emitCallable(base, method) }
        emit(Instruction.abc(.named, base, positional.count))
        emit(Instruction.abc(.call, base, Runtime.namedCall))
        if dest != base { emit(Instruction.abc(.move, dest, base)) }
    }

    // MARK: conditions

    /// Emits code that jumps when the truthiness of `e` equals `jumpWhen` and falls through
    /// otherwise. Returns the jumps to patch.
    func conditionJump(_ e: Expr, jumpWhen: Bool) -> [Int] {
        setLine(e.loc)
        let top = fs.freeRegister
        defer { fs.freeRegister = top }
        let c = jumpWhen ? 1 : 0
        switch e.kind {
        case .boolLiteral(let b):
            return b == jumpWhen ? [emitJump()] : []
        case .unary(.not, let inner):
            return conditionJump(inner, jumpWhen: !jumpWhen)
        case .logical(.and, let a, let b):
            if jumpWhen {
                let skip = conditionJump(a, jumpWhen: false)
                let j = conditionJump(b, jumpWhen: true)
                skip.forEach(patchJump)
                return j
            }
            return conditionJump(a, jumpWhen: false) + conditionJump(b, jumpWhen: false)
        case .logical(.or, let a, let b):
            if jumpWhen { return conditionJump(a, jumpWhen: true) + conditionJump(b, jumpWhen: true) }
            let skip = conditionJump(a, jumpWhen: true)
            let j = conditionJump(b, jumpWhen: false)
            skip.forEach(patchJump)
            return j
        case .binary(let op, let lhs, let rhs) where [.less, .lessEqual, .greater, .greaterEqual, .equal, .notEqual].contains(op):
            return comparisonJump(op, lhs, rhs, c: c)
        default:
            let r = expressionToAnyRegister(e)
            emit(Instruction.abc(.test, r, 0, c))
            return [emitJump()]
        }
    }

    private func comparisonJump(_ op: BinaryOp, _ lhs: Expr, _ rhs: Expr, c: Int) -> [Int] {
        let a = expressionToAnyRegister(lhs)
        setLine(lhs.loc)
        if op != .equal && op != .notEqual, let imm = smallInt(rhs) {
            let b = Int(imm) + 128
            switch op {
            case .less: emit(Instruction.abc(.testLtI, a, b, c))
            case .lessEqual: emit(Instruction.abc(.testLeI, a, b, c))
            case .greater: emit(Instruction.abc(.testGtI, a, b, c))
            case .greaterEqual: emit(Instruction.abc(.testGeI, a, b, c))
            default: break
            }
            return [emitJump()]
        }
        // JEQK's B operand has 8 bits: only constants 0…255 fit (a small int used to go
        // here unchecked and compared against the wrong constant past 255 constants).
        if op == .equal || op == .notEqual, let k = literalConstant(rhs), k <= 255 {
            emit(Instruction.abc(.testEqK, a, k, op == .equal ? c : 1 - c))
            return [emitJump()]
        }
        let b = expressionToAnyRegister(rhs)
        setLine(lhs.loc)
        switch op {
        case .less: emit(Instruction.abc(.testLt, a, b, c))
        case .lessEqual: emit(Instruction.abc(.testLe, a, b, c))
        case .greater: emit(Instruction.abc(.testLt, b, a, c | 2))
        case .greaterEqual: emit(Instruction.abc(.testLe, b, a, c | 2))
        case .equal: emit(Instruction.abc(.testEq, a, b, c))
        case .notEqual: emit(Instruction.abc(.testEq, a, b, 1 - c))
        default: break
        }
        return [emitJump()]
    }

    private func literalConstant(_ e: Expr) -> Int? {
        switch e.kind {
        case .intLiteral(let i): return constant(.int(i))
        case .floatLiteral(let d): return constant(.float(d.bitPattern))
        case .stringLiteral(let s): return stringConstant(s)
        case .nilLiteral: return constant(.value(Value.nil.bits))
        case .boolLiteral(let b): return constant(.value(b ? Value.true.bits : Value.false.bits))
        default: return nil
        }
    }
}

extension BinaryOp {
    /// The register-constant opcode, for operators that have one.
    var constantOpcode: Opcode? {
        switch self {
        case .add: return .addK
        case .subtract: return .subK
        case .multiply: return .mulK
        case .divide: return .divK
        case .remainder: return .modK
        default: return nil
        }
    }
}
