import CapsuleSyntax

/// Compiles a parsed program into a function of bytecode for one module.
///
/// Registers are allocated like a stack: locals take the next free register when declared,
/// temporaries sit above them and are released at the end of each statement.
final class Compiler {
    let rt: Runtime
    let source: Source
    let module: UnsafeMutablePointer<ObjModule>
    /// Mutability of the module's variables, by name.
    var moduleVariables: [String: (slot: Int, mutable: Bool)]
    let replMode: Bool
    var diagnostics: [Diagnostic] = []
    var fs: FunctionState
    static let registerLimit = 250

    /// `moduleVariables` carries declarations from earlier REPL entries.
    init(rt: Runtime, source: Source, module: UnsafeMutablePointer<ObjModule>,
         moduleVariables: [String: (slot: Int, mutable: Bool)] = [:], replMode: Bool = false) {
        self.rt = rt
        self.source = source
        self.module = module
        self.moduleVariables = moduleVariables
        self.replMode = replMode
        self.fs = FunctionState(enclosing: nil, kind: .script, name: "<script>")
    }

    // MARK: entry

    /// Compiles the program; returns the script function, or nil with `diagnostics` set.
    /// In REPL mode a final expression statement becomes the return value.
    func compile(_ program: Program) -> UnsafeMutablePointer<ObjFunction>? {
        declareModuleNames(program.statements)
        var statements = program.statements
        var replExpr: Expr? = nil
        if replMode, let last = statements.last, case .expression(let e) = last.kind {
            replExpr = e
            statements.removeLast()
        }
        functionBody(statements, at: SourceLocation(line: 1, column: 1, offset: 0))
        if let e = replExpr {
            setLine(e.loc)
            let r = expressionToNewRegister(e)
            emit(Instruction.abc(.ret, r))
        } else {
            emit(Instruction.abc(.retNil, 0))
        }
        guard diagnostics.isEmpty else { return nil }
        return finishFunction(fs)
    }

    /// Gives every top-level declaration its module slot before any code is compiled, so
    /// functions can refer to declarations that come later in the file.
    private func declareModuleNames(_ statements: [Stmt]) {
        var seen = Set<String>()
        for s in statements {
            if case .destructure(let pattern, let mutable, _) = s.kind {
                for name in pattern.names { declareModuleName(name, mutable: mutable, at: s.loc, seen: &seen) }
                continue
            }
            let name: String, mutable: Bool
            switch s.kind {
            case .variable(let n, let m, _): name = n; mutable = m
            case .function(let f): name = f.name ?? ""; mutable = false
            case .classDecl(let c): name = c.name; mutable = false
            case .importModule(let path, let alias): name = alias ?? Compiler.moduleBindingName(path); mutable = false
            default: continue
            }
            declareModuleName(name, mutable: mutable, at: s.loc, seen: &seen)
        }
    }

    private func declareModuleName(_ name: String, mutable: Bool, at loc: SourceLocation, seen: inout Set<String>) {
        if seen.contains(name) || (!replMode && moduleVariables[name] != nil) {
            error("'\(name)' is already declared in this scope", at: nameLocation(name, after: loc))
            return
        }
        seen.insert(name)
        let slot = rt.addModuleVariable(module, name: rt.intern(name))
        // GETGLOBAL, SETGLOBAL and DEFGLOBAL carry the slot in a 16-bit Bx operand.
        if slot > 0xFFFF { error("too many module variables (limit 65536)", at: loc) }
        moduleVariables[name] = (slot, mutable)
    }

    /// `import "lib/strings"` binds `strings`.
    static func moduleBindingName(_ path: String) -> String {
        var base = path.split(separator: "/").last.map(String.init) ?? path
        if base.hasSuffix(".cap") { base.removeLast(4) }
        return base
    }

    // MARK: diagnostics

    func error(_ message: String, at loc: SourceLocation) {
        // One error per position is enough.
        if diagnostics.last?.location == loc && diagnostics.last?.message == message { return }
        diagnostics.append(Diagnostic(.error, message, at: loc, in: source.name))
    }

    /// Where `name` first appears as a whole word at or after `loc` on the same line (the
    /// declared name of a statement that starts at `loc`); `loc` itself if not found.
    func nameLocation(_ name: String, after loc: SourceLocation) -> SourceLocation {
        let bytes = Array(source.text.utf8)
        let target = Array(name.utf8)
        var i = Int(loc.offset) + 1
        var column = loc.column + 1
        func isWord(_ b: UInt8) -> Bool { b == 95 || (b >= 48 && b <= 57) || ((b | 32) >= 97 && (b | 32) <= 122) }
        while i + target.count <= bytes.count && bytes[i] != 10 {
            if !isWord(bytes[i - 1]) && Array(bytes[i..<(i + target.count)]) == target
                && (i + target.count == bytes.count || !isWord(bytes[i + target.count])) {
                return SourceLocation(line: loc.line, column: column, offset: Int32(i))
            }
            if bytes[i] & 0xC0 != 0x80 { column += 1 }
            i += 1
        }
        return loc
    }

