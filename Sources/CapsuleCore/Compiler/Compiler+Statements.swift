import CapsuleSyntax

extension Compiler {
    func statement(_ s: Stmt) {
        setLine(s.loc)
        let top = fs.freeRegister
        defer { if fs.freeRegister > top { fs.freeRegister = max(top, localsTop) } }
        switch s.kind {
        case .expression(let e):
            _ = expressionToAnyRegister(e)
        case .variable(let name, let mutable, let value):
            variableDeclaration(name, mutable: mutable, value: value, at: s.loc)
        case .destructure(let pattern, let mutable, let value):
            destructuring(pattern, mutable: mutable, value: value, at: s.loc)
        case .assign(let target, let op, let value):
            assignment(target, op: op, value: value, at: s.loc)
        case .function(let decl):
            functionDeclaration(decl, at: s.loc)
        case .classDecl(let decl):
            classDeclaration(decl, at: s.loc)
        case .importModule(let path, let alias):
            let name = alias ?? Compiler.moduleBindingName(path)
            let r = reserveRegisters()
            emit(Instruction.abx(.importModule, r, constantOperand16(stringConstant(path))))
            bind(name, register: r, mutable: false, at: s.loc)
        case .ifStmt(let condition, let thenBody, let elseBody):
            let skipThen = conditionJump(condition, jumpWhen: false)
            block(thenBody)
            if let elseBody {
                let skipElse = emitJump()
                skipThen.forEach(patchJump)
                block(elseBody)
                patchJump(skipElse)
            } else {
                skipThen.forEach(patchJump)
            }
        case .whileStmt(let condition, let body):
            let start = fs.code.count
            let exit = conditionJump(condition, jumpWhen: false)
            fs.loops.append(LoopState(scopeDepth: fs.scopeDepth, tryDepth: fs.tryDepth, firstRegister: localsTop))
            block(body)
            let loop = fs.loops.removeLast()
            loop.continueJumps.forEach { patchJump($0, to: start) }
            emitLoop(to: start)
            exit.forEach(patchJump)
            loop.breakJumps.forEach(patchJump)
        case .forIn(let first, let second, let iterable, let body):
            if let second, !second.hasPrefix(" "), iterable.isItemsCall {
                // Python's `for k, v in m.items()` would bind an index and a pair here.
                error("'for \(first), \(second) in ….items()' binds an index and a [key, value] pair; "
                      + "write 'for \(first), \(second) in MAP' or 'for [\(first), \(second)] in ….items()'", at: iterable.loc)
            }
            if second == nil, case .range(let lo, let hi, let inclusive) = iterable.kind {
                numericFor(first, lo, hi, inclusive: inclusive, body: body, at: s.loc)
            } else {
                genericFor(first, second, iterable, body: body, at: s.loc)
            }
        case .breakStmt, .continueStmt:
            guard let loop = fs.loops.last else {
                error("'\(s.kind.isBreak ? "break" : "continue")' outside of a loop", at: s.loc)
                return
            }
            emitTryExits(downTo: loop.tryDepth)
            emit(Instruction.abc(.close, loop.firstRegister))
            let j = emitJump()
            if s.kind.isBreak { fs.loops[fs.loops.count - 1].breakJumps.append(j) }
            else { fs.loops[fs.loops.count - 1].continueJumps.append(j) }
        case .returnStmt(let value):
            if fs.kind == .script && fs.enclosing == nil {
                error("'return' outside of a function", at: s.loc)
                return
            }
            if fs.kind == .initializer && value != nil { error("'init' cannot return a value", at: s.loc) }
            if returnNeedsCleanup {
                returnThroughCleanups(value)
                return
            }
            if fs.kind == .initializer {
                emit(Instruction.abc(.ret, 0))
                return
            }
            if let value {
                let r = expressionToAnyRegister(value)
                emit(Instruction.abc(.ret, r))
            } else {
                emit(Instruction.abc(.retNil, 0))
            }
        case .throwStmt(let value):
            let r = expressionToAnyRegister(value)
            setLine(s.loc)  // a thrown error points at `throw`
            emit(Instruction.abc(.throwValue, r))
        case .tryCatch(let body, let catches, let finally):
            tryStatement(body: body, catches: catches, finally: finally, at: s.loc)
        case .deferStmt(let body):
            deferStatement(body, at: s.loc)
        case .assertStmt(let condition, let message):
            let ok = conditionJump(condition, jumpWhen: true)
            if let message {
                let r = expressionToAnyRegister(message)
                setLine(s.loc)  // a failed assertion points at `assert`
                emit(Instruction.abc(.assertFail, r, 1))
            } else {
                setLine(s.loc)
                emit(Instruction.abc(.assertFail, 0, 0))
            }
            ok.forEach(patchJump)
        case .block(let body):
            block(body)
        case .select(let arms, let defaultBody):
            selectStatement(arms, defaultBody: defaultBody, at: s.loc)
        }
    }

