import CapsuleSyntax
#if canImport(Glibc)
import Glibc
#endif
import CapsuleSystem
import CapsuleSDK
import CCurrentCall

/// The state of calls from one VM into one plugin: the plugin's name (for log lines) and the
/// message a `raise` left during the current call.
final class CallContext {
    let pluginName: String
    /// Checks the capability-mediated host-API services against this plugin's grants in
    /// the calling VM's policy; nil denies them all.
    let enforcer: CapabilityEnforcer?
    /// Set by the host API's raise during a call; read and cleared by the caller afterwards.
    @exclusivity(unchecked) var raised: String?
    /// Set when a script callback called from C during the current call raised: the error
    /// is pending and the call must fail with it once C returns (`FFICallback`).
    @exclusivity(unchecked) var callbackFailed = false
    /// The values lent to the plugin during the current call of an export whose signature
    /// uses `value` (nil in other calls); see HostAPI+Values.swift.
    @exclusivity(unchecked) var values: ValueScope?
    /// Numbers value scopes, so a reference from one call is refused in another.
    @exclusivity(unchecked) var valueSerial: UInt32 = 0
    /// Calls of this module's blocking exports running on the pool (VM thread only): a
    /// reload of the plugin waits until there are none (ExportBinding+Blocking.swift).
    @exclusivity(unchecked) var poolCalls = 0
    /// Handle pointers that pool calls are using, with how many use each: an export that
    /// closes handles refuses them meanwhile.
    @exclusivity(unchecked) var busyHandles: [UnsafeMutableRawPointer: Int] = [:]
    /// During the C call of an export flagged CAPSULE_EXPORT_PARKS: the call `host->park`
    /// parks, what it parked, and whether parking failed having raised (HostAPI+Tokens.swift).
    @exclusivity(unchecked) var parking: ParkingCall?
    @exclusivity(unchecked) var parked: ParkedCall?
    @exclusivity(unchecked) var parkFailed = false

    init(pluginName: String, enforcer: CapabilityEnforcer? = nil) {
        self.pluginName = pluginName
        self.enforcer = enforcer
    }