    // MARK: emitting

    @inline(__always) func setLine(_ loc: SourceLocation) { fs.line = loc.line; fs.loc = loc }

    @discardableResult
    func emit(_ word: UInt32) -> Int {
        fs.code.append(word)
        fs.lines.append(fs.line)
        fs.columns.append(fs.loc.column)
        return fs.code.count - 1
    }

    /// Emits a jump with a placeholder offset; returns its position for `patchJump`.
    func emitJump() -> Int { emit(Instruction.sj(.jmp, 0)) }

    /// Points the jump (or EXTRA jump operand) at `position` to the current end of code.
    func patchJump(_ position: Int) { patchJump(position, to: fs.code.count) }

    func patchJump(_ position: Int, to target: Int) {
        let offset = target - (position + 1)
        guard Instruction.sjRange.contains(offset) else {
            error("function is too large to compile", at: fs.loc)
            return
        }
        let word = fs.code[position]
        if Instruction.op(word) == .extra {
            fs.code[position] = Instruction.extra(offset)
        } else {
            fs.code[position] = (word & 0xFF) | UInt32((offset + (1 << 23)) & 0xFF_FFFF) << 8
        }
    }

    /// Emits a backward jump to `target`.
    func emitLoop(to target: Int) {
        let at = emit(Instruction.sj(.jmp, 0))
        patchJump(at, to: target)
    }

    // MARK: constants

    /// LOADK's Bx operand addresses constants 0…65535. The 16 slots from `poolSlotStart` are
    /// reserved for pool lists; constant k >= 65536 is element (k - 65536) % 32768 of pool
    /// (k - 65536) / 32768, loaded with LOADK + LOADI + GETINDEX.
    static let poolSlotStart = 0x1_0000 - 16
    static let poolSize = 32768

    func constant(_ c: Constant) -> Int {
        if let i = fs.constantIndex[c] { return i }
        reservePoolSlotsIfNeeded()
        let value: Value
        switch c {
        case .int(let i): value = rt.intValue(i)
        case .float(let bits): value = Value(Double(bitPattern: bits))
        case .string(let s): value = Value(rt.intern(s))
        case .function(let i): value = fs.constantValues[i]
        case .value(let bits): value = Value(bits: bits)
        }
        rt.compilerRoots.append(value)
        fs.constants.append(c)
        fs.constantValues.append(value)
        fs.constantIndex[c] = fs.constants.count - 1
        checkConstantCount()
        return fs.constants.count - 1
    }

    /// Constants past 65,535 are reached through pool lists (see `loadConstant`), up to 16 of
    /// them.
    static let constantLimit = 0x1_0000 + 16 * poolSize

    func checkConstantCount() {
        if fs.constants.count > Compiler.constantLimit { tooManyConstants() }
    }

    func tooManyConstants() {
        guard !fs.reportedTooManyConstants else { return }
        fs.reportedTooManyConstants = true
        error("too many constants in one function", at: fs.loc)
    }

    /// A constant index for a 16-bit Bx operand (CLOSURE, CLASS, IMPORT), which cannot use the
    /// pools; past 65,535 it is a compile error.
    func constantOperand16(_ k: Int) -> Int {
        if k > 0xFFFF { tooManyConstants(); return 0 }
        return k
    }

    func stringConstant(_ s: String) -> Int { constant(.string(s)) }

    /// Loads constant `k` into register `r`.
    func loadConstant(_ k: Int, into r: Int) {
        if k <= 0xFFFF {
            emit(Instruction.abx(.loadK, r, k))
            return
        }
        // Rare (huge literals): past 65,535 constants, load through a pool list.
        let position = k - 0x1_0000
        let pool = position / Compiler.poolSize
        guard pool < fs.poolSlots.count else { tooManyConstants(); return }
        let t = reserveRegisters()
        emit(Instruction.abx(.loadK, r, fs.poolSlots[pool]))
        emit(Instruction.asbx(.loadI, t, position % Compiler.poolSize))
        emit(Instruction.abc(.getIndex, r, r, t))
        fs.freeRegister = t
    }