    /// `select`: SELECT (an internal native) gets a (kind, channel, value) triple per case
    /// and returns the index of the case that ran, -1 for `default`; a chain of tests then
    /// runs that case's body, whose binding takes the received value from `selected`.
    private func selectStatement(_ arms: [SelectArm], defaultBody: [Stmt]?, at loc: SourceLocation) {
        guard arms.count <= 66 else { error("a select has at most 66 cases", at: loc); return }
        guard let select = rt.internalNatives["select"] else { return }
        let base = reserveRegisters(2 + 3 * arms.count)
        loadConstant(constant(.value(select.bits)), into: base)
        emit(Instruction.abc(defaultBody == nil ? .loadFalse : .loadTrue, base + 1))
        for (j, arm) in arms.enumerated() {
            let r = base + 2 + 3 * j
            switch arm.operation {
            case .receive: loadInt(0, into: r)
            case .receiveOK: loadInt(1, into: r)
            case .send: loadInt(2, into: r)
            }
            expression(arm.channel, into: r + 1)
            if case .send(let value) = arm.operation { expression(value, into: r + 2) } else { emit(Instruction.abc(.loadNil, r + 2)) }
        }
        setLine(loc)
        emit(Instruction.abc(.call, base, 1 + 3 * arms.count))
        fs.freeRegister = base + 1
        let index = reserveRegisters(1)
        var ends: [Int] = []
        for (j, arm) in arms.enumerated() {
            loadInt(Int64(j), into: index)
            emit(Instruction.abc(.testEq, base, index, 0))
            let skip = emitJump()
            beginScope()
            var withOK = false
            if case .receiveOK = arm.operation { withOK = true }
            switch arm.binding {
            case .name(let name, let mutable)?:
                statement(Stmt(.variable(name: name, mutable: mutable, value: Expr(.selectedValue(withOK: withOK), arm.loc)), arm.loc))
            case .pattern(let pattern, let mutable)?:
                statement(Stmt(.destructure(pattern, mutable: mutable, value: Expr(.selectedValue(withOK: withOK), arm.loc)), arm.loc))
            case nil:
                break
            }
            for s in arm.body { statement(s) }
            endScope()
            ends.append(emitJump())
            patchJump(skip)
        }
        if let defaultBody { block(defaultBody) }
        ends.forEach(patchJump)
    }

    func block(_ body: [Stmt]) {
        beginScope()
        for s in body { statement(s) }
        endScope()
    }

    /// Binds `name` to the value in register `r`: a module variable at the top level,
    /// otherwise a local living in `r` (which must be the next local register).
    func bind(_ name: String, register r: Int, mutable: Bool, at loc: SourceLocation) {
        if atModuleLevel {
            if let slot = moduleVariables[name]?.slot {
                emit(Instruction.abx(.defGlobal, r, slot))
            }
        } else {
            declareLocal(name, register: r, mutable: mutable, at: loc)
        }
    }

    private func variableDeclaration(_ name: String, mutable: Bool, value: Expr?, at loc: SourceLocation) {
        let r = reserveRegisters()
        if let value { expression(value, into: r) } else { emit(Instruction.abc(.loadNil, r)) }
        bind(name, register: r, mutable: mutable, at: loc)
    }

