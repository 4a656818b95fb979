#if canImport(Glibc)
import Glibc
#endif
import CapsuleSDK

/// The state of calls from one VM into one plugin: the plugin's name (for log lines) and the
/// message a `raise` left during the current call.
final class CallContext {
    let pluginName: String
    /// Set by the host API's raise during a call; read and cleared by the caller afterwards.
    @exclusivity(unchecked) var raised: String?
    /// NOTE: a copy of `currentKey`, so the per-call path skips the static's lazy-init check.
    private let key: pthread_key_t
    /// The values lent to the plugin during the current call of an export whose signature
    /// uses `value` (nil in other calls); see HostAPI+Values.swift.
    @exclusivity(unchecked) var values: ValueScope?
    /// Numbers value scopes, so a reference from one call is refused in another.
    @exclusivity(unchecked) var valueSerial: UInt32 = 0

    init(pluginName: String) {
        self.pluginName = pluginName
        key = CallContext.currentKey
    }

    /// The context of the call running on this thread, if any.
    static var current: CallContext? {
        pthread_getspecific(currentKey).map { Unmanaged<CallContext>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Makes this the current context and returns the previous one (for `leave`).
    @inline(__always) func enter() -> UnsafeMutableRawPointer? {
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, Unmanaged.passUnretained(self).toOpaque())
        return previous
    }

    /// Restores the context `enter` returned.
    @inline(__always) func leave(_ previous: UnsafeMutableRawPointer?) {
        pthread_setspecific(key, previous)
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

    /// NOTE: the host API's functions are plain C function pointers with no user data, so
    /// they find the call they belong to through this per-thread slot, set around each call.
    static let currentKey: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "capsule: pthread_key_create failed")
        return key
    }()
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
                let text = message.map { String(cString: $0) } ?? "(no message)"
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
                HostAPI.writeLog("[\(name)] \(levelName): \(message.map { String(cString: $0) } ?? "")")
            },
            alloc: { size in malloc(size) },
            free: { pointer in Glibc.free(pointer) },
            open_file: { path, _, _ in
                let shown = path.map { String(cString: $0) } ?? "NULL"
                HostAPI.deny("open_file('\(shown)')")
                return -1
            },
            getenv: { name in
                let shown = name.map { String(cString: $0) } ?? "NULL"
                HostAPI.deny("getenv('\(shown)')")
                return nil
            },
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
            values_release: HostValues.release
        ))
        return table
    }

    /// Fails the current call: no capability can be granted yet.
    static func deny(_ what: String) {
        guard let context = CallContext.current else { return }
        if context.raised == nil {
            context.raised = "\(what) denied: plugin \(context.pluginName) has no capability that grants it"
        }
    }

    static func writeLog(_ line: String) {
        let text = line + "\n"
        _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    }
}
