#if canImport(Glibc)
import Glibc
#endif
import CFFI

/// What a binding needs beyond scalar arguments, made once at bind time when the signature
/// has structs, callbacks, `...` or `!errno` (`Signature.needsGeneralPath`).
final class CallExtras {
    /// By parameter index: the buffer a struct argument is written into, or an `out` struct
    /// is filled through (nil for other parameters).
    let structBuffers: [UnsafeMutableRawPointer?]
    /// By parameter index, then the result last: the struct type, if any.
    let structTypes: [StructType?]
    /// By parameter index: the closure a `callback<...>` parameter passes for a script function.
    let callbacks: [FFICallback?]
    /// True when some parameter is a callback (its closure state is saved around calls).
    let hasCallbacks: Bool
    let capturesErrno: Bool
    let isVariadic: Bool
    /// The script arguments before `...`.
    let fixedArity: Int

    // Variadic calls: the extra arguments' slots follow the fixed ones in `pointers`.
    static let maxVariadic = 20
    let fixedCount: Int
    let variadicStorage: UnsafeMutableRawPointer
    let pointers: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// One prepared `ffi_cif` per list of extra argument types (3 bits each).
    var variadicCifs: [UInt64: VariadicInterface] = [:]
    let fixedTypes: [UnsafeMutablePointer<ffi_type>?]
    let resultType: UnsafeMutablePointer<ffi_type>

    init(_ binding: ExportBinding) {
        let signature = binding.export.signature
        capturesErrno = signature.capturesErrno
        isVariadic = signature.isVariadic
        fixedArity = signature.scriptArity
        var buffers: [UnsafeMutableRawPointer?] = [], types: [StructType?] = [], callbacks: [FFICallback?] = []
        var scriptIndex = 0
        for (i, p) in signature.parameters.enumerated() {
            let plan = binding.plan[i]
            switch p.type {
            case .structure(let s):
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(s.size, 16), alignment: 16)
                buffer.initializeMemory(as: UInt8.self, repeating: 0, count: max(s.size, 16))
                if p.isOut {
                    binding.slot(plan.argumentSlot).storeBytes(of: buffer, as: UnsafeMutableRawPointer.self)
                } else {
                    // libffi reads a by-value struct from where its argument pointer points.
                    binding.argumentPointers[plan.argumentSlot] = buffer
                }
                buffers.append(buffer); types.append(s); callbacks.append(nil)
            case .callback(let c):
                buffers.append(nil); types.append(nil)
                callbacks.append(FFICallback(signature: c, owner: "\(binding.qualifiedName): argument \(scriptIndex + 1)"))
            default:
                buffers.append(nil); types.append(nil); callbacks.append(nil)
            }
            if !p.isOut { scriptIndex += 1 }
        }
        if case .structure(let s) = signature.result { types.append(s) } else { types.append(nil) }
        structBuffers = buffers
        structTypes = types
        self.callbacks = callbacks
        hasCallbacks = callbacks.contains { $0 != nil }

