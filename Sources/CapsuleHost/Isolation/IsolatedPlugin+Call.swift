#if canImport(Glibc)
import Glibc
#endif
import CapsuleIsolation
import CapsuleSyntax

/// Calls into an isolated plugin: the arguments are checked and converted by the export's
/// `ExportBinding` exactly as in-process, then marshalled into the shared memory: scalars as
/// their C bytes, str/bytes/buf copied into the data area, handles as the worker's ids. The
/// results come back the same way and are converted by the binding again.
extension IsolatedPlugin {
    /// Records in the audit log a denial the worker's `check_capability` raised
    /// (`plugin:NAME: denied: fs.read /abs/path (grant with --allow-plugin=…`), as this
    /// plugin's denied use, so `capsule policy suggest` sees an isolated plugin's refusals
    /// (the worker has no log of its own).
    // NOTE: the text comes from the worker, where the plugin's code runs, so a plugin can
    // write such a line itself; it can only add a denial, by this plugin, of one absolute
    // path: at worst `policy suggest` then proposes that path for this plugin, and a
    // suggestion is reviewed before it is kept (it grants what was asked for).
    func recordReportedDenial(_ message: String) {
        guard let audit = enforcer.audit else { return }
        let prefix = "plugin:\(name): denied: "
        guard message.hasPrefix(prefix) else { return }
        let rest = message.dropFirst(prefix.count)
        for kind in [Capability.Kind.fsRead, .fsWrite] {
            let head = kind.rawValue + " /"
            guard rest.hasPrefix(head), let end = rest.firstRange(of: " (grant with --allow-plugin=") else { continue }
            let path = String(rest[rest.index(rest.startIndex, offsetBy: kind.rawValue.count + 1)..<end.lowerBound])
            audit.record(Capability(kind, path), by: .plugin(name), allowed: false)
            return
        }
    }

    /// The module scripts see: the same functions as the in-process bridge would bind.
    func moduleDefinition() -> NativeModuleDefinition {
        NativeModuleDefinition(name: name, functions: bindings.enumerated().map { index, binding in
            NativeFunctionDefinition(name: binding.export.name, arity: binding.scriptArity) { [self] call in
                if binding.export.signature.needsGeneralPath { return Self.inProcessOnly(binding, call) }
                return invoke(binding, index: index, call)
            }
        })
    }

    /// The call of an export whose signature has structs, callbacks, `...` or `!errno`:
    /// those cross only the in-process bridge.
    @inline(never)
    static func inProcessOnly(_ binding: ExportBinding, _ call: NativeCall) -> Value {
        let module = binding.qualifiedName.prefix { $0 != "." }
        return call.raise("\(binding.qualifiedName): its signature \(binding.export.signature) cannot run isolated (structs, callbacks, variadics and errno capture are in-process only; trust the plugin to run it in-process: --trust=\(module))")
    }

    static let argsOffset = MemoryLayout<capsule_iso_shared>.offset(of: \.args)!
    static let outsOffset = MemoryLayout<capsule_iso_shared>.offset(of: \.outs)!
    static let destroysOffset = MemoryLayout<capsule_iso_shared>.offset(of: \.destroys)!
    static let slotSize = MemoryLayout<capsule_iso_slot>.stride

    /// A call of export `index`. From a fiber that can park, with a blocking pool, the wait
    /// for the worker runs on a pool thread and the fiber parks meanwhile (other fibers run);
    /// a fiber calling while another's call is in flight parks until the worker is free.
    /// Elsewhere the VM's thread waits, as before fibers.
    func invoke(_ b: ExportBinding, index: Int, _ call: NativeCall) -> Value {
        if let blockingPool, call.canPark {
            if let r = call.takeResumption(), r.value != NativeCall.retry { return r.value }
            if busy {
                // Another fiber's call is in flight: wait for the worker, then run again.
                guard let token = call.parkForCompletion(label: "\(b.qualifiedName) (waiting for plugin \(name)'s worker)") else {
                    return NativeCall.failure
                }
                workerWaiters.append(token)
                return NativeCall.failure
            }
            return invokeOnPool(b, index: index, call, blockingPool)
        }
        if busy {
            return call.raise("\(b.qualifiedName): another fiber's call into isolated plugin \(name) is still running, and this call cannot wait for it here (inside a callback from native code)", kind: .plugin)
        }
        // `value` results are lent into a scope, as in-process, so the binding converts them.
        let enclosingValues = b.usesValues ? context.openValues(call) : nil
        defer { if b.usesValues { context.closeValues(restoring: enclosingValues) } }
        let request: Request
        switch marshal(b, index: index, call) {
        case .failure(let failed): return failed.value
        case .success(let r): request = r
        }
        busy = true
        defer { busy = false }
        request.worker.send()
        let failure = request.worker.wait(deadline: settings.callDeadline)
        return respond(b, call, request, failure)
    }

