/// Heap object layouts. Every object starts with an `ObjHeader`; all are allocated by
/// `Heap.allocate` and freed by the collector's sweep, never by ARC.
///
/// NOTE: these structs are accessed through raw pointers; Swift lays out a struct's stored
/// properties in declaration order, so `header` at offset 0 lets any object pointer be read
/// as an `ObjHeader` pointer.

/// What kind of object a header belongs to.
public enum ObjKind: UInt8 {
    case string, int, list, map, bytes, function, closure, upvalue, native
    case klass, instance, boundMethod, module, error, handle
    /// Concurrency (Concurrency/FiberObjects.swift).
    case fiber, channel, mutex, waitGroup
}

struct ObjHeader {
    /// The next object in the heap's list of all objects.
    var next: UnsafeMutableRawPointer?
    var kind: ObjKind
    var marked: Bool
    /// Per-kind flags (strings: bit 0 = ASCII, bit 1 = interned).
    var flags: UInt16
    /// Size of the allocation in bytes (for accounting).
    var size: UInt32
}

/// An immutable UTF-8 string. Its bytes follow the struct in the same allocation and end
/// with a NUL that is not counted in `count`.
struct ObjString {
    var header: ObjHeader
    var count: Int
    /// Unicode scalars in the string.
    var scalarCount: Int
    var hash: UInt64
    /// Scalar-offset side table of a long non-ASCII string, built on its first index or
    /// slice (`Runtime.byteOffset`), freed with the string by the sweep; nil until then.
    /// Layout: [0] = last scalar looked up, [1] = its byte offset, [2 + k] = byte offset of
    /// scalar `k * indexStride`.
    var offsets: UnsafeMutablePointer<Int>?

    /// Scalars between two entries of the side table: a lookup walks at most this many.
    static let indexStride = 32
    /// Strings of at most this many bytes are walked from the start, with no side table.
    static let indexMinBytes = 64
    /// Bytes of the side table of a string with `scalarCount` scalars.
    static func offsetsSize(scalarCount: Int) -> Int {
        (2 + (scalarCount + indexStride - 1) / indexStride) * MemoryLayout<Int>.stride
    }

    static let asciiFlag: UInt16 = 1
    static let internedFlag: UInt16 = 2
    /// Set once a native call has found no NUL byte in the string (strings are immutable,
    /// so C `str` arguments scan a string at most once).
    static let checkedNoNULFlag: UInt16 = 4
}

extension UnsafeMutablePointer where Pointee == ObjString {
    @inline(__always) var bytes: UnsafeMutablePointer<UInt8> {
        UnsafeMutableRawPointer(self).advanced(by: MemoryLayout<ObjString>.stride).assumingMemoryBound(to: UInt8.self)
    }
    @inline(__always) var buffer: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: bytes, count: pointee.count) }
    var isASCII: Bool { pointee.header.flags & ObjString.asciiFlag != 0 }
    var string: String { String(decoding: buffer, as: UTF8.self) }
}

/// An int outside the inline range.
struct ObjInt {
    var header: ObjHeader
    var value: Int64
}

struct ObjList {
    var header: ObjHeader
    var items: UnsafeMutablePointer<Value>?
    var count: Int
    var capacity: Int
}

struct ObjBytes {
    var header: ObjHeader
    var data: UnsafeMutablePointer<UInt8>?
    var count: Int
    var capacity: Int
}

/// One slot of a map's open-addressed table: 16 bytes, so four share a cache line and none
/// straddles two.
struct MapSlot {
    /// `Value.empty` for a never-used slot, `Value.tombstone` for a removed one.
    var key: Value
    var value: Value
}

/// What a map keeps per slot besides the key and value, in a separate array: it is read only
/// when two different objects may be equal keys, and when the table is rebuilt.
struct MapSlotInfo {
    var hash: UInt32
    /// Position of this entry in the map's insertion order.
    var order: Int32
}

/// An insertion-ordered hash map. Keys and values live together in one open-addressed slot
/// table (linear probing), so a lookup touches one cache line; dense non-negative int keys
/// live in an array part instead; an array of locations records insertion order for
/// iteration.
///
/// NOTE: the first design kept entries in insertion order and an index table beside them
/// (CPython's layout); each lookup of a large map then missed the cache twice, and the
/// hash-map benchmark ran at 2x Lua 5.4.
struct ObjMap {
    var header: ObjHeader
    var slots: UnsafeMutablePointer<MapSlot>?
    var info: UnsafeMutablePointer<MapSlotInfo>?
    /// A power of two (or 0).
    var slotCapacity: Int
    /// Slots holding a key or a tombstone (for the load factor).
    var filled: Int
    /// Where each entry lives, in insertion order: a slot index (>= 0), -1 for a removed
    /// entry, or -2 - k for key k of the array part.
    var order: UnsafeMutablePointer<Int32>?
    /// Entries recorded in `order`, including removed ones.
    var used: Int
    var orderCapacity: Int
    /// Live entries.
    var live: Int
    /// Bumped on every insertion of a new key and every removal.
    var version: Int
    /// The array part: the values of int keys 0..<arrayCapacity (`Value.empty` when absent),
    /// as Lua keeps dense int keys. Keys in that range live only here.
    var array: UnsafeMutablePointer<Value>?
    /// Insertion-order position of each array entry.
    var arrayOrder: UnsafeMutablePointer<Int32>?
    var arrayCapacity: Int
    /// Live entries in the array part.
    var arrayCount: Int
}

