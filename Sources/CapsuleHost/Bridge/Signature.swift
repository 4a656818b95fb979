/// The C signature of a plugin export or raw FFI function, parsed once from text such as
/// `"(i64, f64, str) -> f64"` (the grammar is also in sdk/include/capsule.h and
/// docs/plugins.md).
///
/// ```
/// signature := '(' [params] ')' '->' type ['!errno']
/// params    := param (',' param)* [',' '...']
/// param     := ['out'] type
/// type      := void | bool | i8 | i16 | i32 | i64 | u8 | u16 | u32 | u64 | f32 | f64
///            | ptr | str | bytes | buf | handle '<' Name '>' | value
///            | callback '<' signature '>'       (parameters only)
///            | Name                             (a struct type the resolver knows)
/// struct    := '{' field (',' field)* '}'        (StructType.parseFields)
/// field     := type Name                         (type: a number, bool, ptr or struct)
/// ```
///
/// - `...` makes the function variadic: the fixed parameters come first, and each call
///   may pass more arguments, whose C types follow from the script values (int → int64_t,
///   float → double, str → const char*, bytes → its data pointer, nil → NULL, bool → int).
/// - `!errno`: the host sets errno to 0 right before the call and reads it right after;
///   the script gets it as an extra last result.
/// - `callback<(i32) -> void>`: the script passes a function (or an `ffi.callback` handle,
///   or nil) and C receives a function pointer that calls it. A callback's parameters are
///   numbers, bool, ptr or str; its result a number, bool, ptr or void.
/// - A struct type is passed and returned by value, and `out S` passes a pointer to one
///   that C fills; scripts see a map from field names to values.
public struct Signature: Hashable, Sendable, CustomStringConvertible {
    /// One parameter: its type, and whether C receives a pointer to write a result through.
    public struct Parameter: Hashable, Sendable {
        /// The declared type (for `out T`, the pointee type T).
        public var type: ValueType
        /// True for `out T`: the value comes back to the script as an extra result.
        public var isOut: Bool
    }

    /// The parameters in order (`bytes` and `buf` each take two C arguments).
    public var parameters: [Parameter]
    /// The result type (`void` for none).
    public var result: ValueType
    /// True when the parameters end with `...`: calls may pass more arguments.
    public var isVariadic: Bool = false
    /// True for `!errno`: errno is cleared before the call and returned after it.
    public var capturesErrno: Bool = false

    /// The number of arguments a script passes (`out` parameters are not passed).
    public var scriptArity: Int { parameters.count { !$0.isOut } }

    /// The canonical text: `(i64, out f64) -> void`, `(buf, str, ...) -> i32 !errno`.
    public var description: String {
        "(" + (parameters.map { ($0.isOut ? "out " : "") + $0.type.description } + (isVariadic ? ["..."] : []))
            .joined(separator: ", ")
            + ") -> " + result.description + (capturesErrno ? " !errno" : "")
    }

    /// True when a call needs more than the fixed shapes the fast paths know: errno,
    /// variadic arguments, structs or callbacks.
    var needsGeneralPath: Bool {
        capturesErrno || isVariadic || (parameters.map(\.type) + [result]).contains { $0.kind == .structure || $0.kind == .callback }
    }

    /// Parses `text`; on failure the error says what was expected and at which column
    /// (1-based). `structs` resolves names that are not built-in types (raw FFI's declared
    /// structs); plugins have none.
    public static func parse(_ text: String, structs: @escaping (String) -> StructType? = { _ in nil }) -> Result<Signature, SignatureError> {
        var parser = SignatureParser(text, structs: structs)
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
    /// A C struct passed by value (or, with `out`, by pointer); a map in scripts.
    case structure(StructType)
    /// A C function pointer that calls a script function with this signature.
    indirect case callback(Signature)
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
        case .structure(let type): type.name
        case .callback(let signature): "callback<\(signature)>"
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
        case .structure: .structure
        case .callback: .callback
        case .value: .value
        }
    }

    /// True for the types an `out` parameter may have (fixed-size scalars).
    var canBeOut: Bool {
        switch self {
        case .void, .str, .bytes, .buf, .handle, .callback, .value: false
        default: true
        }
    }

    /// True for the types a struct field may have: numbers, bool, ptr and structs.
    var canBeField: Bool {
        switch self {
        case .void, .str, .bytes, .buf, .handle, .callback, .value: false
        default: true
        }
    }

    /// True for the types a callback receives: numbers, bool, ptr and str.
    var canBeCallbackParameter: Bool {
        switch self {
        case .void, .bytes, .buf, .handle, .callback, .structure, .value: false
        default: true
        }
    }
}

