/// The built-in error classes and the class of every runtime error.
///
/// `Error` is a class whose instances are error values (kind `.error`, with `message`,
/// `trace` and fields). Scripts subclass it (`class NotFound < Error { … }`), and the errors
/// the VM and the host modules raise are instances of the small hierarchy below, chosen in
/// one place (`errorKind(of:)`) from the message, whose text is unchanged.
package enum ErrorKind: Int, CaseIterable, Sendable {
    case error, type, value, arithmetic, lookup, index, key, io, denied, limit, timeout, plugin, ffi
    case importing, assertion, cancelled

    var className: String {
        switch self {
        case .error: return "Error"
        case .type: return "TypeError"
        case .value: return "ValueError"
        case .arithmetic: return "ArithmeticError"
        case .lookup: return "LookupError"
        case .index: return "IndexError"
        case .key: return "KeyError"
        case .io: return "IOError"
        case .denied: return "DeniedError"
        case .limit: return "LimitError"
        case .timeout: return "TimeoutError"
        case .plugin: return "PluginError"
        case .ffi: return "FFIError"
        case .importing: return "ImportError"
        case .assertion: return "AssertionError"
        case .cancelled: return "CancelledError"
        }
    }

    /// The superclass; nil for `Error` itself. Declared before its subclasses in `allCases`.
    var parent: ErrorKind? {
        switch self {
        case .error: return nil
        case .index, .key: return .lookup
        case .timeout: return .limit
        default: return .error
        }
    }
}

extension Runtime {
    /// Creates the error classes as builtins (`Error`, `TypeError`, …).
    func installErrorClasses() {
        gcPauseCount += 1
        defer { gcPauseCount -= 1 }
        let initializer = newNative(name: "Error.init", arity: 1, isMethod: true) { rt, args, count in
            // args[0] is the new error, args[1] the message; read from a class without a
            // receiver (`Error.init(x)`), there is none.
            guard count == 2, args[0].isObject(.error) else { return rt.fail("Error.init must be called on an error") }
            guard let m = rt.toStringValue(args[1]) else { return Runtime.failure }
            args[0].obj(ObjError.self).pointee.message = m
            return args[0]
        }
        for kind in ErrorKind.allCases {
            let k = newClass(name: Value(intern(kind.className)))
            let v = Value(k)
            builtins[kind.className] = v
            if let parent = kind.parent {
                _ = inherit(v, from: errorClassValues[parent.rawValue])
            } else {
                setMethod(k, nameInit, initializer)
            }
            errorClassValues.append(v)
        }
    }

    /// The class value of a built-in error kind.
    func errorClass(_ kind: ErrorKind) -> Value { errorClassValues[kind.rawValue] }

    /// The class of an error value (`Error` when none was set).
    func errorClassOf(_ e: UnsafeMutablePointer<ObjError>) -> Value {
        e.pointee.klass.isNil ? errorClass(.error) : e.pointee.klass
    }

    /// True when class `k` is `Error` or one of its subclasses: calling it makes an error value.
    func isErrorClass(_ k: UnsafeMutablePointer<ObjClass>) -> Bool {
        let root = errorClass(.error).bits
        var c = Value(k)
        while c.isObject(.klass) {
            if c.bits == root { return true }
            c = c.obj(ObjClass.self).pointee.superclass
        }
        return false
    }

    /// Gives a runtime error its class (and a DeniedError its `capability` and `resource`).
    func classify(_ error: Value, message: String, kind: ErrorKind?) {
        guard error.isObject(.error), !errorClassValues.isEmpty else { return }
        let e = error.obj(ObjError.self)
        let kind = kind ?? Runtime.errorKind(of: message)
        e.pointee.klass = errorClass(kind)
        if kind == .denied, let (capability, resource) = Runtime.deniedParts(message) {
            pushRoot(error)
            defer { popRoot() }
            let c = Value(makeString(capability))
            pushRoot(c)
            accountExternal(e.pointee.fields.set(intern("capability"), c))
            popRoot()
            let r = resource.map { Value(makeString($0)) } ?? .nil
            pushRoot(r)
            accountExternal(e.pointee.fields.set(intern("resource"), r))
            popRoot()
        }
    }

