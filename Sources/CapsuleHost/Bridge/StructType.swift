import CFFI

/// A C struct type declared by name with its fields (raw FFI's `ffi.struct`), laid out by
/// libffi (`ffi_get_struct_offsets`) exactly as the C compiler lays it out. Immutable once
/// made; two types are the same only if they are the same declaration.
///
/// NOTE: `@unchecked Sendable` only for the libffi type it owns (raw pointers): written in
/// `init`, read-only afterwards, freed in `deinit`.
public final class StructType: Hashable, CustomStringConvertible, @unchecked Sendable {
    /// One field: its name, type and byte offset.
    public struct Field: Sendable {
        public var name: String
        public var type: ValueType
        public var offset: Int
    }

    /// The name signatures use.
    public let name: String
    /// The fields in declaration order, with their offsets.
    public let fields: [Field]
    /// sizeof and alignof the struct.
    public let size: Int
    public let alignment: Int
    /// The libffi type (FFI_TYPE_STRUCT) and its NULL-terminated element list.
    let ffiType: UnsafeMutablePointer<ffi_type>
    private let elements: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>

    /// Lays out `fields`; nil when libffi refuses (it cannot for numbers, ptr and structs).
    init?(name: String, fields: [(name: String, type: ValueType)]) {
        self.name = name
        let elements = UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>.allocate(capacity: fields.count + 1)
        for (i, f) in fields.enumerated() { elements[i] = PreparedExport.ffiType(f.type) }
        elements[fields.count] = nil
        let ffiType = UnsafeMutablePointer<ffi_type>.allocate(capacity: 1)
        self.elements = elements
        self.ffiType = ffiType
        var offsets = [Int](repeating: 0, count: max(fields.count, 1))
        let status = offsets.withUnsafeMutableBufferPointer { cffi_make_struct(ffiType, elements, $0.baseAddress) }
        // NOTE: fails before `size` is set, so the partly initialised object runs no deinit.
        if status != 0 || fields.isEmpty {
            elements.deallocate()
            ffiType.deallocate()
            return nil
        }
        size = ffiType.pointee.size
        alignment = Int(ffiType.pointee.alignment)
        self.fields = fields.enumerated().map { Field(name: $1.name, type: $1.type, offset: offsets[$0]) }
    }

    deinit {
        elements.deallocate()
        ffiType.deallocate()
    }

    /// The declaration's text: `{i64 tv_sec, i64 tv_usec}`.
    public var layoutText: String {
        "{" + fields.map { "\($0.type) \($0.name)" }.joined(separator: ", ") + "}"
    }

    public var description: String { name }

    public static func == (a: StructType, b: StructType) -> Bool { a === b }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }

    /// Parses a field list such as `{i64 tv_sec, i64 tv_usec}`; field types may name
    /// structs `structs` knows.
    static func parseFields(_ text: String, structs: @escaping (String) -> StructType?) -> Result<[(name: String, type: ValueType)], SignatureError> {
        var parser = SignatureParser(text, structs: structs)
        return parser.parseFields()
    }
}