    /// The pool path: marshal on the VM's thread, send and wait on a pool thread, read the
    /// response on the VM's thread when the completion arrives.
    private func invokeOnPool(_ b: ExportBinding, index: Int, _ call: NativeCall, _ pool: BlockingPool) -> Value {
        let enclosingValues = b.usesValues ? context.openValues(call) : nil
        defer { if b.usesValues { context.closeValues(restoring: enclosingValues) } }
        let request: Request
        switch marshal(b, index: index, call) {
        case .failure(let failed): return failed.value
        case .success(let r): request = r
        }
        guard let token = call.parkForCompletion(label: "\(b.qualifiedName) (isolated, waiting on a pool thread)") else {
            return NativeCall.failure
        }
        // Kept alive until the response is read: the arguments (a buf is copied back into
        // its bytes, a closing handle closed) and the values `value` arguments passed opaque.
        var pins: [UInt64] = []
        for v in (0..<call.count).map(call.value) + request.opaque {
            if let id = call.pin(v) { pins.append(id) }
        }
        busy = true
        let exchange = WorkerExchange(plugin: self, binding: b, request: request, pins: pins, argumentCount: call.count,
                                      deadline: settings.callDeadline)
        let work: @Sendable () -> Void = {
            exchange.run()
            token.complete { call in exchange.finish(call) }
        }
        if !pool.submit(label: b.qualifiedName + " (isolated)", work) { work() }
        return NativeCall.failure
    }

    /// On the VM's thread once a pooled exchange ended: the response becomes the call's
    /// value (dropped if the fiber was cancelled meanwhile), the worker is free again and
    /// every fiber waiting for it runs its call again.
    fileprivate func finishPooled(_ b: ExportBinding, _ call: NativeCall, _ request: Request, _ failure: WorkerProcess.Failure?,
                                  pins: [UInt64], argumentCount: Int) -> Value {
        var arguments: [Value] = []
        for id in pins.prefix(argumentCount) {
            if case .value(let v) = call.pinnedValue(id) { arguments.append(v) }
        }
        let mark = call.rootCount
        let enclosingValues = b.usesValues ? context.openValues(call) : nil
        var value: Value = .nil
        if arguments.count == argumentCount {
            value = call.withValues(arguments) { respond(b, $0, request, failure) }
        } else {
            value = call.raise("\(b.qualifiedName): an argument could not be kept during the call", kind: .plugin)
        }
        if b.usesValues { context.closeValues(restoring: enclosingValues) }
        call.dropRoots(to: mark)
        for id in pins { call.unpin(id) }
        busy = false
        let waiting = workerWaiters
        workerWaiters.removeAll()
        for token in waiting { token.complete { _ in NativeCall.retry } }
        return value
    }

    /// A request written into the shared memory, ready to send.
    struct Request {
        let worker: WorkerProcess
        /// Where the response payload starts (after the arguments' data).
        let used: Int
        /// Values `value` arguments passed through opaque (decoding a value result needs them).
        let opaque: [Value]
    }

    /// A failed call's value (after raising), as an Error for `Result`.
    struct Failed: Error {
        let value: Value
    }

