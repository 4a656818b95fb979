/// A declared parameter or result type of a native function registered with `VM.register`.
public enum ScriptType: String, Sendable, CaseIterable {
    /// Any value.
    case any
    /// Only `nil`.
    case `nil`
    /// `true` or `false`.
    case bool
    /// An int (not a float).
    case int
    /// A float (not an int; use `number` to accept both).
    case float
    /// An int or a float.
    case number
    /// A string.
    case string
    /// A byte buffer.
    case bytes
    /// A list.
    case list
    /// A map.
    case map
    /// Something callable: a script function, closure, native or bound method. It reaches
    /// Swift as `.function`, which `VM.call(_:_:)` calls.
    case function

    /// The name used in error messages (`"int"`, `"number"`, …).
    public var name: String { rawValue }

    /// Whether a value copied out of the VM has this type.
    public func accepts(_ v: ScriptValue) -> Bool {
        switch (self, v) {
        case (.any, _), (.nil, .nil), (.bool, .bool), (.int, .int), (.float, .float),
             (.number, .int), (.number, .float), (.string, .string), (.bytes, .bytes),
             (.list, .list), (.map, .map), (.function, .function):
            return true
        default: return false
        }
    }
}

extension ScriptType {
    /// Whether a VM value has this type (checked before any copying).
    func accepts(_ v: Value) -> Bool {
        switch self {
        case .any: return true
        case .nil: return v.isNil
        case .bool: return v.isBool
        case .int: return v.isInt
        case .float: return v.isDouble
        case .number: return v.isNumber
        case .string: return v.isString
        case .bytes: return v.isObject(.bytes)
        case .list: return v.isObject(.list)
        case .map: return v.isObject(.map)
        case .function:
            guard let k = v.objKind else { return false }
            return k == .closure || k == .native || k == .boundMethod || k == .function
        }
    }
}
