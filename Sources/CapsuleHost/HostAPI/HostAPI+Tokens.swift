#if canImport(Glibc)
import Glibc
#endif
import CapsuleSDK
import CapsuleSyntax

/// `host->park` and `host->complete_*` (SDK 0.4): an export flagged `CAPSULE_EXPORT_PARKS`
/// parks its calling fiber and finishes the call later from a thread of its own. `park` runs
/// on the VM's thread inside the export (`ExportBinding.invoke` lends it the call,
/// `CallContext.parking`); a `complete_*` copies the C data at once, on any thread, and the
/// script value is made on the VM's thread, in the completion (`ParkedCall.finish`).
enum HostTokens {
    /// What a token was completed with, copied out of the plugin's memory.
    enum Outcome: Sendable {
        case none
        case int(Int64)
        case float(Double)
        case string([UInt8])
        case bytes([UInt8])
        case error(String)
    }

    static let park: @convention(c) () -> OpaquePointer? = {
        guard let context = CallContext.current else {
            HostAPI.writeLog("host->park used outside a call")
            return nil
        }
        guard let parking = context.parking else {
            HostAPI.fail("park: only in a call of an export flagged CAPSULE_EXPORT_PARKS, on the thread the host called it on")
            return nil
        }
        guard context.parked == nil else { HostAPI.fail("park: called twice in one call"); return nil }
        // Inside a callback from native code: the export does its work synchronously.
        guard parking.call.canPark else { return nil }
        guard let token = parking.call.parkForCompletion(label: "\(parking.binding.qualifiedName) (completion token)") else {
            // Cancelled: the error is pending in the VM; the export's call fails with it.
            context.parkFailed = true
            return nil
        }
        let parked = ParkedCall(token: token, binding: parking.binding, version: parking.binding.owner)
        context.parked = parked
        context.poolCalls += 1
        if let version = parked.version { version.registry?.bind(version) }
        // NOTE: a +1 reference the plugin owns until it completes the token (`complete`).
        return OpaquePointer(Unmanaged.passRetained(parked).toOpaque())
    }

    /// Takes the plugin's token back (once: the +1 reference `park` gave it) and completes it.
    static func complete(_ token: OpaquePointer?, _ outcome: Outcome) {
        guard let token else {
            HostAPI.writeLog("host->complete_*: NULL token")
            return
        }
        // NOTE: a token is the +1 reference `park` returned; the header says each is completed
        // exactly once, so it is taken back exactly once (as a FILE * is closed once).
        let parked = Unmanaged<ParkedCall>.fromOpaque(UnsafeRawPointer(token)).takeRetainedValue()
        parked.token.complete { call in parked.finish(call, outcome) }
    }

    static let completeNil: @convention(c) (OpaquePointer?) -> Void = { complete($0, .none) }
    static let completeInt: @convention(c) (OpaquePointer?, Int64) -> Void = { complete($0, .int($1)) }
    static let completeFloat: @convention(c) (OpaquePointer?, Double) -> Void = { complete($0, .float($1)) }
    static let completeString: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int) -> Void = { token, data, length in
        complete(token, .string(copy(UnsafeRawPointer(data), length)))
    }
    static let completeBytes: @convention(c) (OpaquePointer?, UnsafePointer<UInt8>?, Int) -> Void = { token, data, length in
        complete(token, .bytes(copy(UnsafeRawPointer(data), length)))
    }
    static let completeError: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> Void = { token, message in
        complete(token, .error(message.map { TerminalText.safe(String(cString: $0)) } ?? "(no message)"))
    }

    private static func copy(_ data: UnsafeRawPointer?, _ length: Int) -> [UInt8] {
        guard let data, length > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: data, count: length))
    }
}

/// The export call `park` may park: lent by `ExportBinding.invoke` for the C call's duration.
struct ParkingCall {
    let call: NativeCall
    /// NOTE: `unowned(unsafe)`: lent only for the C call inside `binding.invoke`, which the
    /// binding's function value keeps alive; cleared (`endParking`) before that returns.
    unowned(unsafe) let binding: ExportBinding
}

/// One parked call of a plugin export, until its token is completed.
///
/// NOTE: `@unchecked Sendable`: made on the VM's thread; the plugin's thread only hands it to
/// `token.complete` (Sendable); `binding` and `version` are touched only in `finish`, on the
/// VM's thread again, after the completion's mutex.
final class ParkedCall: @unchecked Sendable {
    let token: CompletionToken
    let binding: ExportBinding
    /// The plugin version the call ran in, bound until `finish` (nil for raw FFI).
    let version: LoadedPlugin?

    init(token: CompletionToken, binding: ExportBinding, version: LoadedPlugin?) {
        self.token = token
        self.binding = binding
        self.version = version
    }

    /// On the VM's thread: the value the script's call returns (dropped if its fiber was
    /// cancelled meanwhile).
    func finish(_ call: NativeCall, _ outcome: HostTokens.Outcome) -> Value {
        binding.context.poolCalls -= 1
        defer { if let version { version.registry?.unbind(version) } }
        let name = binding.qualifiedName
        switch outcome {
        case .none: return call.nilValue
        case .int(let i): return call.intValue(i)
        case .float(let d): return call.doubleValue(d)
        case .string(let bytes):
            guard String(validating: bytes, as: UTF8.self) != nil else {
                return call.raise("\(name): complete_str: the string is not valid UTF-8", kind: .plugin)
            }
            if let oom = call.heapShortfall(bytes.count) { return call.raise("\(name): \(oom): the str result has \(bytes.count) bytes") }
            return bytes.withUnsafeBufferPointer { call.stringValue($0) }
        case .bytes(let bytes):
            if let oom = call.heapShortfall(bytes.count) { return call.raise("\(name): \(oom): the bytes result has \(bytes.count) bytes") }
            return bytes.withUnsafeBufferPointer { call.bytesValue($0) }
        case .error(let message):
            return binding.raised(call, message)
        }
    }
}

extension CallContext {
    /// What `beginParking` replaced, for `endParking` to put back (a nested call).
    struct SavedParking {
        let parking: ParkingCall?
        let parked: ParkedCall?
        let failed: Bool
    }

    /// Lends `call` to `host->park` for the C call of `binding` (VM thread).
    func beginParking(_ call: NativeCall, _ binding: ExportBinding) -> SavedParking {
        let saved = SavedParking(parking: parking, parked: parked, failed: parkFailed)
        parking = ParkingCall(call: call, binding: binding)
        parked = nil
        parkFailed = false
        return saved
    }

    /// After the C call: `NativeCall.failure` when it parked (the fiber waits for the token;
    /// what C returned or raised is ignored) or parking failed (the pending error fails the
    /// call); nil when it returned as an ordinary call.
    func endParking(_ saved: SavedParking?) -> Value? {
        let didPark = parked != nil, failed = parkFailed
        parking = saved?.parking
        parked = saved?.parked
        parkFailed = saved?.failed ?? false
        guard didPark || failed else { return nil }
        raised = nil
        return NativeCall.failure
    }
}
