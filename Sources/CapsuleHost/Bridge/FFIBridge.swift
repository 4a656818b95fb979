#if canImport(Glibc)
import Glibc
#endif
import CapsuleSystem
import CFFI

/// Binds a loaded plugin's exports into one VM as native functions. Each export gets its
/// argument storage allocated here, once: a call writes the converted arguments into it and
/// runs the prepared `ffi_cif`, with no heap allocation. Common shapes skip libffi.
///
/// A bridge belongs to one VM (one thread at a time); the `LoadedPlugin` it binds is shared.
final class FFIBridge {
    /// The version this VM's calls go to; a hot reload replaces it (see `rebind`).
    private(set) var plugin: LoadedPlugin
    let context: CallContext
    let registry: PluginRegistry
    private var bindings: [ExportBinding] = []

    /// `alreadyBound`: the registry counted this binding when it handed `plugin` out.
    /// The pool blocking exports run on (nil: on the VM's thread).
    let blockingPool: BlockingPool?

    init(plugin: LoadedPlugin, registry: PluginRegistry, enforcer: CapabilityEnforcer? = nil, alreadyBound: Bool = false,
         blockingPool: BlockingPool? = nil) {
        self.plugin = plugin
        self.blockingPool = blockingPool
        self.registry = registry
        if !alreadyBound { registry.bind(plugin) }
        context = CallContext(pluginName: plugin.manifest.name, enforcer: enforcer)
        bindings = plugin.prepared.map { makeBinding($0, owner: plugin) }
    }

    /// The binding of one export of `owner`, calling through this bridge's context.
    private func makeBinding(_ prepared: PreparedExport, owner: LoadedPlugin) -> ExportBinding {
        let moduleName = owner.manifest.name
        let binding = ExportBinding(prepared, moduleName: moduleName, context: context,
                                    handleName: { moduleName + "." + $0 },
                                    destructor: { [unowned self] in self.destructor(qualified: $0) })
        binding.owner = owner
        binding.blockingPool = blockingPool
        return binding
    }

    /// The module scripts see: one function per export, named as exported.
    func moduleDefinition() -> NativeModuleDefinition {
        NativeModuleDefinition(name: plugin.manifest.name, functions: bindings.map(Self.function))
    }

    private static func function(_ binding: ExportBinding) -> NativeFunctionDefinition {
        NativeFunctionDefinition(
            name: binding.export.name,
            arity: binding.scriptArity,
            entry: binding.entry(), target: binding.entryTarget,
            body: { call in binding.invoke(call) })
    }

    /// Repoints every export at `newPlugin`'s function of the same name. The caller has
    /// checked (`incompatibility`) that each has the identical signature, so the prepared
    /// call interfaces, plans and storage stay valid. Runs on the VM's thread between calls.
    /// Returns the functions of exports the new version adds, bound here from now on: the
    /// caller adds them to the module object scripts hold.
    /// The registry counted this bridge's binding of `newPlugin` when it committed the reload.
    func rebind(to newPlugin: LoadedPlugin) -> [NativeFunctionDefinition] {
        let functions = Dictionary(newPlugin.manifest.exports.map { ($0.name, $0.function) }, uniquingKeysWith: { a, _ in a })
        for binding in bindings {
            if let function = functions[binding.export.name] { binding.function = function }
            binding.owner = newPlugin
            binding.replacedVersion = newPlugin.manifest.version
        }
        let bound = Set(bindings.map(\.export.name))
        let added = newPlugin.prepared.filter { !bound.contains($0.export.name) }.map { prepared in
            let binding = makeBinding(prepared, owner: newPlugin)
            binding.replacedVersion = newPlugin.manifest.version
            return binding
        }
        bindings += added
        let old = plugin
        plugin = newPlugin
        // A call into the old version is still on this thread's stack (its callback reloaded):
        // it finishes on the old code, so the old version stays bound until it returns.
        if context.inFlight > 0 {
            let previous = context.whenIdle
            context.whenIdle = { [registry] in
                previous?()
                registry.unbind(old)
            }
        } else {
            context.becameIdle()  // a version parked during a fast-path call (see `settle`)
            registry.unbind(old)
        }
        return added.map(Self.function)
    }

