/// A readable listing of compiled bytecode, used by `capsule disasm` and the snapshot tests.
///
/// ```
/// function <script> (0 params, 3 registers, 2 constants)
///    0  [1]  LOADK      1 K0        ; "hello"
/// ```
enum Disassembler {
    static func listing(of fn: UnsafeMutablePointer<ObjFunction>, rt: Runtime) -> String {
        var out = ""
        var queue = [fn]
        var seen = Set<UnsafeMutablePointer<ObjFunction>>()
        while !queue.isEmpty {
            let f = queue.removeFirst()
            if seen.contains(f) { continue }
            seen.insert(f)
            if !out.isEmpty { out += "\n" }
            out += function(f, rt: rt)
            for j in 0..<f.pointee.constantCount where f.pointee.constants[j].isObject(.function) {
                queue.append(f.pointee.constants[j].obj(ObjFunction.self))
            }
        }
        return out
    }

    static func mnemonic(_ op: Opcode) -> String {
        switch op {
        case .testEq: return "JEQ"
        case .testLt: return "JLT"
        case .testLe: return "JLE"
        case .testLtI: return "JLTI"
        case .testLeI: return "JLEI"
        case .testGtI: return "JGTI"
        case .testGeI: return "JGEI"
        case .testEqK: return "JEQK"
        case .testArg: return "JARG"
        case .ret: return "RETURN"
        case .retNil: return "RETURNNIL"
        case .tryBegin: return "TRY"
        case .tryEnd: return "ENDTRY"
        case .throwValue: return "THROW"
        case .importModule: return "IMPORT"
        case .newClass: return "CLASS"
        case .isInstance: return "IS"
        case .contains: return "IN"
        case .unpackKey: return "UNPACKKEY"

        default: return "\(op)".uppercased()
        }
    }

    static func function(_ f: UnsafeMutablePointer<ObjFunction>, rt: Runtime) -> String {
        let name = f.pointee.name.obj(ObjString.self).string
        var params = "\(f.pointee.paramCount) params"
        if f.pointee.requiredCount < f.pointee.paramCount { params += " (\(f.pointee.requiredCount) required)" }
        if f.pointee.hasRest { params += " + rest" }
        var out = "function \(name) (\(params), \(f.pointee.maxRegisters) registers, "
        out += "\(f.pointee.constantCount) constants, \(f.pointee.upvalueCount) upvalues)\n"
        var pc = 0
        let code = f.pointee.code
        let k = f.pointee.constants
        func constant(_ i: Int) -> String {
            guard i >= 0 && i < f.pointee.constantCount else { return "?" }
            let v = k[i]
            if v.isObject(.function) { return "<fn \(v.obj(ObjFunction.self).pointee.name.obj(ObjString.self).string)>" }
            return rt.describe(v, quoted: true)
        }
        while pc < f.pointee.codeCount {
            let i = code[pc]
            let op = Instruction.op(i)
            let a = Instruction.a(i), b = Instruction.b(i), c = Instruction.c(i)
            var operands: String
            var comment = ""
            var extra: Int? = nil
            if BytecodeVerifier.needsExtra.contains(op), pc + 1 < f.pointee.codeCount {
                extra = Instruction.extraValue(code[pc + 1])
            }
            switch op {
            case .loadK, .closure, .newClass, .importModule:
                operands = "\(a) K\(Instruction.bx(i))"; comment = constant(Instruction.bx(i))
            case .loadI: operands = "\(a) \(Instruction.sbx(i))"
            case .loadNil, .loadTrue, .loadFalse, .ret, .close, .throwValue, .newMap, .iterPrep: operands = "\(a)"
            case .retNil, .tryEnd, .extra: operands = ""
            case .getGlobal, .setGlobal, .defGlobal: operands = "\(a) G\(Instruction.bx(i))"
            case .getUpval, .setUpval: operands = "\(a) U\(b)"
            case .addK, .subK, .mulK, .divK, .modK: operands = "\(a) \(b) K\(c)"; comment = constant(c)
            case .addI, .subI: operands = "\(a) \(b) \(Instruction.sc(i))"
            case .testLtI, .testLeI, .testGtI, .testGeI: operands = "\(a) \(Instruction.sb(i)) \(c)"
            case .testEqK: operands = "\(a) K\(b) \(c)"; comment = constant(b)
            case .test: operands = "\(a) \(c)"
            case .testArg: operands = "\(a)"
            case .jmp: operands = "\(Instruction.sj(i))"; comment = "to \(pc + 1 + Instruction.sj(i))"
            case .call: operands = "\(a) \(b)"
            case .newList: operands = "\(a) \(b)"
            case .neg, .bnot, .not, .move, .toStr, .inherit: operands = "\(a) \(b)"
            case .invoke, .getField, .method: operands = "\(a) \(b) K\(extra ?? -1)"; comment = constant(extra ?? -1)
            case .setField: operands = "\(a) K\(extra ?? -1) \(c)"; comment = constant(extra ?? -1)
            case .getSuper: operands = "\(a) \(b) \(c) K\(extra ?? -1)"; comment = constant(extra ?? -1)
            case .forPrep, .forLoop, .iterNext, .tryBegin:
                operands = op == .iterNext ? "\(a) \(b) \(extra ?? 0)" : (op == .forPrep ? "\(a) \(c) \(extra ?? 0)" : "\(a) \(extra ?? 0)")
                if op == .tryBegin && b != 0 { operands = "\(a) \(b) \(extra ?? 0)" }
                comment = "to \(pc + 2 + (extra ?? 0))"
            case .assertFail, .extend: operands = "\(a) \(b)"
            case .isType:
                operands = "\(a) \(b) \(c)"
                if c < Runtime.builtinTypeNames.count { comment = Runtime.builtinTypeNames[c] }
            case .spread: operands = "\(a)"
            case .named: operands = "\(a) \(b)"
            case .callable, .unpackKey:
                operands = op == .unpackKey ? "\(a) \(b) K\(extra ?? -1)" : "\(a) K\(extra ?? -1)"
                comment = constant(extra ?? -1)
            default: operands = "\(a) \(b) \(c)"
            }
            let mn = mnemonic(op)
            var line = "\(pad(String(pc), 5))  [\(f.pointee.lines[pc])]  \(mn.padding(11))\(operands)"
            if !comment.isEmpty { line = line.padding(44) + "; " + comment }
            out += line + "\n"
            pc += extra == nil ? 1 : 2
        }
        return out
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - s.count)) + s
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
