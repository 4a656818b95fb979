#if canImport(Glibc)
import Glibc
#endif
import CFFI

/// A C function pointer that calls a script function: one `ffi_closure` prepared for a
/// `callback<SIGNATURE>` type. Its C entry converts the C arguments to script values, calls
/// the function re-entrantly through the VM and converts the result back.
///
/// C cannot unwind, so when the script function raises (or returns a value of the wrong
/// type) the error stays pending, C gets a zero result, later calls of any callback in the
/// same C call return zero without running, and the call into C fails with that error when
/// it returns (`CallContext.callbackFailed`).
///
/// Two lifetimes: a binding's callback parameter owns one `FFICallback` whose function is
/// set for the duration of each call (qsort's comparator); `ffi.callback(fn, sig)` makes one
/// owned by a script handle, which also keeps `fn` alive (the handle's companion), for C code
/// that keeps the pointer.
final class FFICallback {
    /// The callback's own signature (numbers, bool, ptr or str in; number, bool, ptr or void out).
    let signature: Signature
    /// Who the errors name: `ffi.qsort: argument 4` or `ffi.callback`.
    let owner: String
    let cif: UnsafeMutablePointer<ffi_cif>
    private let argumentTypes: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>
    private var closure: UnsafeMutableRawPointer?
    /// The C function pointer C calls.
    private(set) var code: UnsafeMutableRawPointer?
    private let parameterKinds: [TypeKind]
    private let resultKind: TypeKind

    /// The script function to call, and the VM to call it in; `call` is nil when unset.
    var function: Value?
    var call: NativeCall?

    /// Prepares the closure; nil when libffi cannot.
    init?(signature: Signature, owner: String) {
        self.signature = signature
        self.owner = owner
        parameterKinds = signature.parameters.map(\.type.kind)
        resultKind = signature.result.kind
        let n = signature.parameters.count
        argumentTypes = .allocate(capacity: max(n, 1))
        for (i, p) in signature.parameters.enumerated() { argumentTypes[i] = PreparedExport.ffiType(p.type) }
        cif = .allocate(capacity: 1)
        guard cffi_prep_cif(cif, UInt32(n), PreparedExport.ffiType(signature.result), argumentTypes) == 0 else {
            argumentTypes.deallocate()
            cif.deallocate()
            return nil
        }
        var code: UnsafeMutableRawPointer?
        closure = cffi_closure_new(cif, FFICallback.entry, Unmanaged.passUnretained(self).toOpaque(), &code)
        self.code = code
        if closure == nil { return nil }
    }

    deinit {
        if let closure { cffi_closure_free(closure) }
        argumentTypes.deallocate()
        cif.deallocate()
    }

    /// The C entry of every closure: `user_data` is the unretained `FFICallback`.
    private static let entry: cffi_closure_fn = { _, result, arguments, userData in
        guard let userData else { return }
        Unmanaged<FFICallback>.fromOpaque(userData).takeUnretainedValue().run(result, arguments)
    }

    private func run(_ result: UnsafeMutableRawPointer?, _ arguments: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) {
        if let result, resultKind != .void {
            result.storeBytes(of: 0, as: UInt64.self)
        }
        guard let context = CallContext.current, let call, let function else {
            HostAPI.writeLog("capsule: \(owner): a callback was called outside a call into C (or after its handle was closed); it returned 0")
            return
        }
        if context.callbackFailed { return }
        var values: [Value] = []
        for (i, kind) in parameterKinds.enumerated() {
            guard let p = arguments?[i] else { break }
            let v = ScalarConversion.load(call, kind, from: p)
            call.keep(v)
            values.append(v)
        }
        // The script may call into C again: this context's "current call" slot is ours.
        let r = context.callScript(call, function, values)
        call.release(values.count)
        guard let r else { return }
        guard resultKind != .void, let result else { return }
        let message = call.withValues([r]) { ScalarConversion.store($0, 0, resultKind, at: result, widened: true) }
        if let message {
            _ = call.raise("\(owner): callback result: \(message)")
            context.callbackFailed = true
            result.storeBytes(of: 0, as: UInt64.self)
        }
    }

    /// The handle type of `ffi.callback` objects.
    static let handleType = "ffi.Callback"

    /// The handle destructor: frees the closure.
    static let release: @convention(c) (UnsafeMutableRawPointer?) -> Void = { pointer in
        guard let pointer else { return }
        let callback = Unmanaged<FFICallback>.fromOpaque(pointer).takeRetainedValue()
        callback.function = nil
        callback.call = nil
    }
}
