/// A Capsule value: 8 bytes, trivially copyable, NaN-boxed.
///
/// Doubles are stored as themselves. Every other value lives in the negative quiet-NaN space,
/// told apart by the top 16 bits:
///
/// | top 16 bits | meaning | payload (low 48 bits) |
/// |---|---|---|
/// | < 0xFFF9 | a double (NaNs are canonical: only 0x7FF8… or 0xFFF8… occur) | |
/// | 0xFFFA | a heap object | the object's address |
/// | 0xFFFB | false, nil, true, undefined, empty, failure, tombstone | 0 … 6 |
/// | 0xFFFE | an int in [-2^47, 2^47) | two's complement, 48 bits |
///
/// NOTE: the int tag is chosen so that no other tag has all of its bits: `a & b` has the int
/// tag exactly when both are ints, one test for the common two-int case (0xFFFF never occurs).
///
/// Ints outside the inline range are boxed on the heap (`ObjInt`), so the language keeps full
/// 64-bit ints. An int is always in its canonical form: inline when it fits, boxed otherwise,
/// so equal ints of the inline range always have equal bits.
public struct Value: Equatable, Sendable {
    @usableFromInline var bits: UInt64

    @inline(__always) @usableFromInline init(bits: UInt64) { self.bits = bits }

    @usableFromInline static let intTag: UInt64 = 0xFFFE_0000_0000_0000
    /// Everything at or above this is tagged (not a double).
    @usableFromInline static let firstTag: UInt64 = 0xFFF9_0000_0000_0000
    @usableFromInline static let objTag: UInt64 = 0xFFFA_0000_0000_0000
    @usableFromInline static let specialTag: UInt64 = 0xFFFB_0000_0000_0000
    @usableFromInline static let payloadMask: UInt64 = 0x0000_FFFF_FFFF_FFFF
    /// Smallest and largest ints that are stored inline.
    static let inlineIntMin: Int64 = -(1 << 47)
    static let inlineIntMax: Int64 = (1 << 47) - 1

    public static let `false` = Value(bits: specialTag | 0)
    public static let `nil` = Value(bits: specialTag | 1)
    public static let `true` = Value(bits: specialTag | 2)
    /// A module variable that has not been defined yet.
    static let undefined = Value(bits: specialTag | 3)
    /// An empty or deleted slot in hash tables; never visible to scripts.
    static let empty = Value(bits: specialTag | 4)
    /// A removed map slot; never visible to scripts.
    static let tombstone = Value(bits: specialTag | 6)

    // MARK: tests

    @inline(__always) var isDouble: Bool { bits < Value.firstTag }
    @inline(__always) var isInlineInt: Bool { (bits >> 48) == 0xFFFE }
    /// Both are inline ints (see the note on the tag layout).
    @inline(__always) static func bothInlineInts(_ a: Value, _ b: Value) -> Bool { ((a.bits & b.bits) >> 48) == 0xFFFE }
    @inline(__always) var isObject: Bool { (bits >> 48) == 0xFFFA }
    @inline(__always) var isNil: Bool { bits == Value.nil.bits }
    @inline(__always) var isBool: Bool { bits == Value.true.bits || bits == Value.false.bits }
    /// nil and false are falsy; everything else is truthy.
    @inline(__always) var isTruthy: Bool { (bits | 1) != Value.nil.bits }

    // MARK: construction

    @inline(__always) init(_ d: Double) {
        // NOTE: every NaN is made canonical so no NaN payload can collide with the tags.
        bits = d.isNaN ? Double.nan.bitPattern : d.bitPattern
    }
    @inline(__always) init(bool b: Bool) { bits = b ? Value.true.bits : Value.false.bits }
    /// An inline int; the caller guarantees `i` is in the inline range.
    @inline(__always) init(inlineInt i: Int64) {
        bits = Value.intTag | (UInt64(bitPattern: i) & Value.payloadMask)
    }
    @inline(__always) init(object p: UnsafeMutableRawPointer) {
        bits = Value.objTag | UInt64(UInt(bitPattern: p))
    }
    @inline(__always) init<T>(_ p: UnsafeMutablePointer<T>) {
        bits = Value.objTag | UInt64(UInt(bitPattern: p))
    }

    @inline(__always) static func fitsInline(_ i: Int64) -> Bool { i == (i << 16) >> 16 }

    // MARK: access

    @inline(__always) var asDouble: Double { Double(bitPattern: bits) }
    @inline(__always) var asInlineInt: Int64 { Int64(bitPattern: bits << 16) >> 16 }
    @inline(__always) var asObject: UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(bitPattern: UInt(bits & Value.payloadMask)).unsafelyUnwrapped
    }
    @inline(__always) var header: UnsafeMutablePointer<ObjHeader> { asObject.assumingMemoryBound(to: ObjHeader.self) }
    @inline(__always) func obj<T>(_: T.Type) -> UnsafeMutablePointer<T> { asObject.assumingMemoryBound(to: T.self) }
    /// The object kind, or nil for non-objects.
    @inline(__always) var objKind: ObjKind? { isObject ? header.pointee.kind : nil }
    @inline(__always) func isObject(_ kind: ObjKind) -> Bool { isObject && header.pointee.kind == kind }

    /// True for doubles and inline ints: the numbers the interpreter's fast paths handle.
    @inline(__always) var isFastNumber: Bool { isDouble || isInlineInt }
    /// The value of a double or an inline int as a double (call only when `isFastNumber`).
    @inline(__always) var fastNumberAsDouble: Double { isDouble ? asDouble : Double(asInlineInt) }

    /// True for inline and boxed ints.
    var isInt: Bool { isInlineInt || isObject(.int) }
    /// The int value of an inline or boxed int (call only when `isInt`).
    var intValue: Int64 { isInlineInt ? asInlineInt : obj(ObjInt.self).pointee.value }
    var isNumber: Bool { isDouble || isInt }
    /// The numeric value as a double (call only when `isNumber`).
    var numberAsDouble: Double { isDouble ? asDouble : Double(intValue) }
    var isString: Bool { isObject(.string) }

    public static func == (a: Value, b: Value) -> Bool { a.bits == b.bits }
}
