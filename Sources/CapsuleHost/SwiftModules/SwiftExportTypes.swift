/// The Swift types a Swift module's function may take and return (`SwiftModule.function`),
/// and how each one reads its C argument or writes its C result. The host has already
/// checked every argument against the declared signature (the same checks and messages as
/// a C plugin's export) before the Swift function runs, so reading cannot fail.
///
/// | signature type | parameter | result |
/// |---|---|---|
/// | `bool` | `Bool` | `Bool` |
/// | `i8` … `i64`, `u8` … `u64` | `Int`, `Int64` (`UInt64` for unsigned) | `Int`, `Int64` (range-checked) |
/// | `f32`, `f64` | `Double` (`Float` for f32) | `Double` |
/// | `str` | `String` | `String` |
/// | `bytes` | `[UInt8]` | `[UInt8]` |
/// | `buf` | `UnsafeMutableRawBufferPointer` (valid for the call) | — |
/// | `handle<T>` | the class declared for T (`SwiftModule.handleType`) | same, or `nil` with `Optional` |
/// | `out T` | `Out<V>`, V one of the result types of numbers and bool | — |
public protocol CapsuleArgument {
    /// Whether this Swift type can receive a parameter declared as `parameter`.
    static func _capsuleAccepts(_ parameter: Signature.Parameter, _ handles: SwiftHandleTypes) -> Bool
    /// Reads the next parameter's C argument(s).
    static func _capsuleRead(_ reader: inout CArguments) -> Self
}

/// The Swift types a Swift module's function may return (see `CapsuleArgument`).
public protocol CapsuleResult {
    /// Whether this Swift type can be returned as `type`.
    static func _capsuleAccepts(_ type: ValueType, _ handles: SwiftHandleTypes) -> Bool
    /// Writes the C result of kind `kind` (nil, or why the value does not fit).
    func _capsuleWrite(_ writer: inout CResult) -> String?
}

/// A class whose instances scripts hold as `handle<Name>` values of a Swift module. The VM
/// keeps a strong reference per handle and drops it when the handle is collected (or closed).
public protocol CapsuleHandle: AnyObject, CapsuleArgument, CapsuleResult {}

extension CapsuleHandle {
    public static func _capsuleAccepts(_ parameter: Signature.Parameter, _ handles: SwiftHandleTypes) -> Bool {
        guard !parameter.isOut, case .handle(let name) = parameter.type else { return false }
        return handles.classes[name] == ObjectIdentifier(Self.self)
    }
    public static func _capsuleRead(_ reader: inout CArguments) -> Self {
        // NOTE: the host checked the handle's type name, and each name has one class.
        Unmanaged<Self>.fromOpaque(reader.next().load(as: UnsafeMutableRawPointer.self)).takeUnretainedValue()
    }
    public static func _capsuleAccepts(_ type: ValueType, _ handles: SwiftHandleTypes) -> Bool {
        guard case .handle(let name) = type else { return false }
        return handles.classes[name] == ObjectIdentifier(Self.self)
    }
    public func _capsuleWrite(_ writer: inout CResult) -> String? {
        writer.pointer.storeBytes(of: Unmanaged.passRetained(self).toOpaque(), as: UnsafeMutableRawPointer.self)
        return nil
    }
}

extension Optional: CapsuleResult where Wrapped: CapsuleHandle {
    public static func _capsuleAccepts(_ type: ValueType, _ handles: SwiftHandleTypes) -> Bool {
        Wrapped._capsuleAccepts(type, handles)
    }
    public func _capsuleWrite(_ writer: inout CResult) -> String? {
        guard let self else {
            writer.pointer.storeBytes(of: 0, as: UInt64.self)
            return nil
        }
        return self._capsuleWrite(&writer)
    }
}

/// The handle type names a module declared, and the class of each.
public struct SwiftHandleTypes: Sendable {
    var classes: [String: ObjectIdentifier] = [:]
}

/// The C arguments of one call of a Swift function, read in order.
public struct CArguments {
    let arguments: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    let kinds: UnsafePointer<TypeKind>
    var index = 0
    var parameter = 0

    /// The next C argument's address.
    mutating func next() -> UnsafeMutableRawPointer {
        defer { index += 1; parameter += 1 }
        return arguments[index]!
    }
    /// The declared kind of the next parameter.
    var kind: TypeKind { kinds[parameter] }
}

/// Where a Swift function's C result goes: the result slot, and for a bytes result the
/// hidden `size_t *` argument.
public struct CResult {
    let pointer: UnsafeMutableRawPointer
    let kind: TypeKind
    let length: UnsafeMutablePointer<UInt64>?
    /// Keeps a str or bytes result alive until the host has copied it.
    var keep: ContiguousArray<UInt8> = []
}