/// `ValueType` without the handle name: a one-byte value the call path can copy and switch
/// on without reference counting.
enum TypeKind: UInt8 {
    case void, bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, ptr, str, bytes, buf, handle
    case structure, callback, value

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
    let structs: (String) -> StructType?

    init(_ text: String, structs: @escaping (String) -> StructType? = { _ in nil }) {
        bytes = Array(text.utf8)
        self.structs = structs
    }

    mutating func parseSignature() -> Result<Signature, SignatureError> {
        do {
            let signature = try signature()
            skipSpaces()
            if pos < bytes.count { throw SignatureError(message: "unexpected text after the result type", column: column) }
            return .success(signature)
        } catch let error as SignatureError {
            return .failure(error)
        } catch {
            fatalError("unreachable")
        }
    }

    /// Parses a struct's field list, `{i64 tv_sec, i64 tv_usec}`.
    mutating func parseFields() -> Result<[(name: String, type: ValueType)], SignatureError> {
        do {
            try expect("{")
            var fields: [(name: String, type: ValueType)] = []
            repeat {
                skipSpaces()
                let typeColumn = column
                let t = try type()
                if !t.canBeField {
                    throw SignatureError(message: "a struct field cannot be \(t) (fields take numbers, bool, ptr or structs)", column: typeColumn)
                }
                skipSpaces()
                let nameColumn = column
                let name = word()
                guard isIdentifier(name) else { throw SignatureError(message: "expected a field name", column: nameColumn) }
                if fields.contains(where: { $0.name == name }) {
                    throw SignatureError(message: "field '\(name)' is declared twice", column: nameColumn)
                }
                fields.append((name, t))
            } while accept(",")
            try expect("}")
            skipSpaces()
            if pos < bytes.count { throw SignatureError(message: "unexpected text after the fields", column: column) }
            return .success(fields)
        } catch let error as SignatureError {
            return .failure(error)
        } catch {
            fatalError("unreachable")
        }
    }

    private mutating func signature() throws -> Signature {
        try expect("(")
        var parameters: [Signature.Parameter] = []
        var isVariadic = false
        skipSpaces()
        if peek() != UInt8(ascii: ")") {
            repeat {
                skipSpaces()
                if accept("...") {
                    if parameters.isEmpty {
                        throw SignatureError(message: "'...' needs at least one parameter before it", column: column - 3)
                    }
                    isVariadic = true
                    skipSpaces()
                    if peek() != UInt8(ascii: ")") {
                        let found = peek().map { "'\(Character(UnicodeScalar($0)))'" } ?? "the end"
                        throw SignatureError(message: "expected ')' after '...', found \(found)", column: column)
                    }
                    break
                }
                parameters.append(try parameter())
            } while accept(",")
        }
        try expect(")")
        try expect("->")
        skipSpaces()
        let resultColumn = column
        let result = try type()
        switch result {
        case .buf, .callback:
            throw SignatureError(message: "\(result.kind.name) cannot be a result type", column: resultColumn)
        case .bytes where isVariadic:
            throw SignatureError(message: "a bytes result cannot be combined with '...'", column: resultColumn)
        default: break
        }
        var capturesErrno = false
        skipSpaces()
        if peek() == UInt8(ascii: "!") {
            pos += 1
            let markerColumn = column
            guard word() == "errno" else { throw SignatureError(message: "expected 'errno' after '!'", column: markerColumn) }
            capturesErrno = true
        }
        return Signature(parameters: parameters, result: result, isVariadic: isVariadic, capturesErrno: capturesErrno)
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
            throw SignatureError(message: "out \(t.kind == .callback ? "callback" : t.description) is not supported (out takes a number, bool, ptr or struct)", column: typeColumn)
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
        if name == "callback" {
            try expect("<")
            skipSpaces()
            let innerColumn = column
            let inner = try signature()
            if inner.isVariadic || inner.capturesErrno {
                throw SignatureError(message: "a callback cannot be variadic or capture errno", column: innerColumn)
            }
            for p in inner.parameters where p.isOut || !p.type.canBeCallbackParameter {
                throw SignatureError(message: "a callback's parameters take numbers, bool, ptr or str, not \(p.isOut ? "out " : "")\(p.type.kind == .callback ? "callback" : p.type.description)", column: innerColumn)
            }
            if !(inner.result.canBeField && inner.result.kind != .structure) && inner.result != .void {
                throw SignatureError(message: "a callback's result is a number, bool, ptr or void, not \(inner.result)", column: innerColumn)
            }
            try expect(">")
            return .callback(inner)
        }
        if let t = ValueType.named[name] { return t }
        if !name.isEmpty, let s = structs(name) { return .structure(s) }
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
