import CapsuleSyntax

/// `try … catch … finally`.
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
/// copy of each finally block on the way (`emitTryExits`), innermost first. Code without
/// `finally` compiles exactly as before: the cost is paid only where it is written.
extension Compiler {
    func tryStatement(body: [Stmt], name: String?, handler: [Stmt]?, finally: [Stmt]?, at loc: SourceLocation) {
        guard let finally else {
            if let handler { tryCatch(body: body, name: name, handler: handler, at: loc) }
            return
        }
        beginScope()
        let p = reserveRegisters()
        declareLocal(" pending", register: p, mutable: false, at: loc)
        emit(Instruction.abc(.tryBegin, p, 1))
        let errorJump = emit(Instruction.extra(0))
        fs.tries.append(.finally(finally))
        if let handler { tryCatch(body: body, name: name, handler: handler, at: loc) } else { block(body) }
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

    /// `try { body } catch name { handler }`.
    private func tryCatch(body: [Stmt], name: String?, handler: [Stmt], at loc: SourceLocation) {
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

    /// Leaves the try levels from the innermost down to level `depth` (a `break` or
    /// `continue` to a loop outside them, or a `return` with `depth` 0): pops each handler
    /// and runs copies of the finally blocks on the way. Each copy is
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

    /// True when leaving the current code by `return` has finally blocks to run.
    var returnNeedsCleanup: Bool { fs.tries.contains { $0.hasCleanup } }

    /// A `return` inside `try … finally`: the value is
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
        }
    }
}