    /// The most names one pattern may bind (UNPACK's count has 7 bits).
    static let patternLimit = 100

    /// `let [a, b] = value` / `let {x, y} = value`: the names take consecutive registers,
    /// filled by one UNPACK (list) or an UNPACKKEY per name (map), then are bound in order.
    private func destructuring(_ p: Pattern, mutable: Bool, value: Expr, at loc: SourceLocation) {
        let n = p.names.count
        guard n > 0 else { return }
        if n > Compiler.patternLimit { error("too many names in a pattern (limit \(Compiler.patternLimit))", at: p.loc); return }
        let first = reserveRegisters(n)
        let v = expressionToAnyRegister(value)
        unpack(p, from: v, into: first)
        for (i, name) in p.names.enumerated() { bind(name, register: first + i, mutable: mutable, at: loc) }
    }

    /// Emits the code that puts the parts `p` names of the value in register `v` into
    /// registers `first`….
    func unpack(_ p: Pattern, from v: Int, into first: Int) {
        setLine(p.loc)
        switch p.kind {
        case .list:
            emit(Instruction.abc(.unpack, first, v, p.hasRest ? (p.names.count - 1) | 0x80 : p.names.count))
        case .map:
            for (i, key) in p.keys.enumerated() {
                emit(Instruction.abc(.unpackKey, first + i, v))
                emit(Instruction.extra(stringConstant(key)))
            }
        }
    }

    private func functionDeclaration(_ decl: FunctionDecl, at loc: SourceLocation) {
        let name = decl.name ?? "<fn>"
        let r = reserveRegisters()
        if !atModuleLevel {
            // Declared first so the body can call itself.
            declareLocal(name, register: r, mutable: false, at: loc)
        }
        let k = function(decl, kind: .function, name: name)
        setLine(loc)
        emit(Instruction.abx(.closure, r, constantOperand16(k)))
        if atModuleLevel, let slot = moduleVariables[name]?.slot {
            emit(Instruction.abx(.defGlobal, r, slot))
        }
    }

    private func classDeclaration(_ decl: ClassDecl, at loc: SourceLocation) {
        let r = reserveRegisters()
        emit(Instruction.abx(.newClass, r, constantOperand16(stringConstant(decl.name))))
        if atModuleLevel {
            if let slot = moduleVariables[decl.name]?.slot { emit(Instruction.abx(.defGlobal, r, slot)) }
        } else {
            declareLocal(decl.name, register: r, mutable: false, at: loc)
        }
        beginScope()
        if let superName = decl.superclass {
            let superLoc = decl.superclassLoc ?? loc
            if superName == decl.name { error("a class cannot inherit from itself", at: superLoc) }
            let sr = reserveRegisters()
            variable(superName, into: sr, at: superLoc)
            emit(Instruction.abc(.inherit, r, sr))
            declareLocal("super", register: sr, mutable: false, at: superLoc)
        }
        var seen = Set<String>()
        for m in decl.methods {
            let methodName = m.name ?? "<fn>"
            if seen.contains(methodName) { error("method '\(methodName)' is already defined in class '\(decl.name)'", at: m.loc) }
            seen.insert(methodName)
            let kind: FunctionKind = methodName == "init" ? .initializer : .method
            let k = function(m, kind: kind, name: "\(decl.name).\(methodName)")
            setLine(m.loc)
            let mr = reserveRegisters()
            emit(Instruction.abx(.closure, mr, constantOperand16(k)))
            emit(Instruction.abc(.method, r, mr))
            emit(Instruction.extra(stringConstant(methodName)))
            fs.freeRegister = mr
        }
        endScope()
    }

    // MARK: loops