    /// Checks and converts the arguments, starts the worker if it is not running, and writes
    /// the request into the shared memory (VM thread, worker not busy).
    private func marshal(_ b: ExportBinding, index: Int, _ call: NativeCall) -> Result<Request, Failed> {
        if let failure = b.storeArguments(call) { return .failure(Failed(value: failure)) }
        if worker == nil, let error = restart() {
            return .failure(Failed(value: call.raise("\(b.qualifiedName): \(error.message)", kind: .plugin)))
        }
        guard let w = worker else { return .failure(Failed(value: call.raise("\(b.qualifiedName): no worker", kind: .plugin))) }
        let base = UnsafeMutableRawPointer(w.shared)
        let args = base + Self.argsOffset

        // Arguments.
        var used = 0
        var scriptIndex = 0
        var opaque: [Value] = []
        for i in 0..<b.plan.count {
            let p = b.plan[i]
            if p.isOut { continue }
            defer { scriptIndex += 1 }
            let from = b.slot(p.argumentSlot), to = args + p.argumentSlot * Self.slotSize
            switch p.kind {
            case .str, .bytes, .buf:
                let pointer = from.load(as: UnsafeRawPointer?.self)
                let count = p.kind == .str ? (pointer.map { strlen($0.assumingMemoryBound(to: CChar.self)) } ?? 0)
                                           : Int(b.slot(p.argumentSlot + 1).load(as: UInt64.self))
                let need = count + (p.kind == .str ? 1 : 0)
                guard need <= w.dataSize - used else {
                    return .failure(Failed(value: b.argumentError(call, scriptIndex, "a \(p.kind.name) of \(count) bytes does not fit in the isolation buffer (\(w.dataSize - used) bytes left of \(w.dataSize); raise IsolationSettings.bufferSize)")))
                }
                if count > 0, let pointer { (w.data + used).copyMemory(from: pointer, byteCount: count) }
                if p.kind == .str { (w.data + used + count).storeBytes(of: 0, as: UInt8.self) }
                to.storeBytes(of: UInt64(used), as: UInt64.self)
                (to + 8).storeBytes(of: UInt64(count), as: UInt64.self)
                used = (used + need + 15) & ~15
            case .value:
                let room = UnsafeMutableRawBufferPointer(start: w.data + used, count: w.dataSize - used)
                switch Self.encode(call, call.value(scriptIndex), into: room, opaque: &opaque) {
                case .failure(let e): return .failure(Failed(value: b.argumentError(call, scriptIndex, e.message)))
                case .success(let n):
                    to.storeBytes(of: UInt64(used), as: UInt64.self)
                    (to + 8).storeBytes(of: UInt64(n), as: UInt64.self)
                    used = (used + n + 15) & ~15
                }
            case .handle:
                let proxy = Unmanaged<HandleProxy>.fromOpaque(from.load(as: UnsafeRawPointer.self)).takeUnretainedValue()
                guard proxy.generation == generation else {
                    if proxy.generation < reloadedGeneration {
                        return .failure(Failed(value: b.argumentError(call, scriptIndex, "handle<\(b.handleNames[i])> was made by an earlier version of the plugin, which has been replaced by \(manifest.version) (handles do not cross a reload)")))
                    }
                    return .failure(Failed(value: b.argumentError(call, scriptIndex, "handle belongs to a worker that was restarted (plugin \(name)'s worker died; its handles died with it)")))
                }
                to.storeBytes(of: proxy.id, as: UInt64.self)
            default:
                to.copyMemory(from: from, byteCount: Self.slotSize)
            }
        }
        w.shared.pointee.op = UInt32(CAPSULE_ISO_OP_CALL)
        w.shared.pointee.export_index = UInt32(exportIndices[index])
        w.shared.pointee.response_offset = UInt32(used)
        takeDestroys(w)
        return .success(Request(worker: w, used: used, opaque: opaque))
    }