    /// Reserves the pool-list slots when the constant table reaches them (placeholders, not
    /// shared through `constantIndex`; `finishFunction` fills them).
    func reservePoolSlotsIfNeeded() {
        guard fs.poolSlots.isEmpty && fs.constants.count >= Compiler.poolSlotStart else { return }
        for _ in 0..<16 {
            fs.poolSlots.append(fs.constants.count)
            fs.constants.append(.value(Value.nil.bits))
            fs.constantValues.append(.nil)
        }
    }

    /// Fills the reserved pool slots with lists of the constants past index 65535.
    private func fillConstantPools(_ f: FunctionState) {
        for (i, slot) in f.poolSlots.enumerated() {
            let start = 0x1_0000 + i * Compiler.poolSize
            guard start < f.constantValues.count else { break }
            let end = min(start + Compiler.poolSize, f.constantValues.count)
            let list = rt.newListValue(Array(f.constantValues[start..<end]))
            rt.compilerRoots.append(list)
            f.constantValues[slot] = list
        }
    }

    // MARK: registers

    /// Reserves `n` consecutive registers and returns the first.
    func reserveRegisters(_ n: Int = 1) -> Int {
        let r = fs.freeRegister
        fs.freeRegister += n
        if fs.freeRegister > fs.maxRegisters {
            fs.maxRegisters = fs.freeRegister
            if fs.maxRegisters > Compiler.registerLimit {
                error("function needs too many registers (limit \(Compiler.registerLimit))",
                      at: fs.loc)
                fs.freeRegister = 1
            }
        }
        return r
    }

    /// The first register above every active local.
    var localsTop: Int { (fs.locals.last?.register ?? 0) + 1 }

    // MARK: scopes

    func beginScope() { fs.scopeDepth += 1 }

    /// Ends a block: drops its locals and closes any that closures captured.
    func endScope() {
        var firstCaptured: Int? = nil
        while let last = fs.locals.last, last.depth >= fs.scopeDepth, last.depth > 0 {
            if last.captured { firstCaptured = last.register }
            fs.locals.removeLast()
        }
        fs.scopeDepth -= 1
        if let r = firstCaptured { emit(Instruction.abc(.close, r)) }
        fs.freeRegister = localsTop
    }

    /// Declares a local in the current scope at register `register`.
    func declareLocal(_ name: String, register: Int, mutable: Bool, at loc: SourceLocation) {
        for l in fs.locals.reversed() {
            if l.depth < fs.scopeDepth { break }
            if l.name == name { error("'\(name)' is already declared in this scope", at: nameLocation(name, after: loc)); break }
        }
        fs.locals.append(Local(name: name, register: register, depth: fs.scopeDepth, mutable: mutable, captured: false))
    }

    /// True when declarations at this point are module variables.
    var atModuleLevel: Bool { fs.kind == .script && fs.scopeDepth == 0 }

    // MARK: name resolution

    enum Resolved {
        case local(Int, mutable: Bool)
        case upvalue(Int, mutable: Bool)
        case module(Int, mutable: Bool)
        case builtin(Value)
    }

    func resolve(_ name: String) -> Resolved? {
        if let l = resolveLocal(fs, name) { return .local(fs.locals[l].register, mutable: fs.locals[l].mutable) }
        if let u = resolveUpvalue(fs, name) { return .upvalue(u, mutable: fs.upvalues[u].mutable) }
        if let m = moduleVariables[name] { return .module(m.slot, mutable: m.mutable) }
        if let b = rt.builtins[name] ?? rt.hostFunctions[name] { return .builtin(b) }
        return nil
    }

    /// In the REPL, a name that a function reads and no entry has declared yet is a module
    /// variable a later entry may declare, as a later declaration in a script file is: it gets
    /// its slot now (the later declaration finds the same one) and is read when the function
    /// runs, failing then if it is still undefined. Code an entry runs at once (its top
    /// level) still gets `undefined variable` at compile time, and so does an assignment.
    func lateBoundModuleVariable(_ name: String) -> Resolved? {
        guard replMode && fs.kind != .script else { return nil }
        let slot = rt.addModuleVariable(module, name: rt.intern(name))
        // GETGLOBAL carries the slot in a 16-bit Bx operand.
        guard slot <= 0xFFFF else { return nil }
        return .module(slot, mutable: false)
    }

    private func resolveLocal(_ f: FunctionState, _ name: String) -> Int? {
        var i = f.locals.count - 1
        while i >= 0 {
            if f.locals[i].name == name { return i }
            i -= 1
        }
        return nil
    }

    private func resolveUpvalue(_ f: FunctionState, _ name: String) -> Int? {
        guard let parent = f.enclosing else { return nil }
        if let l = resolveLocal(parent, name) {
            parent.locals[l].captured = true
            return addUpvalue(f, UpvalueInfo(name: name, fromParentLocal: true,
                                              index: parent.locals[l].register, mutable: parent.locals[l].mutable))
        }
        if let u = resolveUpvalue(parent, name) {
            return addUpvalue(f, UpvalueInfo(name: name, fromParentLocal: false, index: u, mutable: parent.upvalues[u].mutable))
        }
        return nil
    }

