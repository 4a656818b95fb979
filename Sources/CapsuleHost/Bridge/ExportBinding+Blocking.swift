#if canImport(Glibc)
import Glibc
#endif
import CCurrentCall
import CFFI

/// Blocking exports on the pool (`CAPSULE_EXPORT_BLOCKING`, raw FFI's `!blocking`): called
/// from a fiber that can park, the arguments are converted on the VM's thread as for any
/// call, copied into storage of this call's own, and `ffi_call` runs on a `BlockingPool`
/// thread while the fiber sleeps and others run. The completion converts the result back on
/// the VM's thread (docs/plugins.md, "Blocking exports").
///
/// What keeps the call safe while the VM goes on:
/// - every script argument is pinned until the completion (the collector frees none of
///   them: a `str` points into its string, which never changes);
/// - a `bytes` or `ptr` argument given a bytes value, and every `buf`, is a private copy
///   (a script may grow a bytes value meanwhile, which moves its data); a `buf` and a
///   `ptr`'s bytes are copied back when the call returns;
/// - a handle argument is marked busy in the call context: an export that closes handles
///   refuses it until the call returns (the collector cannot free it: it is pinned);
/// - the plugin version the call runs in is counted as bound until the completion, so a
///   hot reload meanwhile does not close it; the VM's reloads of the plugin wait for its
///   pool calls to return (`CallContext.poolCalls`);
/// - `host->raise` and the other host API functions find a call context of this call's own
///   through the pool thread's current-call slot, so they never touch the VM's.
extension ExportBinding {
    /// The pool path of `invoke`; the caller checked `call.canPark`.
    func invokeOnPool(_ call: NativeCall, _ pool: BlockingPool) -> Value {
        // Second run, after the completion: the value it made.
        if let r = call.takeResumption() { return r.value }
        if let failure = storeArguments(call) { return failure }
        guard let token = call.parkForCompletion(label: "\(qualifiedName) (blocking pool)") else { return NativeCall.failure }
        let job = PoolCall(self, call)
        context.poolCalls += 1
        for h in job.handles { context.busyHandles[h, default: 0] += 1 }
        if let version = job.version { version.registry?.bind(version) }
        let work: @Sendable () -> Void = {
            job.run()
            token.complete { call in job.finish(call) }
        }
        // No thread could start: make the call here; the fiber wakes at the next poll.
        if !pool.submit(label: qualifiedName, work) { work() }
        return NativeCall.failure
    }
}

/// One call of a blocking export on the pool: its own copy of the argument storage, the
/// pins and copies that keep what it points at alive, and the context `host->raise` writes.
///
/// NOTE: `@unchecked Sendable`: made on the VM's thread, handed to one pool thread through
/// the pool's mutex (`run`), and back to the VM's thread through the completion's
/// (`finish`); no two threads touch it at once. `binding` and `version` are touched only
/// on the VM's thread; the pool thread reads only the C storage and `context`.
final class PoolCall: @unchecked Sendable {
    /// A private copy of a bytes value an argument points at.
    struct ByteCopy {
        let data: UnsafeMutableRawPointer
        let count: Int
        /// The script argument it copies (its pin is `pins[argument]`).
        let argument: Int
        /// A `buf`, or a `ptr` given bytes: the plugin may write, so copy back.
        let copyBack: Bool
    }

    let binding: ExportBinding
    let cif: UnsafeMutablePointer<ffi_cif>
    let function: @convention(c) () -> Void
    let storage: UnsafeMutableRawPointer
    let argumentPointers: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    let result: UnsafeMutableRawPointer
    /// The context `host->raise` and friends see on the pool thread.
    let context: CallContext
    /// One pin per script argument, in order.
    private(set) var pins: [UInt64] = []
    private(set) var copies: [ByteCopy] = []
    /// The plugin pointers of handle arguments (busy until `finish`).
    private(set) var handles: [UnsafeMutableRawPointer] = []
    /// The plugin version the call runs in (nil for raw FFI), bound until `finish`.
    let version: LoadedPlugin?
    /// What else must stay alive for the function pointer (raw FFI's library).
    let keepAlive: AnyObject?
    let resultKind: TypeKind
    /// Where a `bytes` result's length slot is in `storage`, in bytes.
    let lengthOffset: Int?
    /// A `str` or `bytes` result, copied on the pool thread right after the call (the
    /// plugin may reuse its buffer in its next call, which can start before `finish`).
    private var resultCopy: UnsafeMutableRawPointer?

    /// Copies `binding`'s freshly stored arguments (VM thread, right after `storeArguments`).
    init(_ binding: ExportBinding, _ call: NativeCall) {
        self.binding = binding
        cif = binding.cif
        function = binding.function
        version = binding.owner
        keepAlive = binding.keepAlive
        resultKind = binding.resultKind
        lengthOffset = binding.resultLength.map { $0 - binding.storage }
        context = CallContext(pluginName: binding.context.pluginName, enforcer: binding.context.enforcer)
        let size = binding.slotCount * ExportBinding.slotSize
        storage = .allocate(byteCount: size, alignment: 16)
        storage.copyMemory(from: binding.storage, byteCount: size)
        let count = binding.prepared.cArgumentCount
        argumentPointers = .allocate(capacity: max(count, 1))
        for i in 0..<count { argumentPointers[i] = storage + i * ExportBinding.slotSize }
        result = .allocate(byteCount: binding.resultSize, alignment: 16)
        result.initializeMemory(as: UInt8.self, repeating: 0, count: binding.resultSize)
        for i in 0..<call.count {
            // NOTE: a VM runs out of pin ids only after 2^32 pins; then the value stays
            // unpinned but is still held by the parked fiber's registers, as before fibers.
            if let id = call.pin(call.value(i)) { pins.append(id) } else { pins.append(0) }
        }
        // Pointers into the binding's storage must point into this call's copy.
        var scriptIndex = 0
        for i in 0..<binding.plan.count {
            let p = binding.plan[i]
            if p.isOut {
                slot(p.argumentSlot).storeBytes(of: slot(p.outSlot), as: UnsafeMutableRawPointer.self)
                continue
            }
            switch p.kind {
            case .buf: privateCopy(call, scriptIndex, slot: p.argumentSlot, copyBack: true)
            case .bytes: privateCopy(call, scriptIndex, slot: p.argumentSlot, copyBack: false)
            case .ptr: privateCopy(call, scriptIndex, slot: p.argumentSlot, copyBack: true)
            case .handle:
                if let h = call.handle(scriptIndex)?.pointer { handles.append(h) }
            default: break
            }
            scriptIndex += 1
        }
        if let lengthOffset {
            slot(count - 1).storeBytes(of: storage + lengthOffset, as: UnsafeMutableRawPointer.self)
        }
    }

