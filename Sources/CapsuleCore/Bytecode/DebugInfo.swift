import CapsuleSyntax

/// What error messages need to know about a function's code, and nothing else reads: the
/// column of each instruction and the source text the function was compiled from. The dispatch loop never touches it; a raised error reads it.
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

    init(source: Source, columns: [Int32]) {
        self.source = source; self.columns = columns
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
}
