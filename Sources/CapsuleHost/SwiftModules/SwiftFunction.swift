#if canImport(Glibc)
import Glibc
#endif
import CFFI

/// A Swift function made into a C function pointer of its declared signature: an
/// `ffi_closure` whose entry reads the C arguments into the Swift closure's typed parameters,
/// runs it and writes its result. The pointer is then an export like any plugin's, bound by
/// `ExportBinding`: every argument is checked before the Swift code runs, with the same
/// messages, by the same code.
///
/// A thrown error fails the call with its message (a `ScriptError`'s message, or the error's
/// description), as `host->raise` does for C.
final class SwiftFunction {
    /// `module.function`, for messages.
    let qualifiedName: String
    let signature: Signature
    /// The call interface of the C function this closure implements (kept alive with it).
    private let prepared: PreparedExport
    private var closure: UnsafeMutableRawPointer?
    /// The C function pointer.
    private(set) var code: UnsafeMutableRawPointer?
    /// The declared kind of each parameter, then the result's.
    private let kinds: UnsafeMutablePointer<TypeKind>
    private let resultKind: TypeKind
    /// Reads the arguments, runs the Swift closure and writes the result; nil or the error.
    private let body: (inout CArguments, inout CResult) throws -> String?
    /// A str or bytes result's storage, kept until the next call (the host copies it first).
    private var kept: ContiguousArray<UInt8> = []

    /// Nil when libffi cannot make a closure for `signature`.
    init?(qualifiedName: String, signature: Signature,
          body: @escaping (inout CArguments, inout CResult) throws -> String?) {
        self.qualifiedName = qualifiedName
        self.signature = signature
        self.body = body
        // The same C argument layout as a plugin's export: a placeholder function, replaced
        // by this closure's code in the export the host binds.
        let placeholder = PluginManifest.Export(name: "_", signature: signature, flags: 0, doc: nil, function: SwiftFunction.unreachable)
        guard let prepared = PreparedExport(placeholder) else { return nil }
        self.prepared = prepared
        kinds = .allocate(capacity: signature.parameters.count + 1)
        for (i, p) in signature.parameters.enumerated() { kinds[i] = p.type.kind }
        resultKind = signature.result.kind
        kinds[signature.parameters.count] = resultKind
        var code: UnsafeMutableRawPointer?
        closure = cffi_closure_new(prepared.cif, SwiftFunction.entry, Unmanaged.passUnretained(self).toOpaque(), &code)
        self.code = code
        if closure == nil { return nil }
    }

    deinit {
        if let closure { cffi_closure_free(closure) }
        kinds.deallocate()
    }

    /// The export the host binds: this function's pointer under `name`.
    func export(name: String, doc: String?, flags: UInt32) -> PluginManifest.Export {
        PluginManifest.Export(name: name, signature: signature, flags: flags, doc: doc,
                              function: unsafeBitCast(code!, to: (@convention(c) () -> Void).self))
    }

    private static let unreachable: @convention(c) () -> Void = {}

    /// The C entry of every closure: `user_data` is the unretained `SwiftFunction`.
    private static let entry: cffi_closure_fn = { _, result, cArguments, userData in
        guard let userData, let result, let cArguments else { return }
        Unmanaged<SwiftFunction>.fromOpaque(userData).takeUnretainedValue().run(result, cArguments)
    }

    private func run(_ result: UnsafeMutableRawPointer, _ arguments: UnsafeMutablePointer<UnsafeMutableRawPointer?>) {
        result.storeBytes(of: 0, as: UInt64.self)
        var reader = CArguments(arguments: arguments, kinds: UnsafePointer(kinds))
        // A bytes result's length goes through the hidden last argument, a `size_t *`.
        let length = signature.result == .bytes
            ? arguments[prepared.cArgumentCount - 1]!.load(as: UnsafeMutablePointer<UInt64>.self) : nil
        var writer = CResult(pointer: result, kind: resultKind, length: length)
        let message: String?
        do {
            message = try body(&reader, &writer)
        } catch let error as ScriptError {
            message = error.message
        } catch {
            message = String(describing: error)
        }
        kept = writer.keep
        if let message {
            result.storeBytes(of: 0, as: UInt64.self)
            length?.pointee = 0
            if let context = CallContext.current, context.raised == nil { context.raised = message }
        }
    }
}
