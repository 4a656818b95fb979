#if canImport(Glibc)
import Glibc
#endif

/// Raw FFI's struct declarations, callbacks and memory access:
///
/// ```
/// ffi.struct("timeval", "{i64 tv_sec, i64 tv_usec}")    // then `timeval` works in signatures
/// ffi.sizeof("timeval")                                  // 16 (also scalar type names)
/// let cb = ffi.callback(fn(x) { ... }, "(i32) -> void")  // a handle<ffi.Callback> C may keep
/// ffi.close(cb)                                          // frees it now (else the GC does)
/// ffi.read(address_or_bytes, "i32", offset)              // offset defaults to 0
/// ffi.write(address_or_bytes, "i32", value, offset)
/// ```
///
/// `read` and `write` check bounds when given a bytes value; given an int address they
/// trust it, like C.
extension RawFFI {
    /// `ffi.struct(name, fields)`: declares a struct type for later signatures. Declaring
    /// the same name again with the same fields is allowed; with other fields it is an error.
    func declareStruct(_ call: NativeCall) -> Value {
        let name: String, layout: String
        switch text(call, 0, function: "struct", what: "a struct name (str)") {
        case .failure(let error): return call.raise(error.description)
        case .success(let s): name = s
        }
        switch text(call, 1, function: "struct", what: "fields (str) such as \"{i64 tv_sec, i64 tv_usec}\"") {
        case .failure(let error): return call.raise(error.description)
        case .success(let s): layout = s
        }
        guard isIdentifier(name), ValueType.named[name] == nil, !["handle", "callback", "out"].contains(name) else {
            return call.raise("ffi.struct: argument 1: expected a struct name (an identifier that is not a type name), got '\(name)'")
        }
        let fields: [(name: String, type: ValueType)]
        switch StructType.parseFields(layout, structs: { [unowned self] in self.structs[$0] }) {
        case .failure(let error):
            return call.raise("ffi.struct: malformed fields '\(layout)' for '\(name)': \(error.message) at column \(error.column)")
        case .success(let f): fields = f
        }
        if let existing = structs[name] {
            if existing.fields.map(\.name) == fields.map(\.name) && existing.fields.map(\.type) == fields.map(\.type) { return call.nilValue }
            return call.raise("ffi.struct: '\(name)' is already declared as \(existing.layoutText)")
        }
        guard let type = StructType(name: name, fields: fields) else {
            return call.raise("ffi.struct: libffi cannot lay out '\(name)' \(layout)")
        }
        structs[name] = type
        return call.nilValue
    }

    /// `ffi.sizeof(type)`: the size in bytes of a scalar type or declared struct.
    func sizeof(_ call: NativeCall) -> Value {
        switch memoryType(call, 0, function: "sizeof") {
        case .failure(let error): return call.raise(error.description)
        case .success(let t): return call.intValue(Int64(t.size))
        }
    }

    /// `ffi.callback(fn, signature)`: a C function pointer calling `fn`, owned by the returned
    /// `handle<ffi.Callback>`: it stays valid while the handle is reachable and not closed,
    /// and the handle keeps `fn` alive. Pass it where a `callback<...>` of the same
    /// signature is expected.
    func callback(_ call: NativeCall) -> Value {
        guard call.isCallable(0) else {
            return call.raise("ffi.callback: argument 1: expected a function, got \(ScalarConversion.describe(call, 0))")
        }
        let signatureText: String
        switch text(call, 1, function: "callback", what: "a signature (str)") {
        case .failure(let error): return call.raise(error.description)
        case .success(let s): signatureText = s
        }
        // Parsed as the type `callback<SIGNATURE>`, so the same restrictions and columns apply.
        let wrapped = "(callback<" + signatureText + ">) -> void"
        let signature: Signature
        switch Signature.parse(wrapped) {
        case .failure(let error):
            let column = max(1, error.column - "(callback<".utf8.count)
            return call.raise("ffi.callback: malformed signature '\(signatureText)': \(error.message) at column \(column)")
        case .success(let s):
            guard case .callback(let inner) = s.parameters[0].type else { return call.raise("ffi.callback: unreachable") }
            signature = inner
        }
        guard let closure = FFICallback(signature: signature, owner: "ffi.callback") else {
            return call.raise("ffi.callback: libffi cannot prepare a closure for '\(signatureText)'")
        }
        closure.function = call.value(0)
        closure.call = call.reentry()
        return call.handleValue(Unmanaged.passRetained(closure).toOpaque(), typeName: FFICallback.handleType,
                                destructor: FFICallback.release, keeping: call.value(0))
    }