extension Bool: CapsuleArgument, CapsuleResult {
    public static func _capsuleAccepts(_ p: Signature.Parameter, _: SwiftHandleTypes) -> Bool { !p.isOut && p.type == .bool }
    public static func _capsuleRead(_ r: inout CArguments) -> Bool { r.next().load(as: UInt8.self) != 0 }
    public static func _capsuleAccepts(_ type: ValueType, _: SwiftHandleTypes) -> Bool { type == .bool }
    public func _capsuleWrite(_ w: inout CResult) -> String? {
        w.pointer.storeBytes(of: self ? 1 : 0, as: UInt64.self)
        return nil
    }
}

extension Int64: CapsuleArgument, CapsuleResult {
    public static func _capsuleAccepts(_ p: Signature.Parameter, _: SwiftHandleTypes) -> Bool { !p.isOut && p.type.kind.intRange != nil }
    public static func _capsuleRead(_ r: inout CArguments) -> Int64 {
        let kind = r.kind
        return readInteger(r.next(), kind)
    }
    public static func _capsuleAccepts(_ type: ValueType, _: SwiftHandleTypes) -> Bool { type.kind.intRange != nil }
    public func _capsuleWrite(_ w: inout CResult) -> String? {
        let range = w.kind.intRange!
        guard range.contains(self) else { return "the result \(self) does not fit \(w.kind.name) (\(range.lowerBound) to \(range.upperBound))" }
        // NOTE: libffi wants narrow integer results as a full register, sign-extended for
        // signed types; `self` is in range, so its Int64 bits are that extension.
        w.pointer.storeBytes(of: self, as: Int64.self)
        return nil
    }
}

extension Int: CapsuleArgument, CapsuleResult {
    public static func _capsuleAccepts(_ p: Signature.Parameter, _ h: SwiftHandleTypes) -> Bool { Int64._capsuleAccepts(p, h) }
    public static func _capsuleRead(_ r: inout CArguments) -> Int { Int(Int64._capsuleRead(&r)) }
    public static func _capsuleAccepts(_ type: ValueType, _ h: SwiftHandleTypes) -> Bool { Int64._capsuleAccepts(type, h) }
    public func _capsuleWrite(_ w: inout CResult) -> String? { Int64(self)._capsuleWrite(&w) }
}

extension UInt64: CapsuleArgument {
    public static func _capsuleAccepts(_ p: Signature.Parameter, _: SwiftHandleTypes) -> Bool {
        !p.isOut && [.u8, .u16, .u32, .u64].contains(p.type.kind)
    }
    public static func _capsuleRead(_ r: inout CArguments) -> UInt64 {
        let kind = r.kind
        return UInt64(bitPattern: readInteger(r.next(), kind))
    }
}

extension Double: CapsuleArgument, CapsuleResult {
    public static func _capsuleAccepts(_ p: Signature.Parameter, _: SwiftHandleTypes) -> Bool { !p.isOut && (p.type == .f64 || p.type == .f32) }
    public static func _capsuleRead(_ r: inout CArguments) -> Double {
        r.kind == .f32 ? Double(r.next().load(as: Float.self)) : r.next().load(as: Double.self)
    }
    public static func _capsuleAccepts(_ type: ValueType, _: SwiftHandleTypes) -> Bool { type == .f64 || type == .f32 }
    public func _capsuleWrite(_ w: inout CResult) -> String? {
        if w.kind == .f32 { w.pointer.storeBytes(of: Float(self), as: Float.self) } else { w.pointer.storeBytes(of: self, as: Double.self) }
        return nil
    }
}

extension Float: CapsuleArgument {
    public static func _capsuleAccepts(_ p: Signature.Parameter, _: SwiftHandleTypes) -> Bool { !p.isOut && p.type == .f32 }
    public static func _capsuleRead(_ r: inout CArguments) -> Float { r.next().load(as: Float.self) }
}

extension String: CapsuleArgument, CapsuleResult {
    public static func _capsuleAccepts(_ p: Signature.Parameter, _: SwiftHandleTypes) -> Bool { !p.isOut && p.type == .str }
    public static func _capsuleRead(_ r: inout CArguments) -> String {
        String(cString: r.next().load(as: UnsafePointer<CChar>.self))
    }
    public static func _capsuleAccepts(_ type: ValueType, _: SwiftHandleTypes) -> Bool { type == .str }
    public func _capsuleWrite(_ w: inout CResult) -> String? {
        if utf8.contains(0) { return "the str result contains a NUL byte" }
        w.keep = ContiguousArray(utf8)
        w.keep.append(0)
        w.keep.withUnsafeBufferPointer { w.pointer.storeBytes(of: $0.baseAddress!, as: UnsafePointer<UInt8>.self) }
        return nil
    }
}