    private func numericFor(_ name: String, _ lo: Expr, _ hi: Expr, inclusive: Bool, body: [Stmt], at loc: SourceLocation) {
        beginScope()
        let base = reserveRegisters(3)
        expression(lo, into: base)
        expression(hi, into: base + 1)
        declareLocal(" index", register: base, mutable: false, at: loc)
        declareLocal(" limit", register: base + 1, mutable: false, at: loc)
        emit(Instruction.abc(.forPrep, base, 0, inclusive ? 1 : 0))
        let exit = emit(Instruction.extra(0))
        let bodyStart = fs.code.count
        beginScope()
        declareLocal(name, register: base + 2, mutable: true, at: loc)
        fs.loops.append(LoopState(scopeDepth: fs.scopeDepth, tryDepth: fs.tryDepth, firstRegister: base + 2))
        for s in body { statement(s) }
        let loop = fs.loops.removeLast()
        let continueTarget = fs.code.count
        loop.continueJumps.forEach { patchJump($0, to: continueTarget) }
        endScope()  // closes a captured loop variable, so each iteration gets a fresh one
        emit(Instruction.abc(.forLoop, base))
        let back = emit(Instruction.extra(0))
        patchJump(back, to: bodyStart)
        patchJump(exit)
        loop.breakJumps.forEach(patchJump)
        endScope()
    }

    private func genericFor(_ first: String, _ second: String?, _ iterable: Expr, body: [Stmt], at loc: SourceLocation) {
        beginScope()
        let base = reserveRegisters(5)
        expression(iterable, into: base)
        declareLocal(" iterable", register: base, mutable: false, at: loc)
        declareLocal(" position", register: base + 1, mutable: false, at: loc)
        declareLocal(" guard", register: base + 2, mutable: false, at: loc)
        emit(Instruction.abc(.iterPrep, base))
        let loopStart = fs.code.count
        emit(Instruction.abc(.iterNext, base, second == nil ? 1 : 2))
        let exit = emit(Instruction.extra(0))
        beginScope()
        declareLocal(first, register: base + 3, mutable: true, at: loc)
        if let second { declareLocal(second, register: base + 4, mutable: true, at: loc) }
        else { declareLocal(" unused", register: base + 4, mutable: false, at: loc) }
        fs.loops.append(LoopState(scopeDepth: fs.scopeDepth, tryDepth: fs.tryDepth, firstRegister: base + 3))
        for s in body { statement(s) }
        let loop = fs.loops.removeLast()
        let continueTarget = fs.code.count
        loop.continueJumps.forEach { patchJump($0, to: continueTarget) }
        endScope()  // closes captured loop variables each iteration
        emitLoop(to: loopStart)
        patchJump(exit)
        loop.breakJumps.forEach(patchJump)
        endScope()
    }

    // MARK: assignment

    private func assignment(_ target: Expr, op: BinaryOp?, value: Expr, at loc: SourceLocation) {
        switch target.kind {
        case .variable(let name):
            guard let resolved = resolve(name) else {
                error("undefined variable '\(name)'" + NameSuggestion.hint(for: name, among: namesInScope()), at: target.loc)
                return
            }
            // The new value of a variable: `value`, or `target op value` for compound forms.
            func newValue(into r: Int) {
                if let op { binary(op, target, value, into: r) } else { expression(value, into: r) }
            }
            switch resolved {
            case .local(let r, let mutable):
                if !mutable { error("cannot assign to constant '\(name)'", at: target.loc); return }
                newValue(into: r)
            case .upvalue(let u, let mutable):
                if !mutable { error("cannot assign to constant '\(name)'", at: target.loc); return }
                let r = reserveRegisters()
                newValue(into: r)
                emit(Instruction.abc(.setUpval, r, u))
            case .module(let slot, let mutable):
                if !mutable { error("cannot assign to constant '\(name)'", at: target.loc); return }
                let r = reserveRegisters()
                newValue(into: r)
                emit(Instruction.abx(.setGlobal, r, slot))
            case .builtin:
                error("cannot assign to built-in '\(name)'", at: target.loc)
            }
        case .member(let object, let name):
            let o = expressionToAnyRegister(object)
            let v = reserveRegisters()
            storedValue(op, value, into: v, at: loc, target: target) {
                nameOperands(of: emit(Instruction.abc(.getField, v, o)), object)
                emit(Instruction.extra(stringConstant(name)))
            }
            setLine(loc)
            nameOperands(of: emit(Instruction.abc(.setField, o, 0, v)), object)
            emit(Instruction.extra(stringConstant(name)))
        case .index(let object, let index):
            let o = expressionToAnyRegister(object)
            let i = expressionToAnyRegister(index)
            let v = reserveRegisters()
            storedValue(op, value, into: v, at: loc, target: target) { emit(Instruction.abc(.getIndex, v, o, i)) }
            setLine(loc)
            emit(Instruction.abc(.setIndex, o, i, v))
        case .list(let targets) where op == nil:
            // `[a, b] = value`: the value is unpacked first, then each target is assigned in
            // order, so `[a, b] = [b, a]` swaps.
            let v = expressionToAnyRegister(value)
            let first = reserveRegisters(targets.count)
            unpack(Pattern(kind: .list, names: targets.map { _ in "" }, keys: [], loc: target.loc), from: v, into: first)
            for (i, t) in targets.enumerated() { assign(t, fromRegister: first + i, at: loc) }
        default:
            error("invalid assignment target", at: target.loc)
        }
    }

