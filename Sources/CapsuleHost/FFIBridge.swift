#if canImport(Glibc)
import Glibc
#endif
import CFFI

/// Binds a loaded plugin's exports into one VM as native functions. Each export gets its
/// argument storage allocated here, once: a call writes the converted arguments into it and
/// runs the prepared `ffi_cif`, with no heap allocation. Common shapes skip libffi.
///
/// A bridge belongs to one VM (one thread at a time); the `LoadedPlugin` it binds is shared.
final class FFIBridge {
    let plugin: LoadedPlugin
    let context: CallContext
    private var bindings: [ExportBinding] = []

    init(plugin: LoadedPlugin) {
        self.plugin = plugin
        context = CallContext(pluginName: plugin.manifest.name)
        bindings = plugin.prepared.map { ExportBinding($0, bridge: self) }
    }

    /// The module scripts see: one function per export, named as exported.
    func moduleDefinition() -> NativeModuleDefinition {
        NativeModuleDefinition(name: plugin.manifest.name, functions: bindings.map { binding in
            NativeFunctionDefinition(
                name: binding.export.name,
                arity: binding.export.signature.scriptArity,
                body: binding.fastPath() ?? { call in binding.invoke(call) })
        })
    }

    /// The name handles of `type` carry in this plugin: `module.Type`.
    func qualifiedHandleName(_ type: String) -> String { plugin.manifest.name + "." + type }

    /// The destructor declared for handle type `type`.
    func destructor(of type: String) -> (@convention(c) (UnsafeMutableRawPointer?) -> Void)? {
        plugin.manifest.handleTypes.first { $0.name == type }?.destroy
    }
}

/// One export bound in one VM: the prepared call interface and preallocated storage.
final class ExportBinding {
    let prepared: PreparedExport
    unowned let bridge: FFIBridge
    var export: PluginManifest.Export { prepared.export }
    /// `module.function`, for messages.
    let qualifiedName: String

    /// NOTE: 16 bytes per slot: every C argument type fits and keeps its alignment. Slots
    /// 0..<cArgumentCount hold the arguments; one more slot per `out` parameter holds what C
    /// writes through it.
    static let slotSize = 16
    let storage: UnsafeMutableRawPointer
    let argumentPointers: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    let result: UnsafeMutableRawPointer
    /// For each parameter, its first C argument slot; for `out` parameters also its value slot.
    let slots: [(argument: Int, out: Int)]
    /// An empty C string, passed for empty `str` arguments whose storage has no address.
    let emptyString: UnsafeMutablePointer<CChar>

    init(_ prepared: PreparedExport, bridge: FFIBridge) {
        self.prepared = prepared
        self.bridge = bridge
        qualifiedName = bridge.plugin.manifest.name + "." + prepared.export.name
        let parameters = prepared.export.signature.parameters
        let outCount = parameters.count { $0.isOut }
        let slotCount = prepared.cArgumentCount + outCount
        storage = .allocate(byteCount: max(slotCount, 1) * Self.slotSize, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: max(slotCount, 1) * Self.slotSize)
        argumentPointers = .allocate(capacity: max(prepared.cArgumentCount, 1))
        result = .allocate(byteCount: Self.slotSize, alignment: 16)
        emptyString = .allocate(capacity: 1)
        emptyString.initialize(to: 0)
        var slots: [(Int, Int)] = []
        var next = 0, nextOut = prepared.cArgumentCount
        for p in parameters {
            if p.isOut {
                slots.append((next, nextOut))
                // The argument is a pointer to the value slot; it never changes.
                (storage + next * Self.slotSize).storeBytes(of: storage + nextOut * Self.slotSize, as: UnsafeMutableRawPointer.self)
                next += 1
                nextOut += 1
            } else {
                slots.append((next, -1))
                next += (p.type == .bytes || p.type == .buf) ? 2 : 1
            }
        }
        self.slots = slots
        for i in 0..<prepared.cArgumentCount { argumentPointers[i] = storage + i * Self.slotSize }
    }

    func slot(_ index: Int) -> UnsafeMutableRawPointer { storage + index * Self.slotSize }

    /// The general path: check and convert every argument, call through libffi, convert the
    /// result and any out-parameters.
    func invoke(_ call: NativeCall) -> Value {
        let parameters = export.signature.parameters
        var scriptIndex = 0
        for (i, p) in parameters.enumerated() {
            if p.isOut {
                slot(slots[i].out).storeBytes(of: (0, 0) as (UInt64, UInt64), as: (UInt64, UInt64).self)
                continue
            }
            if let message = store(call, scriptIndex, p.type, at: slots[i].argument) {
                return call.raise("\(qualifiedName): argument \(scriptIndex + 1): \(message)")
            }
            scriptIndex += 1
        }
        let previous = bridge.context.enter()
        ffi_call(prepared.cif, export.function, result, argumentPointers)
        bridge.context.leave(previous)
        if export.closesHandle { call.closeHandle(0) }
        if let message = bridge.context.raised {
            bridge.context.raised = nil
            return call.raise("\(qualifiedName): \(message)")
        }
        return results(call)
    }

    private func results(_ call: NativeCall) -> Value {
        let parameters = export.signature.parameters
        var values: [Value] = []
        let resultType = export.signature.result
        if resultType != .void {
            switch convertResult(call, resultType, from: result, widened: true) {
            case .value(let v): values.append(v)
            case .error(let message): return call.raise("\(qualifiedName): \(message)")
            }
        }
        guard slots.contains(where: { $0.out >= 0 }) else { return values.first ?? call.nilValue }
        for v in values { call.keep(v) }
        for (i, p) in parameters.enumerated() where p.isOut {
            switch convertResult(call, p.type, from: slot(slots[i].out), widened: false) {
            case .value(let v): call.keep(v); values.append(v)
            case .error(let message): return call.raise("\(qualifiedName): out argument \(i + 1): \(message)")
            }
        }
        return call.listValue(values)
    }
}
