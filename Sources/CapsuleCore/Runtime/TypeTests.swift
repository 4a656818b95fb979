/// `x is C`, `x is int` and `class_of(x)`.
extension Runtime {
    /// The built-in type names `is` accepts, numbered as ISTYPE's C operand. All but
    /// `number` (an int or a float) are names `type()` returns.
    static let builtinTypeNames = ["nil", "bool", "int", "float", "number", "string", "list", "map", "bytes",
                                   "function", "class", "instance", "module", "error"]

    /// ISTYPE: whether `v` has built-in type number `code`.
    @inline(never)
    func hasBuiltinType(_ v: Value, _ code: Int) -> Bool {
        let name = Runtime.builtinTypeNames[code]
        if name == "number" { return v.isNumber }
        return typeName(v) == name
    }

    /// IS: whether `v` is an instance of class `type` or of one of its subclasses. Raises
    /// (returning nil) when `type` is not a class.
    @inline(never)
    func isInstance(_ v: Value, of type: Value) -> Bool? {
        guard type.isObject(.klass) else {
            raise("right side of 'is' must be a class or a type name, got \(typeName(type))")
            return nil
        }
        var k = classOf(v)
        while k.isObject(.klass) {
            if k.bits == type.bits { return true }
            k = k.obj(ObjClass.self).pointee.superclass
        }
        return false
    }

    /// The class of an instance or an error; nil for other values.
    func classOf(_ v: Value) -> Value {
        if v.isObject(.instance) { return Value(v.obj(ObjInstance.self).pointee.klass) }
        if v.isObject(.error) { return errorClassOf(v.obj(ObjError.self)) }
        return .nil
    }

    func installTypeBuiltins() {
        defineBuiltin("class_of", arity: 1) { rt, args, _ in rt.classOf(args[0]) }
    }
}