    /// Stores register `r` into a variable, field or element target.
    private func assign(_ target: Expr, fromRegister r: Int, at loc: SourceLocation) {
        let top = fs.freeRegister
        defer { fs.freeRegister = top }
        switch target.kind {
        case .variable(let name):
            guard let resolved = resolve(name) else {
                error("undefined variable '\(name)'", at: target.loc)
                return
            }
            switch resolved {
            case .local(let l, let mutable):
                if !mutable { error("cannot assign to constant '\(name)'", at: target.loc); return }
                emit(Instruction.abc(.move, l, r))
            case .upvalue(let u, let mutable):
                if !mutable { error("cannot assign to constant '\(name)'", at: target.loc); return }
                emit(Instruction.abc(.setUpval, r, u))
            case .module(let slot, let mutable):
                if !mutable { error("cannot assign to constant '\(name)'", at: target.loc); return }
                emit(Instruction.abx(.setGlobal, r, slot))
            case .builtin:
                error("cannot assign to built-in '\(name)'", at: target.loc)
            }
        case .member(let object, let name):
            let o = expressionToAnyRegister(object)
            setLine(loc)
            emit(Instruction.abc(.setField, o, 0, r))
            emit(Instruction.extra(stringConstant(name)))
        case .index(let object, let index):
            let o = expressionToAnyRegister(object)
            let i = expressionToAnyRegister(index)
            setLine(loc)
            emit(Instruction.abc(.setIndex, o, i, r))
        default:
            error("invalid assignment target", at: target.loc)
        }
    }
}

extension Compiler {
    /// Puts the value a field or element assignment stores into register `v`: `value`, or for
    /// `op=` the current value (emitted by `loadCurrent` into `v`) combined with `value`.
    fileprivate func storedValue(_ op: BinaryOp?, _ value: Expr, into v: Int, at loc: SourceLocation,
                                 target: Expr, loadCurrent: () -> Void) {
        guard let op else { expression(value, into: v); return }
        loadCurrent()
        let rhs = expressionToAnyRegister(value)
        setLine(loc)
        let at = emit(Instruction.abc(op.opcode, v, v, rhs))
        if op.constantOpcode != nil { nameOperands(of: at, target, value) }
    }
}

extension Expr {
    /// `something.items()`.
    var isItemsCall: Bool {
        if case .call(let callee, let args) = kind, args.isEmpty, case .member(_, "items") = callee.kind { return true }
        return false
    }
}

extension StmtKind {
    var isBreak: Bool { if case .breakStmt = self { return true } else { return false } }
}

extension BinaryOp {
    /// The register-register opcode of an arithmetic operator.
    var opcode: Opcode {
        switch self {
        case .add: return .add
        case .subtract: return .sub
        case .multiply: return .mul
        case .divide: return .div
        case .remainder: return .mod
        case .bitAnd: return .band
        case .bitOr: return .bor
        case .bitXor: return .bxor
        case .shiftLeft: return .shl
        case .shiftRight: return .shr
        case .equal: return .eq
        case .notEqual: return .ne
        case .less: return .lt
        case .lessEqual: return .le
        case .greater: return .gt
        case .greaterEqual: return .ge
        case .isIn, .notIn: return .contains
        }
    }
}