    deinit {
        resultCopy?.deallocate()
        for c in copies { c.data.deallocate() }
        storage.deallocate()
        argumentPointers.deallocate()
        result.deallocate()
    }

    private func slot(_ index: Int) -> UnsafeMutableRawPointer { storage + index * ExportBinding.slotSize }

    /// A bytes value argument becomes a private copy (a string, immutable, is only pinned).
    private func privateCopy(_ call: NativeCall, _ index: Int, slot index2: Int, copyBack: Bool) {
        guard let b = call.bytes(index) else { return }
        let data = UnsafeMutableRawPointer.allocate(byteCount: max(b.count, 1), alignment: 16)
        if let base = b.baseAddress, b.count > 0 { data.copyMemory(from: base, byteCount: b.count) }
        copies.append(ByteCopy(data: data, count: b.count, argument: index, copyBack: copyBack))
        slot(index2).storeBytes(of: data, as: UnsafeMutableRawPointer.self)
    }

    /// On the pool thread: the C call, with this call's context current for the host API.
    func run() {
        context.inFlight = 1
        // NOTE: unretained: `context` is this call's own, alive until `run` returns; the slot
        // is put back right after the C call.
        let previous = capsule_swap_current_call(Unmanaged.passUnretained(context).toOpaque())
        ffi_call(cif, function, result, argumentPointers)
        capsule_swap_current_call(previous)
        context.inFlight = 0
        // After a raise the result is ignored: it may be anything.
        guard context.raised == nil else { return }
        if resultKind == .str, let s = result.load(as: UnsafePointer<CChar>?.self) {
            let count = strlen(s) + 1
            let copy = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 1)
            copy.copyMemory(from: s, byteCount: count)
            resultCopy = copy
            result.storeBytes(of: copy, as: UnsafeMutableRawPointer.self)
        } else if resultKind == .bytes, let data = result.load(as: UnsafeRawPointer?.self),
                  let lengthOffset {
            let count = (storage + lengthOffset).load(as: UInt64.self)
            // Too large: left as it is; the conversion refuses it without reading it.
            guard count <= UInt64(Int32.max) else { return }
            let copy = UnsafeMutableRawPointer.allocate(byteCount: max(Int(count), 1), alignment: 1)
            copy.copyMemory(from: data, byteCount: Int(count))
            resultCopy = copy
            result.storeBytes(of: copy, as: UnsafeMutableRawPointer.self)
        }
    }

    /// On the VM's thread, once `run` returned (also when the fiber was cancelled meanwhile:
    /// then the value is dropped, but everything is released the same way).
    func finish(_ call: NativeCall) -> Value {
        let mark = call.rootCount
        defer { call.dropRoots(to: mark) }
        // Buffers the plugin may have written go back into the script's bytes, as far as
        // they still reach (another fiber may have shrunk them).
        for c in copies where c.copyBack {
            guard case .value(let v) = call.pinnedValue(pins[c.argument]) else { continue }
            call.withValues([v]) { args in
                if let target = args.bytes(0), let base = target.baseAddress {
                    UnsafeMutableRawPointer(base).copyMemory(from: c.data, byteCount: min(c.count, target.count))
                }
            }
        }
        let b = binding
        b.context.poolCalls -= 1
        for h in handles {
            if let n = b.context.busyHandles[h], n > 1 { b.context.busyHandles[h] = n - 1 } else { b.context.busyHandles[h] = nil }
        }
        // The result and what C wrote through out parameters, into the binding's slots,
        // where `convertResults` reads them (nothing else runs on this thread meanwhile).
        b.result.copyMemory(from: result, byteCount: b.resultSize)
        for i in 0..<b.plan.count where b.plan[i].isOut {
            b.slot(b.plan[i].outSlot).copyMemory(from: slot(b.plan[i].outSlot), byteCount: ExportBinding.slotSize)
        }
        if let length = b.resultLength, let lengthOffset {
            length.copyMemory(from: storage + lengthOffset, byteCount: 8)
        }
        if b.closesHandle, let first = pins.first, case .value(let h) = call.pinnedValue(first) {
            call.withValues([h]) { $0.closeHandle(0) }
        }
        let value: Value
        if let message = context.raised {
            value = b.raised(call, message)
        } else {
            b.callOwner = version
            value = b.convertResults(call)
            b.callOwner = nil
        }
        for id in pins where id != 0 { call.unpin(id) }
        // After the conversion: a handle result already holds its own reference to the version.
        if let version { version.registry?.unbind(version) }
        return value
    }
}