    /// `denied: KIND RESOURCE (WHY)`, possibly after a prefix such as `fs.read: ` or
    /// `plugin NAME: ` (Policy.denial): the capability kind and the resource.
    static func deniedParts(_ message: String) -> (String, String?)? {
        guard let start = message.firstRange(of: "denied: ") else { return nil }
        var rest = message[start.upperBound...]
        if let why = rest.ranges(of: " (").last { rest = rest[..<why.lowerBound] }
        guard let space = rest.firstIndex(of: " ") else { return (String(rest), nil) }
        return (String(rest[..<space]), String(rest[rest.index(after: space)...]))
    }

    /// The class of a runtime error, from its message (docs/language.md lists the rules).
    static func errorKind(of m: String) -> ErrorKind {
        if m.hasPrefix("denied: ") || m.contains(": denied: ") { return .denied }
        if m.hasPrefix("timeout of ") || m.contains("timed out") { return .timeout }
        if m.hasPrefix("stack overflow") || m.contains("out of memory") || m.hasPrefix("instruction limit")
            || m == "string is too long" || m == "list is too long" || m == "range is too large" {
            return .limit
        }
        if m == "integer overflow" || m == "division by zero" || m.hasPrefix("shift count ") { return .arithmetic }
        if m.hasPrefix("import cycle") || (m.hasPrefix("module '") && m.contains("' not found"))
            || m.hasPrefix("cannot compile module") {
            return .importing
        }
        if m.hasPrefix("index ") && m.contains(" out of range for ") || m == "pop from an empty list" { return .index }
        if m.hasPrefix("key not found") { return .key }
        if m.contains(" has no field or method ") || m.contains(" has no variable ")
            || m.contains(" is used before it is defined") || m.hasPrefix("superclass has no method") {
            return .lookup
        }
        // Host modules name themselves first: `fs.read: …`, `ffi.bind: …`.
        let typeMistake = m.contains(": argument ") && m.contains("expected ")
        if m.hasPrefix("ffi.") { return typeMistake ? .type : .ffi }
        if m.hasPrefix("plugins.") || m.hasPrefix("reload of ") || m.hasPrefix("plugin ") { return typeMistake ? .type : .plugin }
        for module in ["fs.", "net.", "proc.", "env.", "time.", "random."] where m.hasPrefix(module) {
            return typeMistake ? .type : .io
        }
        if typeMistake { return .type }  // a plugin export's argument: `mod.fn: argument 1: expected …`
        if m.hasPrefix("cannot read standard input") || m.hasPrefix("write to standard output failed") { return .io }
        if m.hasPrefix("json.") || m.hasPrefix("re.") || m.hasPrefix("cannot encode") { return typeMistake ? .type : .value }
        if m.contains("negative number of times") || m == "cannot convert nan to int" || m.contains("0...255, got") {
            return .value
        }
        if m.hasPrefix("cannot ") || m.contains(" expects ") || (m.contains(" must ") && m.contains(", got "))
            || m == "strings are immutable" || m == "map key cannot be nil" || m.contains(" needs an int") {
            return .type
        }
        if m.hasPrefix("invalid ") || m.contains(" literal is too large") || m.contains(" is out of ")
            || m.contains("cannot be empty") || m.contains("cannot be zero") || m.contains(" of an empty list")
            || m.contains("not a Unicode scalar") || m.contains("not valid UTF-8") || m.hasPrefix("format ")
            || m.hasPrefix("ord() needs") || m.contains(" is not allowed with") || m.hasPrefix("nested too deeply") {
            return .value
        }
        return .error
    }
}
