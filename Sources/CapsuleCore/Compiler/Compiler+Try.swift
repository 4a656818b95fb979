import CapsuleSyntax

/// `try … catch … finally` and `defer`.
///
/// A `finally` block is compiled as a second handler around the try body and the catch
/// block (TRY with B = 1, which receives the raised error itself), plus inline copies of the
/// block on every other way out:
///
///     TRY p 1 → err            ; p: hidden local holding the error being raised
///       (try … catch …)
///     ENDTRY
///     <finally>                ; normal exit
///     JMP end
///     err: <finally>           ; error exit: run it, then re-raise unchanged
///     THROW p
///     end:
///
/// `return`, `break` and `continue` leaving the block pop the handlers they cross and run a
/// copy of each finally block on the way (`emitTryExits`), innermost first. A function that
/// uses `defer` is compiled the same way with the whole body as the try body and, as its
/// finally, a call that runs the deferred closures collected in a hidden list. Code that uses
/// neither compiles exactly as before: the cost is paid only where they are written.
extension Compiler {
    func tryStatement(body: [Stmt], catches: [CatchClause], finally: [Stmt]?, at loc: SourceLocation) {
        guard let finally else {
            tryCatch(body: body, catches: catches, at: loc)
            return
        }
        beginScope()
        let p = reserveRegisters()
        declareLocal(" pending", register: p, mutable: false, at: loc)
        emit(Instruction.abc(.tryBegin, p, 1))
        let errorJump = emit(Instruction.extra(0))
        fs.tries.append(.finally(finally))
        if catches.isEmpty { block(body) } else { tryCatch(body: body, catches: catches, at: loc) }
        fs.tries.removeLast()
        emit(Instruction.abc(.tryEnd, 0))
        block(finally)
        let skip = emitJump()
        patchJump(errorJump)
        block(finally)
        emit(Instruction.abc(.throwValue, p))
        patchJump(skip)
        endScope()
    }

    /// `try { body } catch name { handler }`, or with typed clauses
    /// `try { body } catch a is A { … } catch b { … }`: each clause's type is tested in turn
    /// (as `is` does); the first that matches runs; with none, the error is re-raised unchanged.
    private func tryCatch(body: [Stmt], catches: [CatchClause], at loc: SourceLocation) {
        guard catches.count == 1, catches[0].type == nil else {
            typedTryCatch(body: body, catches: catches, at: loc)
            return
        }
        let name = catches[0].name, handler = catches[0].body
        beginScope()
        let r = reserveRegisters()
        // A hidden local keeps the catch register reserved while the body runs.
        declareLocal(" caught", register: r, mutable: false, at: loc)
        emit(Instruction.abc(.tryBegin, r))
        let handlerJump = emit(Instruction.extra(0))
        fs.tries.append(.plain)
        block(body)
        fs.tries.removeLast()
        emit(Instruction.abc(.tryEnd, 0))
        let skip = emitJump()
        patchJump(handlerJump)
        beginScope()
        if let name { declareLocal(name, register: r, mutable: true, at: loc) }
        for st in handler { statement(st) }
        endScope()
        patchJump(skip)
        endScope()
    }

    private func typedTryCatch(body: [Stmt], catches: [CatchClause], at loc: SourceLocation) {
        beginScope()
        let r = reserveRegisters(2)
        declareLocal(" caught", register: r, mutable: false, at: loc)
        declareLocal(" raised", register: r + 1, mutable: false, at: loc)
        emit(Instruction.abc(.tryBegin, r, 2))
        let handlerJump = emit(Instruction.extra(0))
        fs.tries.append(.plain)
        block(body)
        fs.tries.removeLast()
        emit(Instruction.abc(.tryEnd, 0))
        var ends = [emitJump()]
        patchJump(handlerJump)
        var matched = false  // an untyped clause catches everything that reaches it
        for clause in catches {
            var next: Int? = nil
            if let type = clause.type {
                setLine(clause.loc)
                let t = reserveRegisters()
                typeTest(register: r, type, into: t, at: type.loc)
                emit(Instruction.abc(.test, t, 0, 0))
                next = emitJump()
                fs.freeRegister = t
            } else {
                matched = true
            }
            beginScope()
            if let name = clause.name { declareLocal(name, register: r, mutable: true, at: clause.loc) }
            for st in clause.body { statement(st) }
            endScope()
            ends.append(emitJump())
            if let next { patchJump(next) }
        }
        if !matched { emit(Instruction.abc(.throwValue, r + 1)) }
        ends.forEach(patchJump)
        endScope()
    }

