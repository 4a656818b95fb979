import CapsuleSyntax

/// What error messages need to know about a function's code, and nothing else reads: the
/// column of each instruction, how the compiler described the operands of calls, field
/// reads and arithmetic (`local 'handler'`, `field 'x'`), and the source text the function
/// was compiled from. The dispatch loop never touches it; a raised error reads it.
///
/// Held by `ObjFunction.debug` as a retained `Unmanaged` reference, released when the
/// function is swept (one retain and one release per function, none while running). All
/// functions compiled from one source share its text (a Swift `String`, not copied).
///
/// The text is only ever text the VM itself compiled — the main script, the REPL entry, the
/// source an embedder passed, or a module the import rule let it read — so showing its
/// lines never reveals a file the script was not allowed to read (Runtime/ImportRule.swift).
final class FunctionDebugInfo {
    /// The source compiled (name as in messages, and text).
    let source: Source
    /// Column (1-based, in Unicode scalars) of each instruction, parallel to the code.
    let columns: [Int32]
    /// Descriptions of operands, by instruction index: `[0]` the first operand (callee,
    /// receiver, left operand), `[1]` the second (right operand, or `field 'name'` of an
    /// INVOKE). "" where the operand is not a name worth showing.
    let operandNames: [Int32: [String]]

    init(source: Source, columns: [Int32], operandNames: [Int32: [String]]) {
        self.source = source; self.columns = columns; self.operandNames = operandNames
    }
}

extension Runtime {
    /// The debug information of `f` (every compiled function has one).
    func debugInfo(_ f: UnsafeMutablePointer<ObjFunction>) -> FunctionDebugInfo? {
        f.pointee.debug?.takeUnretainedValue()
    }

    /// The index of the instruction a frame stopped at, given its saved `pc` (one past the
    /// instruction, or past its EXTRA word).
    func instructionIndex(_ f: UnsafeMutablePointer<ObjFunction>, pc: Int) -> Int {
        var at = max(0, min(pc - 1, f.pointee.codeCount - 1))
        if at > 0 && Instruction.op(f.pointee.code[at]) == .extra { at -= 1 }
        return at
    }

    /// The line and column of instruction `at` of `f`.
    func position(_ f: UnsafeMutablePointer<ObjFunction>, at: Int) -> (line: Int32, column: Int32) {
        let line = f.pointee.lines[at]
        guard let debug = debugInfo(f), at < debug.columns.count else { return (line, 0) }
        return (line, debug.columns[at])
    }

    /// How the compiler described operand `operand` of the instruction the innermost script
    /// frame is executing, when that instruction is one of `opcodes` (so a native that raises
    /// while called from, say, an INVOKE never borrows the INVOKE's names); nil otherwise.
    /// With `base`, the instruction's A register must also be stack slot `base` (a callee
    /// placed by a native's own call is not the instruction's).
    func operandName(_ operand: Int, of opcodes: Set<Opcode>, base: Int? = nil) -> String? {
        guard frameCount > 0 else { return nil }
        let frame = frames[frameCount - 1]
        let f = frame.closure.pointee.function
        let at = instructionIndex(f, pc: frame.pc)
        let word = f.pointee.code[at]
        guard opcodes.contains(Instruction.op(word)) else { return nil }
        if let base, frame.base + Instruction.a(word) != base { return nil }
        guard let names = debugInfo(f)?.operandNames[Int32(at)], operand < names.count, !names[operand].isEmpty else { return nil }
        return names[operand]
    }

    /// `nil` followed by ` (local 'x')` when the compiler named the operand.
    func describeNil(operand: Int, of opcodes: Set<Opcode>, base: Int? = nil) -> String {
        operandName(operand, of: opcodes, base: base).map { "nil (\($0))" } ?? "nil"
    }

    static let arithmeticOpcodes: Set<Opcode> = [.add, .sub, .mul, .div, .mod, .addK, .subK, .mulK, .divK, .modK, .addI, .subI]
}
