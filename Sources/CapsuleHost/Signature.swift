/// The C signature of a plugin export, parsed once at load from text such as
/// `"(i64, f64, str) -> f64"` (the grammar is in sdk/include/capsule.h).
///
/// ```
/// signature := '(' [param (',' param)*] ')' '->' type
/// param     := ['out'] type
/// type      := void | bool | i8 | i16 | i32 | i64 | u8 | u16 | u32 | u64 | f32 | f64
///            | ptr | str | bytes | buf | handle '<' Name '>' | value
/// ```
public struct Signature: Equatable, Sendable, CustomStringConvertible {
    /// One parameter: its type, and whether C receives a pointer to write a result through.
    public struct Parameter: Equatable, Sendable {
        /// The declared type (for `out T`, the pointee type T).
        public var type: ValueType
        /// True for `out T`: the value comes back to the script as an extra result.
        public var isOut: Bool
    }

    /// The parameters in order (`bytes` and `buf` each take two C arguments).
    public var parameters: [Parameter]
    /// The result type (`void` for none).
    public var result: ValueType

    /// The number of arguments a script passes (`out` parameters are not passed).
    public var scriptArity: Int { parameters.count { !$0.isOut } }

    /// The canonical text: `(i64, out f64) -> void`.
    public var description: String {
        "(" + parameters.map { ($0.isOut ? "out " : "") + $0.type.description }.joined(separator: ", ")
            + ") -> " + result.description
    }

    /// Parses `text`; on failure the error says what was expected and at which column (1-based).
    public static func parse(_ text: String) -> Result<Signature, SignatureError> {
        var parser = SignatureParser(text)
        return parser.parseSignature()
    }
}

/// The types of the signature language.
public enum ValueType: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// No value (results only), and C99 `bool`.
    case void, bool
    /// Fixed-width integers; script ints are range-checked against them.
    case i8, i16, i32, i64, u8, u16, u32, u64
    /// `float` and `double`; script ints convert.
    case f32, f64
    /// A raw pointer, seen by scripts as an int address (nil for NULL).
    case ptr
    /// `const char*`, NUL-terminated UTF-8, borrowed for the call.
    case str
    /// `const uint8_t*` then `size_t`, borrowed for the call. As a result: the function
    /// returns `const uint8_t*` and gets a trailing hidden `size_t*` for the length; the host
    /// copies the bytes (NULL is nil).
    case bytes
    /// `uint8_t*` then `size_t`: the script's byte buffer, writable during the call.
    case buf
    /// A pointer the plugin created, typed by the handle type's name.
    case handle(String)
    /// Any script value, as a `capsule_value` reference the host API inspects and builds
    /// (valid for the call).
    case value

    /// The scalar types, by their names in signatures.
    static let named: [String: ValueType] = [
        "void": .void, "bool": .bool,
        "i8": .i8, "i16": .i16, "i32": .i32, "i64": .i64,
        "u8": .u8, "u16": .u16, "u32": .u32, "u64": .u64,
        "f32": .f32, "f64": .f64, "ptr": .ptr, "str": .str, "bytes": .bytes, "buf": .buf,
        "value": .value,
    ]

    /// The name as written in signatures.
    public var description: String {
        switch self {
        case .void: "void"
        case .bool: "bool"
        case .i8: "i8"
        case .i16: "i16"
        case .i32: "i32"
        case .i64: "i64"
        case .u8: "u8"
        case .u16: "u16"
        case .u32: "u32"
        case .u64: "u64"
        case .f32: "f32"
        case .f64: "f64"
        case .ptr: "ptr"
        case .str: "str"
        case .bytes: "bytes"
        case .buf: "buf"
        case .handle(let name): "handle<\(name)>"
        case .value: "value"
        }
    }

    /// The type without its handle name: what the per-call path switches on.
    var kind: TypeKind {
        switch self {
        case .void: .void
        case .bool: .bool
        case .i8: .i8
        case .i16: .i16
        case .i32: .i32
        case .i64: .i64
        case .u8: .u8
        case .u16: .u16
        case .u32: .u32
        case .u64: .u64
        case .f32: .f32
        case .f64: .f64
        case .ptr: .ptr
        case .str: .str
        case .bytes: .bytes
        case .buf: .buf
        case .handle: .handle
        case .value: .value
        }
    }

    /// True for the types an `out` parameter may have (fixed-size scalars).
    var canBeOut: Bool {
        switch self {
        case .void, .str, .bytes, .buf, .handle, .value: false
        default: true
        }
    }
}

/// `ValueType` without the handle name: a one-byte value the call path can copy and switch
/// on without reference counting.
enum TypeKind: UInt8 {
    case void, bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, ptr, str, bytes, buf, handle
    case value