extension Array: CapsuleArgument, CapsuleResult where Element == UInt8 {
    public static func _capsuleAccepts(_ p: Signature.Parameter, _: SwiftHandleTypes) -> Bool { !p.isOut && p.type == .bytes }
    public static func _capsuleRead(_ r: inout CArguments) -> [UInt8] {
        let data = r.next().load(as: UnsafePointer<UInt8>?.self)
        let count = Int(r.arguments[r.index]!.load(as: UInt64.self))
        r.index += 1
        return data.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    }
    public static func _capsuleAccepts(_ type: ValueType, _: SwiftHandleTypes) -> Bool { type == .bytes }
    public func _capsuleWrite(_ w: inout CResult) -> String? {
        w.keep = ContiguousArray(self)
        w.keep.append(0)  // NOTE: so an empty result still has an address (NULL would be nil)
        w.keep.withUnsafeBufferPointer { w.pointer.storeBytes(of: $0.baseAddress!, as: UnsafePointer<UInt8>.self) }
        w.length?.pointee = UInt64(count)
        return nil
    }
}

extension UnsafeMutableRawBufferPointer: CapsuleArgument {
    public static func _capsuleAccepts(_ p: Signature.Parameter, _: SwiftHandleTypes) -> Bool { !p.isOut && p.type == .buf }
    public static func _capsuleRead(_ r: inout CArguments) -> UnsafeMutableRawBufferPointer {
        let data = r.next().load(as: UnsafeMutableRawPointer?.self)
        let count = Int(r.arguments[r.index]!.load(as: UInt64.self))
        r.index += 1
        return UnsafeMutableRawBufferPointer(start: data, count: data == nil ? 0 : count)
    }
}

/// An `out T` parameter: set `value` and the script gets it as an extra result (after the
/// function's own result). Unset, it is 0 (false).
public struct Out<Value: CapsuleResult>: CapsuleArgument {
    let pointer: UnsafeMutableRawPointer
    let kind: TypeKind

    /// The value the script receives; write it once or more during the call.
    public var value: Value {
        get { fatalError("Out.value is write-only") }
        nonmutating set {
            // NOTE: an out slot holds exactly the C type: write the widened form to scratch,
            // then store it narrowed.
            var wide: UInt64 = 0
            let message = withUnsafeMutableBytes(of: &wide) { scratch in
                var writer = CResult(pointer: scratch.baseAddress!, kind: kind, length: nil)
                return newValue._capsuleWrite(&writer)
            }
            if let message {
                // Fails the call, like `host->raise` from C.
                if let context = CallContext.current, context.raised == nil { context.raised = "out argument: " + message }
                wide = 0
            }
            switch kind {
            case .bool, .i8, .u8: pointer.storeBytes(of: UInt8(truncatingIfNeeded: wide), as: UInt8.self)
            case .i16, .u16: pointer.storeBytes(of: UInt16(truncatingIfNeeded: wide), as: UInt16.self)
            case .i32, .u32, .f32: pointer.storeBytes(of: UInt32(truncatingIfNeeded: wide), as: UInt32.self)
            default: pointer.storeBytes(of: wide, as: UInt64.self)
            }
        }
    }

    public static func _capsuleAccepts(_ p: Signature.Parameter, _ h: SwiftHandleTypes) -> Bool {
        p.isOut && p.type.kind != .structure && p.type.kind != .ptr && Value._capsuleAccepts(p.type, h)
    }
    public static func _capsuleRead(_ r: inout CArguments) -> Out<Value> {
        let kind = r.kind
        return Out(pointer: r.next().load(as: UnsafeMutableRawPointer.self), kind: kind)
    }
}

/// An integer C argument of `kind` at `p`, widened to Int64.
func readInteger(_ p: UnsafeMutableRawPointer, _ kind: TypeKind) -> Int64 {
    switch kind {
    case .i8: Int64(p.load(as: Int8.self))
    case .u8: Int64(p.load(as: UInt8.self))
    case .i16: Int64(p.load(as: Int16.self))
    case .u16: Int64(p.load(as: UInt16.self))
    case .i32: Int64(p.load(as: Int32.self))
    case .u32: Int64(p.load(as: UInt32.self))
    default: p.load(as: Int64.self)
    }
}