    deinit {
        context.becameIdle()
        registry.unbind(plugin)
    }

    /// The name handles of `type` carry in this plugin: `module.Type`.
    func qualifiedHandleName(_ type: String) -> String { plugin.manifest.name + "." + type }

    /// The destructor declared for the handle type named `module.Type`.
    func destructor(qualified name: String) -> (@convention(c) (UnsafeMutableRawPointer?) -> Void)? {
        plugin.manifest.handleTypes.first { qualifiedHandleName($0.name) == name }?.destroy
    }
}

/// A parameter as the call path needs it: plain bytes, so reading one costs no reference
/// counting.
struct ParameterPlan {
    var kind: TypeKind
    var isOut: Bool
    /// The first C argument slot (bytes/buf use two).
    var argumentSlot: Int
    /// For `out` parameters, the slot C writes the value into; -1 otherwise.
    var outSlot: Int
}

/// One export bound in one VM: the prepared call interface and preallocated storage.
final class ExportBinding {
    let prepared: PreparedExport
    /// The call context of the module's calls.
    let context: CallContext
    /// The destructor of the handle type with a qualified name (`module.Type`), for handle
    /// results.
    let destructor: (String) -> (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
    /// The manifest's entry (names, signature, doc); the call path uses the copies below.
    let export: PluginManifest.Export
    /// `module.function`, for messages.
    let qualifiedName: String

    // Copied out of `export` so a call touches no strings or arrays.
    /// The C function; a hot reload repoints it (`FFIBridge.rebind`), so every call reads it here.
    var function: @convention(c) () -> Void
    let cif: UnsafeMutablePointer<ffi_cif>
    let closesHandle: Bool
    /// Flagged `CAPSULE_EXPORT_BLOCKING` (raw FFI: `!blocking`): runs on `blockingPool` when
    /// the calling fiber can park (ExportBinding+Blocking.swift).
    let isBlocking: Bool
    /// Flagged `CAPSULE_EXPORT_PARKS`: the C function may call `host->park`.
    let mayPark: Bool
    /// The pool blocking calls run on; nil: every call runs on the VM's thread.
    var blockingPool: BlockingPool?
    /// Kept alive by every pool call of this binding along with it (raw FFI's library).
    var keepAlive: AnyObject?
    let resultKind: TypeKind
    let hasOutParameters: Bool
    /// True when a parameter or the result is `value`: calls lend values (HostAPI+Values.swift).
    let usesValues: Bool
    let plan: UnsafeMutableBufferPointer<ParameterPlan>
    /// For handle parameters (by parameter index) and a handle result (last): the handle
    /// type's qualified name, `module.Type`; "" elsewhere.
    let handleNames: [String]

    /// NOTE: 16 bytes per slot: every C argument type fits and keeps its alignment. Slots
    /// 0..<cArgumentCount hold the arguments; one more slot per `out` parameter holds what C
    /// writes through it.
    static let slotSize = 16
    let storage: UnsafeMutableRawPointer
    /// How many slots `storage` has, and the bytes of `result` (a pool call copies both).
    let slotCount: Int
    let resultSize: Int
    let argumentPointers: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    let result: UnsafeMutableRawPointer
    /// For a `bytes` result: the slot the hidden trailing `size_t *` argument points to.
    let resultLength: UnsafeMutableRawPointer?
    /// An empty C string, passed for empty `str` arguments whose storage has no address.
    let emptyString: UnsafeMutablePointer<CChar>
    /// The current version after a hot reload (nil before any): handle arguments are then
    /// checked to come from it (`staleHandle`).
    var replacedVersion: String?
    /// The plugin version this binding calls (nil for raw FFI and isolated plugins): handles
    /// it returns carry a reference to it, and a handle argument must come from it.
    var owner: LoadedPlugin?
    /// The version the call being converted ran on (a reload in its callback may have
    /// repointed `owner` meanwhile): handle results belong to it.
    var callOwner: LoadedPlugin?
    /// Whether the result or an out parameter is a handle (calls then note `callOwner`).
    lazy var returnsHandle: Bool = export.signature.result.kind == .handle
        || export.signature.parameters.contains { $0.isOut && $0.type.kind == .handle }
    /// Struct buffers, callback closures, variadic and errno state, for signatures that
    /// need them (`Signature.needsGeneralPath`); nil otherwise.
    private(set) var extras: CallExtras?

    /// Binds `prepared` as `moduleName.export`. `handleName` qualifies a handle type name
    /// from the signature; `destructor` finds a qualified handle type's destructor.
    init(_ prepared: PreparedExport, moduleName: String, context: CallContext,
         handleName: (String) -> String,
         destructor: @escaping (String) -> (@convention(c) (UnsafeMutableRawPointer?) -> Void)?) {
        self.prepared = prepared
        self.context = context
        self.destructor = destructor
        export = prepared.export
        qualifiedName = moduleName + "." + prepared.export.name
        function = prepared.export.function
        cif = prepared.cif
        closesHandle = prepared.export.closesHandle
        isBlocking = prepared.export.isBlocking
        mayPark = prepared.export.mayPark
        let signature = prepared.export.signature
        resultKind = signature.result.kind
        hasOutParameters = signature.parameters.contains { $0.isOut }
        usesValues = signature.result == .value || signature.parameters.contains { $0.type == .value }
        handleNames = (signature.parameters.map(\.type) + [signature.result]).map {
            if case .handle(let name) = $0 { handleName(name) } else { "" }
        }

        let outCount = signature.parameters.count { $0.isOut }
        let returnsBytes = signature.result == .bytes
        let slotCount = max(prepared.cArgumentCount + outCount + (returnsBytes ? 1 : 0), 1)
        self.slotCount = slotCount
        storage = .allocate(byteCount: slotCount * Self.slotSize, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: slotCount * Self.slotSize)
        argumentPointers = .allocate(capacity: max(prepared.cArgumentCount, 1))
        var resultSize = Self.slotSize
        if case .structure(let s) = signature.result { resultSize = max(resultSize, s.size) }
        self.resultSize = resultSize
        result = .allocate(byteCount: resultSize, alignment: 16)
        emptyString = .allocate(capacity: 1)
        emptyString.initialize(to: 0)
        plan = .allocate(capacity: signature.parameters.count)
        var next = 0, nextOut = prepared.cArgumentCount
        for (i, p) in signature.parameters.enumerated() {
            if p.isOut {
                plan.initializeElement(at: i, to: ParameterPlan(kind: p.type.kind, isOut: true, argumentSlot: next, outSlot: nextOut))
                // The argument is a pointer to the value slot; it never changes.
                (storage + next * Self.slotSize).storeBytes(of: storage + nextOut * Self.slotSize, as: UnsafeMutableRawPointer.self)
                next += 1
                nextOut += 1
            } else {
                plan.initializeElement(at: i, to: ParameterPlan(kind: p.type.kind, isOut: false, argumentSlot: next, outSlot: -1))
                next += (p.type == .bytes || p.type == .buf) ? 2 : 1
            }
        }
        if returnsBytes {
            // The hidden last C argument points at the length slot, after the out slots.
            let length = storage + nextOut * Self.slotSize
            (storage + (prepared.cArgumentCount - 1) * Self.slotSize).storeBytes(of: length, as: UnsafeMutableRawPointer.self)
            resultLength = length
        } else {
            resultLength = nil
        }
        for i in 0..<prepared.cArgumentCount { argumentPointers[i] = storage + i * Self.slotSize }
        if signature.needsGeneralPath { extras = CallExtras(self) }
    }

    deinit {
        storage.deallocate()
        argumentPointers.deallocate()
        result.deallocate()
        emptyString.deallocate()
        plan.deallocate()
    }

    @inline(__always) func slot(_ index: Int) -> UnsafeMutableRawPointer { storage + index &* Self.slotSize }

    /// The general path: check and convert every argument, call through libffi, convert the
    /// result and any out-parameters.
    func invoke(_ call: NativeCall) -> Value {
        // Once the call is completely done: release a version a reload parked meanwhile.
        defer { context.settle() }
        if isBlocking, let blockingPool, call.canPark { return invokeOnPool(call, blockingPool) }
        // Run again after `host->park`'s token was completed: the value it was completed with.
        if mayPark, call.canPark, let r = call.takeResumption() { return r.value }
        if let extras { return invokeExtended(call, extras) }
        let enclosingValues = usesValues ? context.openValues(call) : nil
        defer { if usesValues { context.closeValues(restoring: enclosingValues) } }
        if let failure = storeArguments(call) { return failure }
        let version = returnsHandle ? owner : nil
        let saved = mayPark ? context.beginParking(call, self) : nil
        let previous = context.enter()
        ffi_call(cif, function, result, argumentPointers)
        context.leave(previous)
        if mayPark, let parked = context.endParking(saved) {
            call.afterBlocking()
            return parked
        }
        call.afterBlocking()
        if returnsHandle { callOwner = version }
        if closesHandle { call.closeHandle(0) }
        if context.callbackFailed {
            // C called an `ffi.callback` it kept, and the script function raised: fail with it.
            context.callbackFailed = false
            context.raised = nil
            return NativeCall.failure
        }
        if let message = context.raised {
            context.raised = nil
            return raised(call, message)
        }
        return convertResults(call)
    }

    /// Checks every argument and writes it into the argument storage (and clears the out
    /// slots and a bytes result's length). Returns nil, or the failed call's value after
    /// raising the argument error. Shared by in-process and isolated calls.
    @inline(__always)
    func storeArguments(_ call: NativeCall) -> Value? {
        var scriptIndex = 0
        for i in 0..<plan.count {
            let p = plan[i]
            if p.isOut {
                slot(p.outSlot).storeBytes(of: (0, 0) as (UInt64, UInt64), as: (UInt64, UInt64).self)
                continue
            }
            if let message = store(call, scriptIndex, p.kind, parameter: i, at: p.argumentSlot) {
                return argumentError(call, scriptIndex, message)
            }
            scriptIndex &+= 1
        }
        resultLength?.storeBytes(of: 0, as: UInt64.self)
        return nil
    }

    /// Converts the result in `result` (and the out slots) into the call's value. Shared by
    /// in-process and isolated calls.
    func convertResults(_ call: NativeCall) -> Value {
        if !hasOutParameters {
            switch convertResult(call, resultKind, handle: plan.count, from: result, widened: true) {
            case .value(let v): return v
            case .error(let message): return call.raise("\(qualifiedName): \(message)")
            }
        }
        return resultsWithOutParameters(call)
    }

    @inline(never)
    func argumentError(_ call: NativeCall, _ index: Int, _ message: String) -> Value {
        call.raise("\(qualifiedName): argument \(index + 1): \(message)")
    }

    @inline(never)
    func raised(_ call: NativeCall, _ message: String) -> Value {
        // Raised by the plugin's own code: a PluginError whatever the text says.
        call.raise("\(qualifiedName): \(message)", kind: .plugin)
    }

    private func resultsWithOutParameters(_ call: NativeCall) -> Value {
        var values: [Value] = []
        if resultKind != .void {
            switch convertResult(call, resultKind, handle: plan.count, from: result, widened: true) {
            case .value(let v): call.keep(v); values.append(v)
            case .error(let message): return call.raise("\(qualifiedName): \(message)")
            }
        }
        for i in 0..<plan.count where plan[i].isOut {
            switch convertResult(call, plan[i].kind, handle: i, from: slot(plan[i].outSlot), widened: false) {
            case .value(let v): call.keep(v); values.append(v)
            case .error(let message): return call.raise("\(qualifiedName): out argument \(i + 1): \(message)")
            }
        }
        return call.listValue(values)
    }
}