        fixedCount = binding.prepared.cArgumentCount
        let extra = isVariadic ? Self.maxVariadic : 0
        variadicStorage = .allocate(byteCount: max(extra, 1) * ExportBinding.slotSize, alignment: 16)
        pointers = .allocate(capacity: fixedCount + extra + 1)
        for i in 0..<fixedCount { pointers[i] = binding.argumentPointers[i] }
        for i in 0..<extra { pointers[fixedCount + i] = variadicStorage + i * ExportBinding.slotSize }
        fixedTypes = (0..<fixedCount).map { binding.prepared.argumentTypes[$0] }
        resultType = PreparedExport.ffiType(signature.result)
    }

    deinit {
        for b in structBuffers { b?.deallocate() }
        variadicStorage.deallocate()
        pointers.deallocate()
    }

    /// The C types extra arguments get: int → int64_t, float → double, everything else a
    /// pointer (str, bytes, nil); bool → int.
    enum VariadicType: UInt64 {
        case i64 = 1, f64 = 2, pointer = 3, i32 = 4
        var ffiType: UnsafeMutablePointer<ffi_type> {
            switch self {
            case .i64: cffi_type_sint64()
            case .f64: cffi_type_double()
            case .pointer: cffi_type_pointer()
            case .i32: cffi_type_sint32()
            }
        }
    }

    /// Writes the extra arguments from script index `first` on and returns the call
    /// interface for their types (prepared once per distinct list), or an error message
    /// naming the argument.
    func prepareVariadic(_ call: NativeCall, from first: Int, binding: ExportBinding) -> Result<UnsafeMutablePointer<ffi_cif>, RawFFIError> {
        let count = call.count - first
        guard count <= Self.maxVariadic else {
            return .failure(RawFFIError("\(binding.qualifiedName): at most \(Self.maxVariadic) arguments after the fixed ones, got \(count)"))
        }
        var key: UInt64 = 0
        for j in 0..<count {
            let index = first + j
            let p = variadicStorage + j * ExportBinding.slotSize
            let type: VariadicType
            if let v = call.int(index) {
                p.storeBytes(of: v, as: Int64.self); type = .i64
            } else if call.isFloat(index), let d = call.double(index) {
                p.storeBytes(of: d, as: Double.self); type = .f64
            } else if let b = call.bool(index) {
                p.storeBytes(of: b ? 1 : 0, as: Int32.self); type = .i32
            } else if call.isNil(index) {
                p.storeBytes(of: 0, as: UInt64.self); type = .pointer
            } else if let s = call.string(index) {
                if let base = s.baseAddress, s.count > 0, let nul = memchr(base, 0, s.count) {
                    return .failure(RawFFIError("\(binding.qualifiedName): argument \(index + 1): expected str, got a string with a NUL byte at index \(UnsafeRawPointer(nul) - UnsafeRawPointer(base))"))
                }
                p.storeBytes(of: s.baseAddress.map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(binding.emptyString), as: UnsafeRawPointer.self)
                type = .pointer
            } else if let b = call.bytes(index) {
                p.storeBytes(of: UnsafeRawPointer(b.baseAddress), as: UnsafeRawPointer?.self); type = .pointer
            } else {
                return .failure(RawFFIError("\(binding.qualifiedName): argument \(index + 1): expected int, float, bool, str, bytes or nil for '...', got \(ScalarConversion.describe(call, index))"))
            }
            key = key << 3 | type.rawValue
        }
        // NOTE: the count is part of the key (types are never 0), so equal keys mean equal lists.
        if let known = variadicCifs[key] { return .success(known.cif) }
        var types = fixedTypes
        var k = key
        var extra: [UnsafeMutablePointer<ffi_type>?] = []
        for _ in 0..<count {
            extra.append(VariadicType(rawValue: k & 7)!.ffiType)
            k >>= 3
        }
        types += extra.reversed()
        guard let interface = VariadicInterface(fixed: fixedCount, types: types, result: resultType) else {
            return .failure(RawFFIError("\(binding.qualifiedName): libffi cannot prepare a variadic call with these arguments"))
        }
        variadicCifs[key] = interface
        return .success(interface.cif)
    }
}

/// A call interface for one list of variadic argument types.
final class VariadicInterface {
    let cif: UnsafeMutablePointer<ffi_cif>
    let types: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>

    init?(fixed: Int, types list: [UnsafeMutablePointer<ffi_type>?], result: UnsafeMutablePointer<ffi_type>) {
        types = .allocate(capacity: max(list.count, 1))
        types.initialize(from: list, count: list.count)
        cif = .allocate(capacity: 1)
        if cffi_prep_cif_var(cif, UInt32(fixed), UInt32(list.count), result, types) != 0 {
            types.deallocate()
            cif.deallocate()
            return nil
        }
    }

    deinit {
        types.deallocate()
        cif.deallocate()
    }
}

/// The general path for signatures with structs, callbacks, `...` or `!errno`.
extension ExportBinding {
    /// The arity the VM checks: -1 (any; `invoke` checks the minimum) for variadic functions.
    var scriptArity: Int { export.signature.isVariadic ? -1 : export.signature.scriptArity }