    /// Reads the response to `request` (VM thread): `failure` is what the wait for it gave.
    /// `call` has the call's arguments.
    private func respond(_ b: ExportBinding, _ call: NativeCall, _ request: Request, _ failure: WorkerProcess.Failure?) -> Value {
        let w = request.worker, used = request.used, opaque = request.opaque
        let base = UnsafeMutableRawPointer(w.shared)
        let args = base + Self.argsOffset
        call.afterBlocking()
        if let failure {
            worker = nil
            if case .vmDeadline = failure { return call.raiseTimeout() }
            return call.raise(Self.describe(failure, plugin: name, during: b.export.name), kind: .plugin)
        }

        // The response: each field read once.
        let status = w.shared.pointee.status
        // NOTE: the payload starts where this host said (`used`), not where shared memory says now.
        let responseStart = used
        guard let payloadLength = w.checkedPayloadLength(start: responseStart) else { return brokeProtocol(call, b, "a payload outside the shared buffer") }
        switch status {
        case UInt32(CAPSULE_ISO_OK), UInt32(CAPSULE_ISO_RAISED):
            // buf arguments: the plugin may have written into them; copy back into the script's
            // bytes (found again: after a pooled wait, a script may have resized them).
            var scriptIndex = 0
            for i in 0..<b.plan.count where !b.plan[i].isOut {
                defer { scriptIndex += 1 }
                guard b.plan[i].kind == .buf else { continue }
                let s = b.plan[i].argumentSlot
                let count = Int(b.slot(s + 1).load(as: UInt64.self))
                let offset = Int((args + s * Self.slotSize).load(as: UInt64.self))
                if count > 0, offset <= w.dataSize - count, let target = call.bytes(scriptIndex), let start = target.baseAddress {
                    UnsafeMutableRawPointer(start).copyMemory(from: w.data + offset, byteCount: min(count, target.count))
                }
            }
            if b.closesHandle, let p = b.slot(b.plan[0].argumentSlot).load(as: UnsafeRawPointer?.self) {
                Unmanaged<HandleProxy>.fromOpaque(p).takeUnretainedValue().destroyedInWorker = true
                call.closeHandle(0)
            }
            if status == UInt32(CAPSULE_ISO_RAISED) {
                let message = text(w, at: responseStart, length: payloadLength)
                recordReportedDenial(message)
                return b.raised(call, message)
            }
        case UInt32(CAPSULE_ISO_FAILED):
            return b.raised(call, text(w, at: responseStart, length: payloadLength))
        default:
            return brokeProtocol(call, b, "status \(status)")
        }

        // Results.
        let result = w.shared.pointee.result
        switch b.resultKind {
        case .str, .bytes:
            if result.a == 0 && result.b == UInt64.max {
                b.result.storeBytes(of: nil, as: UnsafeRawPointer?.self)
            } else {
                guard result.a >= UInt64(responseStart), result.b <= UInt64(payloadLength),
                      result.a - UInt64(responseStart) <= UInt64(payloadLength) - result.b else {
                    return brokeProtocol(call, b, "a result outside its payload")
                }
                let count = Int(result.b)
                // Checked before the host copies it: the result becomes a script value.
                if let oom = call.heapShortfall(count) { return b.raised(call, "\(oom): the \(b.resultKind == .str ? "str" : "bytes") result has \(count) bytes") }
                let copy = scratchBuffer(count + 1)
                copy.copyMemory(from: w.data + Int(result.a), byteCount: count)
                (copy + count).storeBytes(of: 0, as: UInt8.self)
                b.result.storeBytes(of: UnsafeRawPointer(copy), as: UnsafeRawPointer?.self)
                b.resultLength?.storeBytes(of: UInt64(count), as: UInt64.self)
            }
        case .value:
            if result.a == 0 {
                b.result.storeBytes(of: 0, as: UInt64.self)
            } else {
                // NOTE: decoded from a private copy: a plugin thread may still write the shared one.
                if let oom = call.heapShortfall(payloadLength) { return b.raised(call, "\(oom): the value result has \(payloadLength) bytes") }
                let copy = scratchBuffer(payloadLength)
                copy.copyMemory(from: w.data + responseStart, byteCount: payloadLength)
                switch Self.decode(call, UnsafeRawBufferPointer(start: copy, count: payloadLength), opaque: opaque) {
                case .failure(let e): return brokeProtocol(call, b, "a malformed value result: \(e.message)")
                case .success(let v): b.result.storeBytes(of: context.reference(to: v), as: UInt64.self)
                }
            }
        case .handle:
            if result.a == 0 {
                b.result.storeBytes(of: nil, as: UnsafeRawPointer?.self)
            } else {
                let proxy = HandleProxy(id: result.a, generation: generation, owner: self)
                b.result.storeBytes(of: Unmanaged.passRetained(proxy).toOpaque(), as: UnsafeMutableRawPointer.self)
            }
        default:
            b.result.storeBytes(of: result, as: capsule_iso_slot.self)
        }
        if b.hasOutParameters {
            var k = 0
            for i in 0..<b.plan.count where b.plan[i].isOut {
                b.slot(b.plan[i].outSlot).copyMemory(from: base + Self.outsOffset + k * Self.slotSize, byteCount: Self.slotSize)
                k += 1
            }
        }
        return b.convertResults(call)
    }

    private func brokeProtocol(_ call: NativeCall, _ b: ExportBinding, _ reason: String) -> Value {
        worker?.terminate()
        worker = nil
        return call.raise(Self.describe(.brokeProtocol(reason), plugin: name, during: b.export.name), kind: .plugin)
    }

    /// At most CAPSULE_ISO_MESSAGE_MAX bytes of payload text (a raised message), copied out
    /// and made terminal-safe as an in-process plugin's `raise` is (`TerminalText`).
    private func text(_ w: WorkerProcess, at offset: Int, length: Int) -> String {
        let n = min(length, Int(CAPSULE_ISO_MESSAGE_MAX))
        return TerminalText.safe(bytes: UnsafeRawBufferPointer(start: w.data + offset, count: n))
    }

