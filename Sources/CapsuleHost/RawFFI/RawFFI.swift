#if canImport(Glibc)
import Glibc
#endif
import CapsuleSystem
import CapsuleSDK

/// A library opened by `ffi.open`. Both the script's `handle<ffi.Library>` and every function
/// bound from it hold a reference, so the library is closed (dlclose) only when the handle
/// and all its bound functions are unreachable.
final class FFILibrary {
    let handle: UnsafeMutableRawPointer
    /// How messages name it: `'PATH'`, or `the process` for `ffi.open(nil)`.
    let displayName: String
    /// How `ffi:` grants name it: the path as given to `ffi.open`, or `process`.
    let grantName: String

    init(handle: UnsafeMutableRawPointer, displayName: String, grantName: String) {
        self.handle = handle
        self.displayName = displayName
        self.grantName = grantName
    }

    deinit { DynamicLibrary.close(handle) }

    /// Why binding `symbol`, which `dlsym` resolved to `address` through this library, is
    /// refused: `dlsym` on a handle also searches the library's dependencies, so through
    /// `ffi.open("libm.so.6")` it finds libc's `system`. A grant of a library covers only
    /// what that library defines, so the address must lie in the library's own mapping
    /// (`dladdr1` names the object containing it; `dlinfo` the handle's). An IFUNC symbol
    /// resolves to its chosen implementation, which the library defines too (`cos` →
    /// `__cos_fma` in libm). nil when the address is the library's, and always for the
    /// process (`ffi.open(nil)`), whose grant covers every library loaded globally.
    func foreignDefinition(of symbol: String, at address: UnsafeMutableRawPointer) -> String? {
        if grantName == "process" { return nil }
        let shownSymbol = Capability.sanitized(symbol), shownGrant = Capability.sanitized(grantName)
        guard let own = DynamicLibrary.object(of: handle) else {
            return "ffi.bind: cannot tell which library defines '\(shownSymbol)': the loader has no record of \(displayName)"
        }
        guard let definer = DynamicLibrary.object(containing: address) else {
            return "ffi.bind: '\(shownSymbol)' resolves to an address outside every loaded library, not in \(displayName)"
        }
        guard definer != own else { return nil }
        let definingFile = Capability.sanitized(definer.file.isEmpty ? "the main program" : definer.file)
        let base = definingFile.split(separator: "/").last.map(String.init) ?? definingFile
        return "ffi.bind: '\(shownSymbol)' is not defined by \(displayName) (\(Capability.sanitized(own.file))) but by \(definingFile), "
            + "which it depends on; a grant of \(shownGrant) covers only what it defines "
            + "(open \(base) and bind it there, with --allow-ffi=\(base):\(shownSymbol))"
    }
}

/// The `ffi` module: raw FFI from scripts, provided by the plugin host (no shared object).
/// Only importable when the script has an `ffi` grant (`--allow-ffi[=LIB[:SYM,…]]`); then
/// `ffi.open` checks `ffi:LIB` and `ffi.bind` checks `ffi:LIB:SYM` (`ffi.open(nil)` is
/// library `process`).
///
/// ```
/// import "ffi"
/// let libm = ffi.open("libm.so.6")
/// let hypot = ffi.bind(libm, "hypot", "(f64, f64) -> f64")
/// print(hypot(3, 4))   // 5.0
/// ```
///
/// A bound function goes through the same machinery as a plugin export: the signature
/// parser, one prepared `ffi_cif`, preallocated argument storage, the same argument checks
/// and messages (prefixed `ffi.SYMBOL`) and the same fast paths.
final class RawFFI {
    /// The handle type name of opened libraries.
    static let libraryType = "ffi.Library"
    let context = CallContext(pluginName: "ffi")
    /// The struct types `ffi.struct` declared in this VM, by name.
    var structs: [String: StructType] = [:]
    let enforcer: CapabilityEnforcer
    /// The host's blocking pool, for functions bound with `!blocking` (made on first use).
    let blockingPool: () -> BlockingPool

    init(enforcer: CapabilityEnforcer, blockingPool: @escaping () -> BlockingPool) {
        self.enforcer = enforcer
        self.blockingPool = blockingPool
    }

    /// The signature text without a trailing `!blocking`, and whether it had one.
    static func blockingSuffix(_ text: String) -> (signature: String, blocking: Bool) {
        var trimmed = Substring(text)
        while let last = trimmed.last, last == " " || last == "\t" { trimmed = trimmed.dropLast() }
        guard trimmed.hasSuffix("!blocking") else { return (text, false) }
        return (String(trimmed.dropLast("!blocking".count)), true)
    }

    func moduleDefinition() -> NativeModuleDefinition {
        NativeModuleDefinition(name: "ffi", functions: [
            NativeFunctionDefinition(name: "open", arity: 1) { [unowned self] call in self.open(call) },
            NativeFunctionDefinition(name: "bind", arity: 3) { [unowned self] call in self.bind(call) },
            NativeFunctionDefinition(name: "struct", arity: 2) { [unowned self] call in self.declareStruct(call) },
            NativeFunctionDefinition(name: "sizeof", arity: 1) { [unowned self] call in self.sizeof(call) },
            NativeFunctionDefinition(name: "callback", arity: 2) { [unowned self] call in self.callback(call) },
            NativeFunctionDefinition(name: "close", arity: 1) { [unowned self] call in self.close(call) },
            NativeFunctionDefinition(name: "read", arity: -1) { [unowned self] call in self.read(call) },
            NativeFunctionDefinition(name: "write", arity: -1) { [unowned self] call in self.write(call) },
        ])
    }

    /// The handle destructor: drops the handle's reference to its `FFILibrary`.
    private static let release: @convention(c) (UnsafeMutableRawPointer?) -> Void = { pointer in
        guard let pointer else { return }
        Unmanaged<FFILibrary>.fromOpaque(pointer).release()
    }