    /// The context of the call running on this thread, if any.
    static var current: CallContext? {
        capsule_current_call().map { Unmanaged<CallContext>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Calls through this context still running (nested when C calls back into the script,
    /// which calls the plugin again). One VM's thread only, so a plain counter.
    @exclusivity(unchecked) var inFlight = 0
    /// Run once `inFlight` drops back to 0, then cleared: a hot reload during a call parks
    /// the old version's binding here so its code stays loaded until the call returns.
    @exclusivity(unchecked) var whenIdle: (() -> Void)?

    /// Makes this the current context and returns the previous one (for `leave`).
    @inline(__always) func enter() -> UnsafeMutableRawPointer? {
        inFlight &+= 1
        return capsule_swap_current_call(Unmanaged.passUnretained(self).toOpaque())
    }

    /// Restores the context `enter` returned.
    @inline(__always) func leave(_ previous: UnsafeMutableRawPointer?) {
        capsule_swap_current_call(previous)
        inFlight &-= 1
    }

    /// Runs `whenIdle` if no call is in flight any more. The general call paths call it when
    /// the call is completely done (results converted, so a handle result already holds its
    /// version); the typed fast paths do not (their C functions cannot call script code the
    /// usual way, so a reload during one is pathological: C calling a kept `ffi.callback` it
    /// got as an int). A version parked then is released at the next general call's end, the
    /// next reload or the VM's end: later than it could be, never earlier.
    @inline(__always) func settle() {
        if _slowPath(whenIdle != nil) && inFlight == 0 { becameIdle() }
    }

    @inline(never) func becameIdle() {
        let action = whenIdle
        whenIdle = nil
        action?()
    }

    /// Calls a script function for C during the current call (a `callback<…>` parameter or
    /// `host->call_value`): its result, or nil when it raised, or when an earlier one in this
    /// call did. Its error stays pending and the call fails with it once C returns; until then
    /// nothing more runs.
    func callScript(_ call: NativeCall, _ function: Value, _ arguments: [Value]) -> Value? {
        if callbackFailed { return nil }
        guard let result = call.callValue(function, arguments) else {
            callbackFailed = true
            return nil
        }
        return result
    }

    /// Runs `body` with this context current, and returns its result and any raised message.
    func run<T>(_ body: () -> T) -> (T, String?) {
        let previous = enter()
        let result = body()
        leave(previous)
        let message = raised
        raised = nil
        return (result, message)
    }

    // NOTE: the host API's functions are plain C function pointers with no user data, so
    // they find the call they belong to through a per-thread slot (CCurrentCall), set around
    // each call.
}

/// The `capsule_host_api` table given to a plugin's init. Its functions work on the current
/// call (`CallContext.current`).
enum HostAPI {
    /// A new table; the caller keeps it for as long as the library stays open.
    static func makeTable() -> UnsafeMutablePointer<capsule_host_api> {
        let table = UnsafeMutablePointer<capsule_host_api>.allocate(capacity: 1)
        table.initialize(to: capsule_host_api(
            abi_version: UInt32(CAPSULE_ABI_VERSION),
            size: UInt32(MemoryLayout<capsule_host_api>.size),
            raise: { message in
                // Outside text: a terminal-safe line (docs/security.md, "Text from outside").
                let text = message.map { TerminalText.safe(String(cString: $0)) } ?? "(no message)"
                if let context = CallContext.current {
                    if context.raised == nil { context.raised = text }
                } else {
                    HostAPI.writeLog("plugin raised an error outside a call: \(text)")
                }
                return 0
            },
            log: { level, message in
                let levels = ["debug", "info", "warn", "error"]
                let name = CallContext.current?.pluginName ?? "plugin"
                let levelName = (0..<4).contains(Int(level)) ? levels[Int(level)] : "log"
                HostAPI.writeLog("[\(name)] \(levelName): \(message.map { TerminalText.safe(String(cString: $0)) } ?? "")")
            },
            alloc: { size in malloc(size) },
            free: { pointer in Glibc.free(pointer) },
            open_file: { path, flags, mode in HostAPI.openFile(path, flags, mode) },
            getenv: { name in HostAPI.getEnvironment(name) },
            value_kind: HostValues.kind,
            value_type_name: HostValues.typeName,
            value_bool: HostValues.bool,
            value_int: HostValues.int,
            value_float: HostValues.float,
            value_string: HostValues.string,
            value_bytes: HostValues.bytes,
            value_length: HostValues.length,
            list_get: HostValues.listGet,
            map_next: HostValues.mapNext,
            map_get: HostValues.mapGet,
            new_nil: HostValues.newNil,
            new_bool: HostValues.newBool,
            new_int: HostValues.newInt,
            new_float: HostValues.newFloat,
            new_string: HostValues.newString,
            new_bytes: HostValues.newBytes,
            new_list: HostValues.newList,
            list_push: HostValues.listPush,
            new_map: HostValues.newMap,
            map_set: HostValues.mapSet,
            values_mark: HostValues.mark,
            values_release: HostValues.release,
            run_program: HostServices.run,
            connect_tcp: HostServices.connect,
            call_failed: {
                guard let context = CallContext.current else { return 0 }
                return context.callbackFailed || context.raised != nil || context.parkFailed ? 1 : 0
            },
            value_pin: HostValues.pin,
            pinned_value: HostValues.pinned,
            value_unpin: HostValues.unpin,
            call_value: HostValues.callValue,
            check_capability: { capability, flags in HostAPI.checkCapability(capability, flags) },
            park: HostTokens.park,
            complete_nil: HostTokens.completeNil,
            complete_int: HostTokens.completeInt,
            complete_float: HostTokens.completeFloat,
            complete_str: HostTokens.completeString,
            complete_bytes: HostTokens.completeBytes,
            complete_error: HostTokens.completeError
        ))
        return table
    }

    /// Makes the current call fail with `message` (the first message wins).
    static func fail(_ message: String) {
        guard let context = CallContext.current else {
            writeLog("host API used outside a call: \(message)")
            return
        }
        if context.raised == nil { context.raised = message }
    }

    /// `host->open_file`: opens `path` confined to the calling plugin's `fs.read` (read
    /// access) and `fs.write` (write access, O_CREAT, O_TRUNC, O_APPEND) grants, exactly as
    /// the `fs` module does for scripts; an open needing both (O_RDWR) is confined beneath
    /// both grants (`CapabilityEnforcer.open`). Returns the fd (the plugin owns it) or -1.
    static func openFile(_ path: UnsafePointer<CChar>?, _ flags: Int32, _ mode: Int32) -> Int32 {
        guard let context = CallContext.current, let enforcer = context.enforcer else {
            fail("open_file denied: no capability policy applies to this call")
            return -1
        }
        guard let path else { fail("open_file: path is NULL"); return -1 }
        let who = Principal.plugin(context.pluginName)
        let access = flags & O_ACCMODE
        let writes = access != O_RDONLY || flags & (O_CREAT | O_TRUNC | O_APPEND) != 0
        var kinds: [Capability.Kind] = []
        if access != O_WRONLY { kinds.append(.fsRead) }
        if writes { kinds.append(.fsWrite) }
        let length = strlen(path)
        let checked = path.withMemoryRebound(to: UInt8.self, capacity: length) {
            enforcer.path(UnsafeBufferPointer(start: $0, count: length), kind: kinds[0], by: who)
        }
        let absolute: String
        switch checked {
        case .failure(let d): fail(d.message); return -1
        case .success(let p): absolute = p
        }
        // Only the flags that make sense for a file; O_DIRECTORY, O_PATH, O_NOFOLLOW… are dropped.
        let allowed = O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND
        switch enforcer.open(absolute, kinds: kinds, flags: flags & allowed, mode: mode_t(mode & 0o777), by: who) {
        case .success(let fd): return fd
        case .failure(let e): fail(e.message(operation: "open_file", path: absolute)); return -1
        }
    }

    /// `host->check_capability`: whether the calling plugin is granted `text` (a capability
    /// as written in a grant; fs paths resolved as the fs module resolves them for advice),
    /// recorded in the audit log; with CAPSULE_CHECK_RAISE, a denial fails the call with the
    /// message naming `--allow-plugin`. 1 granted, 0 not, -1 after failing the call.
    static func checkCapability(_ text: UnsafePointer<CChar>?, _ flags: Int32) -> Int32 {
        guard let context = CallContext.current, let enforcer = context.enforcer else {
            fail("check_capability denied: no capability policy applies to this call")
            return -1
        }
        guard let text else { fail("check_capability: capability is NULL"); return -1 }
        let length = strlen(text)
        let bytes = UnsafeRawBufferPointer(start: text, count: length)
        guard let written = String(validating: bytes.bindMemory(to: UInt8.self), as: UTF8.self) else {
            fail("check_capability: the capability is not valid UTF-8")
            return -1
        }
        var request: Capability
        switch Capability.parse(written, baseDirectory: enforcer.workingDirectory) {
        case .failure(let e): fail("check_capability: '\(Capability.sanitized(written))': \(e.message)"); return -1
        case .success(let c): request = c
        }
        if request.kind.isFileSystem, let path = request.resource {
            request = Capability(request.kind, enforcer.resolved(path, followingLast: true))
        }
        switch enforcer.check(request, by: .plugin(context.pluginName)) {
        case .success: return 1
        case .failure(let denial):
            if flags & Int32(CAPSULE_CHECK_RAISE) != 0 { fail(denial.message) }
            return 0
        }
    }

    /// `host->getenv`: the variable's value if the calling plugin has `env:NAME`, NULL
    /// (and the call fails) when denied, NULL when unset.
    static func getEnvironment(_ name: UnsafePointer<CChar>?) -> UnsafePointer<CChar>? {
        guard let context = CallContext.current, let enforcer = context.enforcer else {
            fail("getenv denied: no capability policy applies to this call")
            return nil
        }
        guard let name else { fail("getenv: name is NULL"); return nil }
        let text = String(cString: name)
        if case .failure(let d) = enforcer.check(Capability(.env, text), by: .plugin(context.pluginName)) {
            fail(d.message)
            return nil
        }
        return UnsafePointer(Glibc.getenv(name))
    }

    /// Writes one line to standard error, made terminal-safe (it holds plugin text).
    static func writeLog(_ line: String) {
        let text = TerminalText.safe(line) + "\n"
        _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    }
}