    /// A private buffer of at least `size` bytes for copying results out of shared memory.
    private func scratchBuffer(_ size: Int) -> UnsafeMutableRawPointer {
        if size > scratchSize {
            scratch.deallocate()
            scratchSize = max(size, scratchSize * 2)
            scratch = .allocate(byteCount: scratchSize, alignment: 16)
        }
        return scratch
    }

    // MARK: handle destruction

    /// Queues the destruction of a handle whose script value was collected (from the GC, so
    /// possibly in the middle of another call): sent with the next request, or at once when
    /// the queue is full and no call is in flight. Handles of a dead worker are dropped.
    func queueDestroy(_ proxy: HandleProxy) {
        guard proxy.generation == generation, worker != nil else { return }
        pendingDestroys.append(proxy.id)
        if pendingDestroys.count >= Int(CAPSULE_ISO_MAX_DESTROYS) && !busy { flushDestroys() }
    }

    /// Moves up to CAPSULE_ISO_MAX_DESTROYS queued ids into the request.
    private func takeDestroys(_ w: WorkerProcess) {
        let n = min(pendingDestroys.count, Int(CAPSULE_ISO_MAX_DESTROYS))
        w.shared.pointee.destroy_count = UInt32(n)
        guard n > 0 else { return }
        let to = (UnsafeMutableRawPointer(w.shared) + Self.destroysOffset).assumingMemoryBound(to: UInt64.self)
        for i in 0..<n { to[i] = pendingDestroys[i] }
        pendingDestroys.removeFirst(n)
    }

    /// Sends the queued destructions now (a DESTROY request).
    func flushDestroys() {
        guard let w = worker, !pendingDestroys.isEmpty else { return }
        busy = true
        defer { busy = false }
        w.shared.pointee.op = UInt32(CAPSULE_ISO_OP_DESTROY)
        w.shared.pointee.response_offset = 0
        takeDestroys(w)
        w.send()
        if let failure = w.wait(deadline: settings.callDeadline) {
            worker = nil
            HostAPI.writeLog(Self.describe(failure, plugin: name, during: "handle destruction"))
        }
    }
}

/// One request to an isolated plugin's worker, waited for on a pool thread.
///
/// NOTE: `@unchecked Sendable`: made on the VM's thread, handed to one pool thread (`run`:
/// send and wait, touching only `worker`), then back to the VM's thread (`finish`), each
/// hand-off through a mutex (the pool's, the completion's). While it is out, the plugin is
/// `busy`: nothing on the VM's thread touches the worker (calls wait, reloads are put off,
/// queued handle destructions are not flushed, and the plugin stays alive: this holds it).
final class WorkerExchange: @unchecked Sendable {
    let plugin: IsolatedPlugin
    let binding: ExportBinding
    let request: IsolatedPlugin.Request
    let pins: [UInt64]
    let argumentCount: Int
    let deadline: Double
    private var failure: WorkerProcess.Failure?

    init(plugin: IsolatedPlugin, binding: ExportBinding, request: IsolatedPlugin.Request, pins: [UInt64],
         argumentCount: Int, deadline: Double) {
        self.plugin = plugin
        self.binding = binding
        self.request = request
        self.pins = pins
        self.argumentCount = argumentCount
        self.deadline = deadline
    }

    /// On the pool thread: the exchange with the worker (its own deadline only: the VM's
    /// run deadline is the scheduler's, which stops waiting for this call when it passes).
    func run() {
        request.worker.send()
        failure = request.worker.wait(deadline: deadline)
    }

    /// On the VM's thread, after `run`.
    func finish(_ call: NativeCall) -> Value {
        plugin.finishPooled(binding, call, request, failure, pins: pins, argumentCount: argumentCount)
    }
}

extension WorkerProcess {
    /// The response payload's length (at `start`, where the host asked for it), checked against the data area (nil: out of bounds).
    func checkedPayloadLength(start: Int) -> Int? {
        let length = Int(shared.pointee.payload_length)
        guard start <= dataSize, length <= dataSize - start else { return nil }
        return length
    }

    /// A copy of the response payload, or nil when it lies outside the data area.
    func responsePayload(start: Int) -> [UInt8]? {
        guard let length = checkedPayloadLength(start: start) else { return nil }
        return Array(UnsafeRawBufferPointer(start: data + start, count: length))
    }
}