    /// Leaves the try levels from the innermost down to level `depth` (a `break` or
    /// `continue` to a loop outside them, or a `return` with `depth` 0): pops each handler
    /// and runs copies of the finally blocks and deferred calls on the way. Each copy is
    /// compiled as if it stood at its own level, so a `return`, `break` or `continue` inside
    /// it leaves only the levels outside it.
    func emitTryExits(downTo depth: Int) {
        let saved = fs.tries
        guard depth < saved.count else { return }
        guard saved[depth...].contains(where: { $0.hasCleanup }) else {
            for _ in depth..<saved.count { emit(Instruction.abc(.tryEnd, 0)) }
            return
        }
        for level in stride(from: saved.count - 1, through: depth, by: -1) {
            emit(Instruction.abc(.tryEnd, 0))
            guard saved[level].hasCleanup else { continue }
            fs.tries = Array(saved[..<level])
            // Loops started inside this level are out of reach from its finally block.
            let outer = fs.loops.prefix { $0.tryDepth <= level }.count
            let inner = Array(fs.loops[outer...])
            fs.loops.removeLast(inner.count)
            cleanup(saved[level])
            fs.loops += inner
        }
        fs.tries = saved
    }

    /// True when leaving the current code by `return` has finally blocks or deferred calls to run.
    var returnNeedsCleanup: Bool { fs.tries.contains { $0.hasCleanup } }

    /// A `return` inside `try … finally` or in a function using `defer`: the value is
    /// computed first (into a register the cleanups cannot touch), then the cleanups run.
    func returnThroughCleanups(_ value: Expr?) {
        if fs.kind == .initializer {
            emitTryExits(downTo: 0)
            emit(Instruction.abc(.ret, 0))
        } else if let value {
            // A hidden local holds the value: a finally block cannot reuse its register, and
            // assigning the variable that was returned does not change the result.
            beginScope()
            let r = reserveRegisters()
            expression(value, into: r)
            declareLocal(" result", register: r, mutable: false, at: value.loc)
            emitTryExits(downTo: 0)
            emit(Instruction.abc(.ret, r))
            endScope()
        } else {
            emitTryExits(downTo: 0)
            emit(Instruction.abc(.retNil, 0))
        }
    }

    private func cleanup(_ level: TryLevel) {
        switch level {
        case .plain: break
        case .finally(let body): block(body)
        case .defers(let d): runDeferred(d)
        }
    }

    // MARK: defer

    /// The statements of a function (or script) body. With a `defer` anywhere in it (outside
    /// nested functions), the body runs inside a finally level that runs the deferred calls.
    func functionBody(_ body: [Stmt], at loc: SourceLocation) {
        guard Compiler.usesDefer(body) else {
            for s in body { statement(s) }
            return
        }
        let d = reserveRegisters()
        declareLocal(" deferred", register: d, mutable: false, at: loc)
        emit(Instruction.abc(.newList, d, 0))
        let p = reserveRegisters()
        declareLocal(" pending", register: p, mutable: false, at: loc)
        emit(Instruction.abc(.tryBegin, p, 1))
        let errorJump = emit(Instruction.extra(0))
        fs.tries.append(.defers(register: d))
        for s in body { statement(s) }
        fs.tries.removeLast()
        emit(Instruction.abc(.tryEnd, 0))
        runDeferred(d)
        let skip = emitJump()
        patchJump(errorJump)
        runDeferred(d)
        emit(Instruction.abc(.throwValue, p))
        patchJump(skip)
    }