    private func addUpvalue(_ f: FunctionState, _ info: UpvalueInfo) -> Int {
        if let i = f.upvalues.firstIndex(where: { $0.fromParentLocal == info.fromParentLocal && $0.index == info.index }) {
            return i
        }
        f.upvalues.append(info)
        if f.upvalues.count == 256 {
            error("function captures too many variables (limit 255)", at: f.loc)
        }
        return f.upvalues.count - 1
    }

    // MARK: functions

    /// Builds the heap function for a finished `FunctionState`.
    func finishFunction(_ f: FunctionState) -> UnsafeMutablePointer<ObjFunction> {
        var className = ""
        var name = f.name
        if let dot = name.firstIndex(of: ".") { className = String(name[..<dot]) }
        if f.kind == .script { name = "<script>" }
        fillConstantPools(f)
        return rt.makeFunction(
            code: f.code, lines: f.lines, constants: f.constantValues,
            upvalues: f.upvalues.map { UInt16($0.index) | ($0.fromParentLocal ? 0x8000 : 0) },
            debug: FunctionDebugInfo(source: source, columns: f.columns, operandNames: f.operandNames),
            arity: f.arity, requiredCount: f.requiredCount, hasRest: f.hasRest, paramNames: f.paramNames, maxRegisters: f.maxRegisters, name: name, className: className,
            module: module, isInitializer: f.kind == .initializer, isMethod: f.kind == .method || f.kind == .initializer)
    }

    /// Compiles a function body into a new function constant of the current function and
    /// returns the constant's index.
    func function(_ decl: FunctionDecl, kind: FunctionKind, name: String) -> Int {
        let child = FunctionState(enclosing: fs, kind: kind, name: name)
        child.line = decl.loc.line
        child.loc = decl.loc
        fs = child
        child.arity = decl.params.count
        child.requiredCount = decl.requiredCount
        child.paramNames = decl.params
        beginScope()
        if kind == .function {
            // Register 0 holds the closure itself.
        }
        var seen = Set<String>()
        let firstParam = child.locals.count
        for (i, p) in decl.params.enumerated() {
            if seen.contains(p) { error("duplicate parameter '\(p)'", at: decl.loc) }
            seen.insert(p)
            let r = reserveRegisters()
            // A parameter with a default is named once its default is compiled, so a default
            // sees only the parameters before it.
            let visible = i < decl.requiredCount ? p : " parameter"
            child.locals.append(Local(name: visible, register: r, depth: child.scopeDepth, mutable: true, captured: false))
        }
        if let rest = decl.rest {
            // After the defaults are compiled: they cannot see it.
            child.hasRest = true
            child.locals.append(Local(name: " rest", register: reserveRegisters(), depth: child.scopeDepth, mutable: true, captured: false))
            if seen.contains(rest) { error("duplicate parameter '\(rest)'", at: decl.loc) }
        }
        if decl.params.count > 200 { error("too many parameters (limit 200)", at: decl.loc) }
        if decl.requiredCount < decl.params.count { defaultValues(decl, firstLocal: firstParam) }
        if let rest = decl.rest { child.locals[firstParam + decl.params.count].name = rest }
        functionBody(decl.body, at: decl.loc)
        setLine(decl.endLoc)
        if kind == .initializer { emit(Instruction.abc(.ret, 0)) } else { emit(Instruction.abc(.retNil, 0)) }
        fs = child.enclosing!
        let fn = finishFunction(child)
        let v = Value(fn)
        rt.compilerRoots.append(v)
        reservePoolSlotsIfNeeded()
        fs.constantValues.append(v)
        fs.constants.append(.function(fs.constantValues.count - 1))
        checkConstantCount()
        return fs.constants.count - 1
    }

    /// The prologue of a function with default values: for each optional parameter, in
    /// order, `JARG` skips the default's code when the parameter got an argument (`pushFrame`
    /// marks the others). Functions without defaults have no prologue at all.
    private func defaultValues(_ decl: FunctionDecl, firstLocal: Int) {
        for i in decl.requiredCount..<decl.params.count {
            if let value = decl.defaults[i] {
                setLine(value.loc)
                emit(Instruction.abc(.testArg, i + 1))
                let skip = emitJump()
                expression(value, into: i + 1)
                fs.freeRegister = localsTop
                patchJump(skip)
            }
            fs.locals[firstLocal + i].name = decl.params[i]
        }
    }
}