    /// `invoke` for these signatures: the same checks and messages, plus struct arguments
    /// and results, callback closures, extra variadic arguments, errno capture, and the
    /// error of a callback that raised. Returns the result alone, or a list when there are
    /// out parameters or errno: `[result, out1, …, errno]`.
    func invokeExtended(_ call: NativeCall, _ extras: CallExtras) -> Value {
        if extras.isVariadic && call.count < extras.fixedArity {
            return call.raise("\(qualifiedName) expects at least \(extras.fixedArity) argument\(extras.fixedArity == 1 ? "" : "s"), got \(call.count)")
        }
        let enclosingValues = usesValues ? context.openValues(call) : nil
        defer { if usesValues { context.closeValues(restoring: enclosingValues) } }
        // A nested call of this same function (from inside one of its callbacks) reuses the
        // callback closures: put back what the outer call had set when this one is done.
        let saved = extras.hasCallbacks ? extras.callbacks.map { ($0?.function, $0?.call) } : []
        defer {
            for (i, c) in extras.callbacks.enumerated() where !saved.isEmpty && c != nil {
                c!.function = saved[i].0
                c!.call = saved[i].1
            }
        }
        var scriptIndex = 0
        for i in 0..<plan.count {
            let p = plan[i]
            if p.isOut {
                slot(p.outSlot).storeBytes(of: (0, 0) as (UInt64, UInt64), as: (UInt64, UInt64).self)
                if let buffer = extras.structBuffers[i], let s = extras.structTypes[i] {
                    buffer.initializeMemory(as: UInt8.self, repeating: 0, count: s.size)
                }
                continue
            }
            let message: String?
            switch p.kind {
            case .structure:
                let buffer = extras.structBuffers[i]!
                message = ScalarConversion.storeStruct(call, scriptIndex, extras.structTypes[i]!, at: buffer)
                // NOTE: libffi 3.4 on x86-64 repoints a by-value struct's argument pointer at
                // its stack copy when the struct is passed in memory (over 16 bytes): point it
                // back at the buffer before every call.
                argumentPointers[p.argumentSlot] = buffer
                extras.pointers[p.argumentSlot] = buffer
            case .callback:
                message = storeCallback(call, scriptIndex, extras.callbacks[i], at: slot(p.argumentSlot))
            default:
                message = store(call, scriptIndex, p.kind, parameter: i, at: p.argumentSlot)
            }
            if let message { return argumentError(call, scriptIndex, message) }
            scriptIndex &+= 1
        }
        var activeCif = cif
        var pointers = argumentPointers
        if extras.isVariadic {
            switch extras.prepareVariadic(call, from: scriptIndex, binding: self) {
            case .failure(let error): return call.raise(error.description)
            case .success(let c): activeCif = c; pointers = extras.pointers
            }
        }
        resultLength?.storeBytes(of: 0, as: UInt64.self)
        let version = returnsHandle ? owner : nil
        let previous = context.enter()
        context.callbackFailed = false
        // NOTE: errno is cleared and read with nothing in between but the call, so no other
        // libc call on this thread can change it.
        if extras.capturesErrno { errno = 0 }
        ffi_call(activeCif, function, result, pointers)
        let callErrno = extras.capturesErrno ? errno : 0
        let callbackFailed = context.callbackFailed
        context.callbackFailed = false
        context.leave(previous)
        call.afterBlocking()
        if returnsHandle { callOwner = version }
        if closesHandle { call.closeHandle(0) }
        if callbackFailed {
            // The callback's error is pending; a `raise` from C is dropped in its favour.
            context.raised = nil
            return NativeCall.failure
        }
        if let message = context.raised {
            context.raised = nil
            return raised(call, message)
        }
        var resultValue = call.nilValue
        if resultKind != .void {
            if let s = extras.structTypes[plan.count] {
                resultValue = ScalarConversion.loadStruct(call, s, from: result)
            } else {
                switch convertResult(call, resultKind, handle: plan.count, from: result, widened: true) {
                case .value(let v): resultValue = v
                case .error(let message): return call.raise("\(qualifiedName): \(message)")
                }
            }
        }
        // The common case (snprintf, qsort, div) returns here without building a list.
        if !hasOutParameters && !extras.capturesErrno { return resultValue }
        var values: [Value] = []
        defer { call.release(values.count) }
        if resultKind != .void { call.keep(resultValue); values.append(resultValue) }
        for i in 0..<plan.count where plan[i].isOut {
            if let s = extras.structTypes[i], let buffer = extras.structBuffers[i] {
                let v = ScalarConversion.loadStruct(call, s, from: buffer)
                call.keep(v); values.append(v)
                continue
            }
            switch convertResult(call, plan[i].kind, handle: i, from: slot(plan[i].outSlot), widened: false) {
            case .value(let v): call.keep(v); values.append(v)
            case .error(let message): return call.raise("\(qualifiedName): out argument \(i + 1): \(message)")
            }
        }
        if extras.capturesErrno {
            let v = call.intValue(Int64(callErrno))
            call.keep(v); values.append(v)
        }
        return call.listValue(values)
    }

    /// Passes a script function (through this parameter's closure), an `ffi.callback`
    /// handle of the same signature, or nil (NULL) as a C function pointer.
    private func storeCallback(_ call: NativeCall, _ index: Int, _ closure: FFICallback?, at p: UnsafeMutableRawPointer) -> String? {
        guard let closure else { return "libffi could not prepare this callback parameter" }
        let expected = "callback<\(closure.signature)>"
        if call.isNil(index) {
            p.storeBytes(of: 0, as: UInt64.self)
            return nil
        }
        if let h = call.handle(index) {
            guard h.typeName == FFICallback.handleType else { return "expected \(expected) (a function), got handle<\(h.typeName)>" }
            guard let pointer = h.pointer else { return "expected \(expected), got a closed handle<\(FFICallback.handleType)>" }
            let handle = Unmanaged<FFICallback>.fromOpaque(pointer).takeUnretainedValue()
            guard handle.signature == closure.signature else {
                return "expected \(expected), got an ffi.callback of type \(handle.signature)"
            }
            p.storeBytes(of: handle.code, as: UnsafeMutableRawPointer?.self)
            return nil
        }
        guard call.isCallable(index) else { return "expected \(expected) (a function), got \(ScalarConversion.describe(call, index))" }
        closure.function = call.value(index)
        closure.call = call.reentry()
        p.storeBytes(of: closure.code, as: UnsafeMutableRawPointer?.self)
        return nil
    }
}