    /// `ffi.open(path)`: dlopen `path` (nil or "": the process itself, with libc).
    func open(_ call: NativeCall) -> Value {
        var path: String? = nil
        if !call.isNil(0) {
            switch text(call, 0, function: "open", what: "a library path (str) or nil") {
            case .failure(let error): return call.raise(error.description)
            case .success(let s): path = s.isEmpty ? nil : s
            }
        }
        let grantName = path ?? "process"
        if case .failure(let denial) = enforcer.check(Capability(.ffi, grantName), by: .script) {
            return call.raise(denial.message)
        }
        switch DynamicLibrary.openForFFI(path) {
        case .failure(let error):
            return call.raise("ffi.open: cannot open \(path.map { "'\($0)'" } ?? "the process"): \(error)")
        case .success(let handle):
            let library = FFILibrary(handle: handle, displayName: path.map { "'\($0)'" } ?? "the process", grantName: grantName)
            return call.handleValue(Unmanaged.passRetained(library).toOpaque(), typeName: Self.libraryType, destructor: Self.release)
        }
    }

    /// `ffi.bind(lib, symbol, signature)`: a script function calling `symbol` of `lib`.
    func bind(_ call: NativeCall) -> Value {
        guard let h = call.handle(0) else {
            return call.raise("ffi.bind: argument 1: expected handle<\(Self.libraryType)>, got \(call.typeName(0))")
        }
        guard h.typeName == Self.libraryType else {
            return call.raise("ffi.bind: argument 1: expected handle<\(Self.libraryType)>, got handle<\(h.typeName)>")
        }
        guard let pointer = h.pointer else {
            return call.raise("ffi.bind: argument 1: expected handle<\(Self.libraryType)>, got a closed handle<\(Self.libraryType)>")
        }
        let library = Unmanaged<FFILibrary>.fromOpaque(pointer).takeUnretainedValue()
        let symbol: String, signatureText: String
        switch text(call, 1, function: "bind", what: "a symbol name (str)") {
        case .failure(let error): return call.raise(error.description)
        case .success(let s): symbol = s
        }
        switch text(call, 2, function: "bind", what: "a signature (str)") {
        case .failure(let error): return call.raise(error.description)
        case .success(let s): signatureText = s
        }
        if case .failure(let denial) = enforcer.check(Capability(.ffi, "\(library.grantName):\(symbol)"), by: .script) {
            return call.raise(denial.message)
        }
        // `!blocking` (last): the call runs on the blocking pool when its fiber can wait.
        let (parsedText, blocking) = Self.blockingSuffix(signatureText)
        let signature: Signature
        switch Signature.parse(parsedText, structs: { [unowned self] in self.structs[$0] }) {
        case .failure(let error):
            return call.raise("ffi.bind: malformed signature '\(signatureText)' for '\(symbol)': \(error.message) at column \(error.column)")
        case .success(let s): signature = s
        }
        let types = signature.parameters.map(\.type) + [signature.result]
        if types.contains(where: { if case .handle = $0 { true } else { false } }) {
            return call.raise("ffi.bind: signature '\(signatureText)' for '\(symbol)': handle<T> is not supported in raw FFI (use ptr)")
        }
        if types.contains(.value) {
            return call.raise("ffi.bind: signature '\(signatureText)' for '\(symbol)': value is only for plugins (it needs the host API)")
        }
        if blocking, let why = PluginManifest.Export.blockingRefusal(signature) {
            return call.raise("ffi.bind: signature '\(signatureText)' for '\(symbol)': !blocking cannot be used here: \(why)")
        }
        let address: UnsafeMutableRawPointer
        switch DynamicLibrary.lookup(symbol, in: library.handle) {
        case .failure(let error): return call.raise("ffi.bind: no symbol '\(symbol)' in \(library.displayName): \(error)")
        case .success(let a): address = a
        }
        if let refusal = library.foreignDefinition(of: symbol, at: address) { return call.raise(refusal) }
        // NOTE: the signature the script gave is the function's C type; nothing can check it.
        let export = PluginManifest.Export(
            name: symbol, signature: signature, flags: blocking ? UInt32(CAPSULE_EXPORT_BLOCKING) : 0, doc: nil,
            function: unsafeBitCast(address, to: (@convention(c) () -> Void).self))
        guard let prepared = PreparedExport(export) else {
            return call.raise("ffi.bind: libffi cannot prepare a call interface for '\(signatureText)'")
        }
        let binding = ExportBinding(prepared, moduleName: "ffi", context: context,
                                    handleName: { $0 }, destructor: { _ in nil })
        if blocking {
            binding.blockingPool = blockingPool()
            binding.keepAlive = library
        }
        return call.functionValue(NativeFunctionDefinition(
            name: "ffi." + symbol, arity: binding.scriptArity,
            entry: binding.entry(), target: binding.entryTarget
        ) { call in
            // The function keeps its binding (the entry's target) and its library alive.
            withExtendedLifetime(library) { binding.invoke(call) }
        })
    }

    /// String argument `index` as Swift text, refusing non-strings and embedded NULs.
    func text(_ call: NativeCall, _ index: Int, function: String, what: String) -> Result<String, RawFFIError> {
        let prefix = "ffi.\(function): argument \(index + 1): expected \(what)"
        guard let bytes = call.string(index) else { return .failure(RawFFIError("\(prefix), got \(call.typeName(index))")) }
        if let i = bytes.firstIndex(of: 0) { return .failure(RawFFIError("\(prefix), got a string with a NUL byte at index \(i)")) }
        return .success(String(decoding: bytes, as: UTF8.self))
    }
}

/// A raw FFI argument error's message.
struct RawFFIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
