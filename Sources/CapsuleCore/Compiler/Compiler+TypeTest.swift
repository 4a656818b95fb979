import CapsuleSyntax

extension Compiler {
    /// `value is Type`. A built-in type name (`int`, `string`, `nil`, …) that the script has not
    /// bound to something of its own is a type test (ISTYPE); anything else is evaluated and
    /// must give a class at run time (IS).
    func typeTest(_ value: Expr, _ type: Expr, into dest: Int, at loc: SourceLocation) {
        typeTest(register: expressionToAnyRegister(value), type, into: dest, at: loc)
    }

    /// Tests the value in register `v` against `type` (the right side of `is`).
    func typeTest(register v: Int, _ type: Expr, into dest: Int, at loc: SourceLocation) {
        if let code = builtinTypeCode(type) {
            setLine(loc)
            emit(Instruction.abc(.isType, dest, v, code))
            return
        }
        let t = expressionToAnyRegister(type)
        setLine(loc)
        emit(Instruction.abc(.isInstance, dest, v, t))
    }

    private func builtinTypeCode(_ type: Expr) -> Int? {
        switch type.kind {
        case .nilLiteral:
            return Runtime.builtinTypeNames.firstIndex(of: "nil")
        case .variable(let name):
            guard let code = Runtime.builtinTypeNames.firstIndex(of: name) else { return nil }
            switch resolve(name) {
            case nil, .builtin?: return code
            default: return nil  // shadowed by a variable of the script
            }
        default:
            return nil
        }
    }
}