    /// `ffi.close(callback)`: frees an `ffi.callback` closure now (C must not call it again).
    /// Closing a closed callback does nothing.
    func close(_ call: NativeCall) -> Value {
        guard let h = call.handle(0), h.typeName == FFICallback.handleType else {
            return call.raise("ffi.close: argument 1: expected handle<\(FFICallback.handleType)>, got \(ScalarConversion.describe(call, 0))")
        }
        call.closeHandle(0)
        return call.nilValue
    }

    /// `ffi.read(target, type[, offset])`: the value of `type` at `target + offset`.
    func read(_ call: NativeCall) -> Value {
        guard call.count == 2 || call.count == 3 else {
            return call.raise("ffi.read expects 2 or 3 arguments (target, type, offset), got \(call.count)")
        }
        let type: MemoryType
        switch memoryType(call, 1, function: "read") {
        case .failure(let error): return call.raise(error.description)
        case .success(let t): type = t
        }
        switch address(call, function: "read", offsetIndex: 2, size: type.size) {
        case .failure(let error): return call.raise(error.description)
        case .success(let p):
            switch type {
            case .scalar(let t): return ScalarConversion.load(call, t.kind, from: p)
            case .structure(let s): return ScalarConversion.loadStruct(call, s, from: p)
            }
        }
    }

    /// `ffi.write(target, type, value[, offset])`: stores `value` as `type` at `target + offset`.
    func write(_ call: NativeCall) -> Value {
        guard call.count == 3 || call.count == 4 else {
            return call.raise("ffi.write expects 3 or 4 arguments (target, type, value, offset), got \(call.count)")
        }
        let type: MemoryType
        switch memoryType(call, 1, function: "write") {
        case .failure(let error): return call.raise(error.description)
        case .success(let t): type = t
        }
        switch address(call, function: "write", offsetIndex: 3, size: type.size) {
        case .failure(let error): return call.raise(error.description)
        case .success(let p):
            let message: String?
            switch type {
            case .scalar(let t): message = ScalarConversion.store(call, 2, t.kind, at: p)
            case .structure(let s): message = ScalarConversion.storeStruct(call, 2, s, at: p)
            }
            if let message { return call.raise("ffi.write: argument 3: \(message)") }
            return call.nilValue
        }
    }

    /// A type `read`, `write` and `sizeof` accept.
    enum MemoryType {
        case scalar(ValueType)
        case structure(StructType)

        var size: Int {
            switch self {
            case .structure(let s): s.size
            case .scalar(let t):
                switch t.kind {
                case .bool, .i8, .u8: 1
                case .i16, .u16: 2
                case .i32, .u32, .f32: 4
                default: 8
                }
            }
        }
    }

    private func memoryType(_ call: NativeCall, _ index: Int, function: String) -> Result<MemoryType, RawFFIError> {
        let name: String
        switch text(call, index, function: function, what: "a type name (str)") {
        case .failure(let error): return .failure(error)
        case .success(let s): name = s
        }
        if let s = structs[name] { return .success(.structure(s)) }
        if let t = ValueType.named[name], t.canBeField || (t == .str && function == "read") {
            return .success(.scalar(t))
        }
        return .failure(RawFFIError("ffi.\(function): argument \(index + 1): expected a number type, bool, ptr\(function == "read" ? ", str" : "") or a declared struct, got '\(name)'"))
    }

    /// Where `read`/`write` go: an int address (trusted), or a bytes value's data with the
    /// access checked against its length.
    private func address(_ call: NativeCall, function: String, offsetIndex: Int, size: Int) -> Result<UnsafeMutableRawPointer, RawFFIError> {
        var offset: Int64 = 0
        if call.count > offsetIndex {
            guard let o = call.int(offsetIndex) else {
                return .failure(RawFFIError("ffi.\(function): argument \(offsetIndex + 1): expected an int offset, got \(ScalarConversion.describe(call, offsetIndex))"))
            }
            offset = o
        }
        if let b = call.bytes(0) {
            guard offset >= 0, offset + Int64(size) <= Int64(b.count), let base = b.baseAddress else {
                return .failure(RawFFIError("ffi.\(function): \(size) bytes at offset \(offset) are outside the \(b.count)-byte buffer"))
            }
            return .success(UnsafeMutableRawPointer(base) + Int(offset))
        }
        guard let a = call.int(0), a != 0, let p = UnsafeMutableRawPointer(bitPattern: Int(a) &+ Int(offset)) else {
            return .failure(RawFFIError("ffi.\(function): argument 1: expected a ptr (a non-zero int address) or bytes, got \(ScalarConversion.describe(call, 0))"))
        }
        return .success(p)
    }
}