    /// `defer body`: appends a closure of `body` to the function's list of deferred calls.
    func deferStatement(_ body: [Stmt], at loc: SourceLocation) {
        guard let d = deferListRegister else {
            error("'defer' outside of a function body", at: loc)
            return
        }
        let decl = FunctionDecl(name: nil, params: [], body: body, loc: loc, endLoc: loc)
        let k = function(decl, kind: .function, name: "<defer>")
        setLine(loc)
        let t = reserveRegisters()
        emit(Instruction.abx(.closure, t, constantOperand16(k)))
        emit(Instruction.abc(.append, d, t, 1))
    }

    /// The register of the current function's deferred-call list.
    private var deferListRegister: Int? {
        for level in fs.tries.reversed() { if case .defers(let d) = level { return d } }
        return nil
    }

    /// Runs the deferred calls in the list in register `d`, last first, each as an ordinary
    /// call of this function's code (so a deferred call may wait, as a fiber's code can: a
    /// native runner calling them would be a callback from native code). An error in one does
    /// not stop the others; the last one raised is raised at the end (an uncatchable one, a
    /// limit or `exit`, skips the handler and ends everything at once):
    ///
    ///     e = nil
    ///     loop: t = next(d)            ; pops the last closure, nil when none is left
    ///           TEST t → done
    ///           TRY c 1 → caught
    ///           CALL t
    ///           ENDTRY
    ///           JMP loop
    ///     caught: e = c; JMP loop
    ///     done: if e { THROW e }
    private func runDeferred(_ d: Int) {
        let e = reserveRegisters(4)
        let t = e + 1, c = e + 3
        emit(Instruction.abc(.loadNil, e))
        let loop = fs.code.count
        loadConstant(constant(.value(rt.deferNext().bits)), into: t)
        emit(Instruction.abc(.move, t + 1, d))
        emit(Instruction.abc(.call, t, 1))
        emit(Instruction.abc(.test, t, 0, 0))
        let done = emitJump()
        emit(Instruction.abc(.tryBegin, c, 1))
        let caught = emit(Instruction.extra(0))
        emit(Instruction.abc(.call, t, 0))
        emit(Instruction.abc(.tryEnd, 0))
        emitLoop(to: loop)
        patchJump(caught)
        emit(Instruction.abc(.move, e, c))
        emitLoop(to: loop)
        patchJump(done)
        emit(Instruction.abc(.test, e, 0, 0))
        let none = emitJump()
        emit(Instruction.abc(.throwValue, e))
        patchJump(none)
        fs.freeRegister = e
    }

    /// True when `body` contains a `defer` statement outside nested functions and classes.
    static func usesDefer(_ body: [Stmt]) -> Bool {
        body.contains { s in
            switch s.kind {
            case .deferStmt: return true
            case .ifStmt(_, let thenBody, let elseBody): return usesDefer(thenBody) || usesDefer(elseBody ?? [])
            case .whileStmt(_, let b), .forIn(_, _, _, let b), .block(let b): return usesDefer(b)
            case .tryCatch(let b, let catches, let finally):
                return usesDefer(b) || catches.contains { usesDefer($0.body) } || usesDefer(finally ?? [])
            case .select(let arms, let defaultBody):
                return arms.contains { usesDefer($0.body) } || usesDefer(defaultBody ?? [])
            default: return false
            }
        }
    }
}

extension Runtime {
    /// The native that runs a function's deferred calls: `list` holds closures in the order
    /// their `defer` statements ran; they are called last first. An error raised by one does
    /// not stop the others; once all have run, the last such error is raised (replacing any
    /// error the function was already raising). Uncatchable errors (limits, `exit`) stop at once.
    /// The native deferred-call loops call for the next call to run: it pops the last closure
    /// of the list, or returns nil when none is left.
    func deferNext() -> Value {
        if deferNextValue.isObject { return deferNextValue }
        let v = newNative(name: "defer", arity: 1) { _, args, _ in
            let list = args[0].obj(ObjList.self)
            guard list.pointee.count > 0 else { return .nil }
            list.pointee.count -= 1
            return list.pointee.items.unsafelyUnwrapped[list.pointee.count]
        }
        permanentRoots.append(v)
        deferNextValue = v
        return v
    }
}
