/// A Capsule value copied out of (or into) a VM, for Swift code that embeds one.
///
/// Scalars, strings, bytes, lists and maps are copied deeply; a function becomes `.function`,
/// a reference Swift can call and pass back into the same VM; any other value (classes,
/// instances, modules, errors, handles) becomes `.object` with its type name and a
/// description, and cannot be passed back into a VM.
public enum ScriptValue: Equatable, Sendable {
    /// `nil`.
    case `nil`
    /// `true` or `false`.
    case bool(Bool)
    /// A 64-bit signed int.
    case int(Int64)
    /// A double. Every NaN equals every other NaN here, so `==` stays an equivalence.
    case float(Double)
    /// A UTF-8 string.
    case string(String)
    /// A byte buffer.
    case bytes([UInt8])
    /// A list, element by element.
    case list([ScriptValue])
    /// A map's entries in insertion order.
    case map([(key: ScriptValue, value: ScriptValue)])
    /// A script function, closure, native or bound method, kept alive in its VM while the
    /// `ScriptFunction` lives: call it with `VM.call(_:_:)`, or pass it back into that VM.
    case function(ScriptFunction)
    /// A value with no Swift counterpart: its `type()` name and a `str`-like description
    /// (computed without running script code).
    case object(typeName: String, description: String)

    /// The script type name of this value (`"int"`, `"list"`, … or the object's type name).
    public var typeName: String {
        switch self {
        case .nil: return "nil"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "string"
        case .bytes: return "bytes"
        case .list: return "list"
        case .map: return "map"
        case .function: return "function"
        case .object(let t, _): return t
        }
    }

    /// Structural equality: maps compare entry by entry in order; NaN equals NaN.
    public static func == (a: ScriptValue, b: ScriptValue) -> Bool {
        switch (a, b) {
        case (.nil, .nil): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.float(x), .float(y)): return x == y || (x.isNaN && y.isNaN)
        case let (.string(x), .string(y)): return x == y
        case let (.bytes(x), .bytes(y)): return x == y
        case let (.list(x), .list(y)): return x == y
        case let (.map(x), .map(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case let (.function(f), .function(g)): return f.pins === g.pins && f.identity == g.identity
        case let (.object(t1, d1), .object(t2, d2)): return t1 == t2 && d1 == d2
        default: return false
        }
    }
}

extension ScriptValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral {
    /// `nil` as a `ScriptValue`.
    public init(nilLiteral: ()) { self = .nil }
    /// `true` / `false` as a `ScriptValue`.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// An integer literal as `.int`.
    public init(integerLiteral value: Int64) { self = .int(value) }
    /// A float literal as `.float`.
    public init(floatLiteral value: Double) { self = .float(value) }
    /// A string literal as `.string`.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An array literal as `.list`.
    public init(arrayLiteral elements: ScriptValue...) { self = .list(elements) }
}
