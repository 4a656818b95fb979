import CapsuleSDK

/// A module of Swift functions that scripts import like a C plugin, declared with the same
/// signature language and bound through the same typed registry: every argument is checked
/// against the declared signature (count, type, integer range, NUL in str, closed or foreign
/// handle) with the same messages before the Swift code runs. Built by
/// `PluginHost.register(module:version:description:_:)`.
///
/// ```swift
/// try host.register(module: "geo") { m in
///     try m.function("dist", "(f64, f64, f64, f64) -> f64") { (x1: Double, y1: Double, x2: Double, y2: Double) in
///         ((x2 - x1) * (x2 - x1) + (y2 - y1) * (y2 - y1)).squareRoot()
///     }
/// }
/// ```
///
/// Parameters and results are typed Swift values (the table in `CapsuleArgument`); the
/// declared signature and the closure's types must agree, or registering fails. A thrown
/// error fails the script's call with its message (prefixed `module.function: `).
public final class SwiftModule {
    /// The module name scripts import.
    public let name: String
    var exports: [PluginManifest.Export] = []
    var functions: [SwiftFunction] = []
    var handleTypes: [PluginManifest.HandleType] = []
    var handles = SwiftHandleTypes()

    init(name: String) { self.name = name }

    /// Declares handle type `name` (used as `handle<name>` in signatures): scripts hold
    /// instances of `type` as opaque handles, released when the handle is collected or closed.
    public func handleType<H: CapsuleHandle>(_ name: String, _ type: H.Type) throws {
        guard isIdentifier(name) else { throw refusal("handle type name '\(name)' is not an identifier") }
        guard handles.classes[name] == nil else { throw refusal("module \(self.name) declares handle type '\(name)' twice") }
        handles.classes[name] = ObjectIdentifier(type)
        handleTypes.append(PluginManifest.HandleType(name: name, destroy: SwiftModule.releaseHandle))
    }

    /// Adds function `name` with C-style `signature` (e.g. `"(i64, str) -> f64"`), run by `body`.
    /// `closesHandle`: the first parameter is a handle, closed after the call (as
    /// `CAPSULE_EXPORT_CLOSES_HANDLE` does for C), so later calls with it fail.
    public func function<each A: CapsuleArgument, R: CapsuleResult>(
        _ name: String, _ signature: String, doc: String? = nil, closesHandle: Bool = false,
        _ body: @escaping (repeat each A) throws -> R
    ) throws {
        let parsed = try check(name, signature, closesHandle, arguments: Self.argumentTypes(repeat (each A).self))
        guard R._capsuleAccepts(parsed.result, handles) else {
            throw refusal("function '\(name)' declares result \(parsed.result), which Swift type \(R.self) cannot be returned as")
        }
        try add(name, parsed, doc, closesHandle) { reader, writer in
            try body(repeat (each A)._capsuleRead(&reader))._capsuleWrite(&writer)
        }
    }

    /// Adds function `name` whose signature's result is `void`.
    public func function<each A: CapsuleArgument>(
        _ name: String, _ signature: String, doc: String? = nil, closesHandle: Bool = false,
        _ body: @escaping (repeat each A) throws -> Void
    ) throws {
        let parsed = try check(name, signature, closesHandle, arguments: Self.argumentTypes(repeat (each A).self))
        guard parsed.result == .void else {
            throw refusal("function '\(name)' declares result \(parsed.result), but the Swift closure returns nothing")
        }
        try add(name, parsed, doc, closesHandle) { reader, _ in
            try body(repeat (each A)._capsuleRead(&reader))
            return nil
        }
    }

    private static func argumentTypes<each A: CapsuleArgument>(_ types: repeat (each A).Type) -> [any CapsuleArgument.Type] {
        var list: [any CapsuleArgument.Type] = []
        for t in repeat each types { list.append(t) }
        return list
    }

    /// Parses `signature` and checks it against the closure's parameter types.
    private func check(_ name: String, _ signature: String, _ closesHandle: Bool, arguments: [any CapsuleArgument.Type]) throws -> Signature {
        guard isIdentifier(name) else { throw refusal("function name '\(name)' is not an identifier ([A-Za-z_][A-Za-z0-9_]*)") }
        guard !exports.contains(where: { $0.name == name }) else { throw refusal("module \(self.name) exports '\(name)' twice") }
        let parsed: Signature
        switch Signature.parse(signature) {
        case .success(let s): parsed = s
        case .failure(let error):
            throw refusal("malformed signature '\(signature)' for function '\(name)': \(error.message) at column \(error.column)")
        }
        for case .handle(let type) in parsed.parameters.map(\.type) + [parsed.result] where handles.classes[type] == nil {
            throw refusal("function '\(name)' uses handle<\(type)>, which the module does not declare")
        }
        guard !parsed.isVariadic, !parsed.capturesErrno,
              !(parsed.parameters.map(\.type) + [parsed.result]).contains(where: { [.callback, .value, .ptr, .structure].contains($0.kind) }) else {
            throw refusal("function '\(name)': Swift functions take numbers, bool, str, bytes, buf, handle<T> and out parameters; '\(signature)' has more")
        }
        guard parsed.parameters.count == arguments.count else {
            throw refusal("function '\(name)' declares \(parsed.parameters.count) parameter\(parsed.parameters.count == 1 ? "" : "s"), but its Swift closure takes \(arguments.count)")
        }
        if closesHandle, !(parsed.parameters.first.map { $0.type.kind == .handle && !$0.isOut } ?? false) {
            throw refusal("function '\(name)' closes a handle, but its first parameter is not a handle")
        }
        for (i, (p, type)) in zip(parsed.parameters, arguments).enumerated() where !type._capsuleAccepts(p, handles) {
            throw refusal("function '\(name)': parameter \(i + 1) is declared \(p.isOut ? "out " : "")\(p.type), which Swift type \(type) cannot receive")
        }
        return parsed
    }

    private func add(_ name: String, _ signature: Signature, _ doc: String?, _ closesHandle: Bool,
                     _ body: @escaping (inout CArguments, inout CResult) throws -> String?) throws {
        guard let function = SwiftFunction(qualifiedName: self.name + "." + name, signature: signature, body: body) else {
            throw refusal("libffi cannot make a C function of signature \(signature) for '\(name)'")
        }
        functions.append(function)
        exports.append(function.export(name: name, doc: doc, flags: closesHandle ? UInt32(CAPSULE_EXPORT_CLOSES_HANDLE) : 0))
    }

    private func refusal(_ reason: String) -> PluginLoadError {
        PluginLoadError(path: SwiftModule.path(name), reason: reason)
    }

    /// What a Swift module's `LoadedPlugin.path` says, in messages: `swift:NAME`.
    static func path(_ name: String) -> String { "swift:" + name }

    /// Every Swift handle type's destructor: drops the VM's reference to the object.
    static let releaseHandle: @convention(c) (UnsafeMutableRawPointer?) -> Void = { pointer in
        guard let pointer else { return }
        Unmanaged<AnyObject>.fromOpaque(pointer).release()
    }
}