/// A compiled function: bytecode, constants, line table and upvalue descriptors.
struct ObjFunction {
    var header: ObjHeader
    var code: UnsafeMutablePointer<UInt32>
    var codeCount: Int
    var constants: UnsafeMutablePointer<Value>
    var constantCount: Int
    /// Line of each instruction.
    var lines: UnsafeMutablePointer<Int32>
    /// Upvalue descriptors: bit 15 set = captures the enclosing function's register
    /// (low bits), clear = the enclosing function's upvalue (low bits).
    var upvalueDescs: UnsafeMutablePointer<UInt16>?
    var upvalueCount: Int
    /// The number of arguments a call must pass, checked on the fast path of CALL and INVOKE;
    /// -1 for a function with default values or a rest parameter, which takes `requiredCount` to `paramCount`
    /// arguments and is set up by `Runtime.pushFrame`.
    var arity: Int
    /// Parameters without a default value.
    var requiredCount: Int
    /// All named parameters (not counting a rest parameter).
    var paramCount: Int
    /// A `...rest` parameter follows the others (in register `paramCount + 1`); arity is -1.
    var hasRest: Bool
    /// A list of the parameters' names (strings, rest not included), for named arguments;
    /// nil for a function without parameters.
    var paramNames: Value
    /// Registers the function needs, including register 0 (the callee or `self`).
    var maxRegisters: Int
    var name: Value
    var module: UnsafeMutablePointer<ObjModule>?
    /// 1 when this function is a class initialiser (`init`), which returns `self`.
    var isInitializer: Bool
    var isMethod: Bool
    var className: Value
    /// Columns, operand names and source text for error messages (Bytecode/DebugInfo.swift).
    /// NOTE: retained once in `makeFunction`, released in the sweep; never read while running.
    var debug: Unmanaged<FunctionDebugInfo>?
}

struct ObjUpvalue {
    var header: ObjHeader
    /// Points into the register stack while open, at `closed` once closed.
    var location: UnsafeMutablePointer<Value>
    var closed: Value
    /// Stack index while open (used to re-point `location` when the stack moves).
    var stackIndex: Int
    var nextOpen: UnsafeMutablePointer<ObjUpvalue>?
}

/// A function plus its captured upvalues (which follow the struct in the same allocation).
struct ObjClosure {
    var header: ObjHeader
    var function: UnsafeMutablePointer<ObjFunction>
    var upvalueCount: Int
}

extension UnsafeMutablePointer where Pointee == ObjClosure {
    @inline(__always) var upvalues: UnsafeMutablePointer<UnsafeMutablePointer<ObjUpvalue>> {
        UnsafeMutableRawPointer(self).advanced(by: MemoryLayout<ObjClosure>.stride)
            .assumingMemoryBound(to: UnsafeMutablePointer<ObjUpvalue>.self)
    }
}

/// How a native function reports failure: it returns `NativeResult.failed` after storing
/// the error in `Runtime.pendingError` (use `rt.fail(...)`).
typealias NativeBody = (Runtime, UnsafeMutablePointer<Value>, Int) -> Value

struct ObjNative {
    var header: ObjHeader
    var body: NativeBody
    /// A host native's direct entry (plugin exports, raw FFI), called instead of `body` with
    /// `target`; nil for built-ins. `target` is not retained: `body` owns what it points to.
    var entry: NativeEntry?
    var target: UnsafeMutableRawPointer?
    var name: Value
    /// Expected argument count (not counting a method's receiver), or -1 for any.
    var arity: Int
    /// True when args[0] is the receiver (methods of built-in types).
    var isMethod: Bool
}

struct ObjClass {
    var header: ObjHeader
    var name: Value
    var superclass: Value
    var methods: NameTable
    var initializer: Value
}

struct ObjInstance {
    var header: ObjHeader
    var klass: UnsafeMutablePointer<ObjClass>
    var fields: NameTable
}

struct ObjBoundMethod {
    var header: ObjHeader
    var receiver: Value
    var method: Value
}

struct ObjModule {
    var header: ObjHeader
    var name: Value
    /// The module's top-level variables, by slot.
    var variables: UnsafeMutablePointer<Value>?
    var variableCount: Int
    var variableCapacity: Int
    /// Names of exported variables → slot index (as inline ints).
    var names: NameTable
    /// Source name used in messages and traces.
    var sourceName: Value
    /// Directory used to resolve relative imports (a string or nil).
    var directory: Value
}

/// An error value: a message, the value that was thrown (nil for runtime errors) and the
/// stack trace captured when it was raised.
struct ObjError {
    var header: ObjHeader
    var message: Value
    var trace: Value
    /// The function (an `ObjFunction`, or nil) whose instruction `originPC` raised or threw
    /// it: where the report's source line and caret point.
    var origin: Value
    var originPC: Int
    /// Its class: `Error` or a subclass (Runtime/ErrorClasses.swift); nil stands for `Error`.
    var klass: Value
    /// Fields set by the script (`self.path = …` in a subclass's `init`) or by the runtime
    /// (`capability` and `resource` of a DeniedError).
    var fields: NameTable
}

/// An opaque host object with a destructor, run by the sweep. Plugins build on this.
struct ObjHandle {
    var header: ObjHeader
    var pointer: UnsafeMutableRawPointer?
    var typeName: Value
    var destructor: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
    /// A value the handle keeps alive (marked with it; nil when none), e.g. the script
    /// function behind a raw FFI callback.
    var companion: Value
    /// What made the handle, kept alive by it (opaque to the core; nil when nothing): passed
    /// to `releaseOwner` once, after the destructor ran (at close or at the sweep). A plugin
    /// version stays loaded while its handles are alive this way.
    var owner: UnsafeMutableRawPointer?
    var releaseOwner: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
}