    /// The range of an integer type as Int64 bounds (u64's upper bound is clipped to
    /// Int64.max, the largest script int); nil for non-integers.
    var intRange: ClosedRange<Int64>? {
        switch self {
        case .i8: Int64(Int8.min)...Int64(Int8.max)
        case .i16: Int64(Int16.min)...Int64(Int16.max)
        case .i32: Int64(Int32.min)...Int64(Int32.max)
        case .i64: Int64.min...Int64.max
        case .u8: 0...Int64(UInt8.max)
        case .u16: 0...Int64(UInt16.max)
        case .u32: 0...Int64(UInt32.max)
        case .u64: 0...Int64.max
        default: nil
        }
    }

    /// The name in signatures (`handle` for handles: messages add the type name).
    var name: String { String(describing: self) }
}

/// Why a signature did not parse.
public struct SignatureError: Error, Equatable, Sendable {
    /// What was expected, e.g. "expected a type".
    public var message: String
    /// The 1-based column of the offending character (one past the end at end of text).
    public var column: Int
}

/// A hand-written recursive-descent parser over the signature's UTF-8 bytes.
struct SignatureParser {
    let bytes: [UInt8]
    var pos = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    mutating func parseSignature() -> Result<Signature, SignatureError> {
        do {
            try expect("(")
            var parameters: [Signature.Parameter] = []
            skipSpaces()
            if peek() != UInt8(ascii: ")") {
                repeat {
                    parameters.append(try parameter())
                } while accept(",")
            }
            try expect(")")
            try expect("->")
            skipSpaces()
            let resultColumn = column
            let result = try type()
            if result == .buf {
                throw SignatureError(message: "\(result) cannot be a result type", column: resultColumn)
            }
            skipSpaces()
            if pos < bytes.count { throw SignatureError(message: "unexpected text after the result type", column: column) }
            return .success(Signature(parameters: parameters, result: result))
        } catch let error as SignatureError {
            return .failure(error)
        } catch {
            fatalError("unreachable")
        }
    }

    private mutating func parameter() throws -> Signature.Parameter {
        skipSpaces()
        let start = pos
        var isOut = false
        if word() == "out" { isOut = true } else { pos = start }
        skipSpaces()
        let typeColumn = column
        let t = try type()
        if t == .void { throw SignatureError(message: "void is not a parameter type", column: typeColumn) }
        if isOut && !t.canBeOut {
            throw SignatureError(message: "out \(t) is not supported (out takes a number, bool or ptr)", column: typeColumn)
        }
        return Signature.Parameter(type: t, isOut: isOut)
    }

    private mutating func type() throws -> ValueType {
        skipSpaces()
        let typeColumn = column
        let name = word()
        if name == "handle" {
            try expect("<")
            skipSpaces()
            let nameColumn = column
            let handleName = word()
            guard !handleName.isEmpty else { throw SignatureError(message: "expected a handle type name", column: nameColumn) }
            try expect(">")
            return .handle(handleName)
        }
        if let t = ValueType.named[name] { return t }
        if name.isEmpty { throw SignatureError(message: "expected a type", column: typeColumn) }
        throw SignatureError(message: "unknown type '\(name)'", column: typeColumn)
    }

    /// An identifier at the current position ("" if none).
    private mutating func word() -> String {
        skipSpaces()
        let start = pos
        while pos < bytes.count, isIdentifierByte(bytes[pos]) { pos += 1 }
        return String(decoding: bytes[start..<pos], as: UTF8.self)
    }

    private mutating func expect(_ token: String) throws {
        if !accept(token) {
            let found = pos < bytes.count ? "'\(Character(UnicodeScalar(bytes[pos])))'" : "the end"
            throw SignatureError(message: "expected '\(token)', found \(found)", column: column)
        }
    }

    private mutating func accept(_ token: String) -> Bool {
        skipSpaces()
        let t = Array(token.utf8)
        guard pos + t.count <= bytes.count, Array(bytes[pos..<pos + t.count]) == t else { return false }
        pos += t.count
        return true
    }

    private func peek() -> UInt8? { pos < bytes.count ? bytes[pos] : nil }
    private var column: Int { pos + 1 }

    private mutating func skipSpaces() {
        while pos < bytes.count, bytes[pos] == UInt8(ascii: " ") || bytes[pos] == UInt8(ascii: "\t") { pos += 1 }
    }
}

/// True for `[A-Za-z0-9_]`.
func isIdentifierByte(_ b: UInt8) -> Bool {
    (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x5F
}

/// True for names matching `[A-Za-z_][A-Za-z0-9_]*`.
func isIdentifier(_ s: String) -> Bool {
    guard let first = s.utf8.first, !(first >= 0x30 && first <= 0x39) else { return false }
    return s.utf8.allSatisfy(isIdentifierByte)
}
