#if canImport(Glibc)
import Glibc
#endif
import CapsuleCore

/// The `net` module: TCP connections and listeners as handles the GC closes when they are
/// dropped, checked against the script's `net.connect:HOST[:PORT]` and
/// `net.listen:[HOST:]PORT` grants (`--allow-net`).
///
/// ```
/// import "net"
/// let server = net.listen("127.0.0.1", 0)          // net.listen:127.0.0.1:0
/// let port = net.port(server)
/// let c = net.connect("127.0.0.1", port)           // net.connect:127.0.0.1:PORT
/// let s = net.accept(server)
/// net.write(c, "ping\n")
/// print(net.read_line(s))                          // ping
/// net.close(c)
/// ```
///
/// The grant is matched against the host *as the script wrote it* (an IPv6 address in its
/// canonical form, names lowercased), before any name is resolved: a grant of `localhost`
/// does not allow `127.0.0.1` nor the reverse (docs/security.md#net). A call that must wait
/// parks its fiber on the socket (`perform`; docs/stdlib.md#waiting-for-io), or blocks the
/// thread where the fiber cannot park; either way it waits at most the handle's timeout
/// (30 s unless `set_timeout` changes it) and never past the VM's `--timeout`.
package final class NetModule {
    static let connectionType = "net.Conn"
    static let listenerType = "net.Listener"
    let enforcer: CapabilityEnforcer
    /// Connects in progress whose fibers parked, by fiber: the call runs again when the
    /// socket is writable and takes its attempt from here (VM thread only).
    var connecting: [Int: Connecting] = [:]

    package init(enforcer: CapabilityEnforcer) { self.enforcer = enforcer }

    package func moduleDefinition() -> NativeModuleDefinition {
        NativeModuleDefinition(name: "net", functions: [
            fn("connect", -1) { m, c in m.connect(c) },
            fn("listen", 2) { m, c in m.listen(c) },
            fn("accept", 1) { m, c in m.accept(c) },
            fn("read", 2) { m, c in m.read(c) },
            fn("read_line", 1) { m, c in m.readLine(c) },
            fn("write", 2) { m, c in m.write(c) },
            fn("port", 1) { m, c in m.port(c) },
            fn("set_timeout", 2) { m, c in m.setTimeout(c) },
            fn("close", 1) { m, c in m.close(c) },
        ])
    }

    private func fn(_ name: String, _ arity: Int, _ body: @escaping (NetModule, NativeCall) -> Value) -> NativeFunctionDefinition {
        // Connects, accepts and reads wait: a reload requested meanwhile runs right after.
        NativeFunctionDefinition(name: name, arity: arity) { [unowned self] call in
            defer { call.afterBlocking() }
            return body(self, call)
        }
    }

    // MARK: arguments and grants

    /// The host argument as the grants see it: IP addresses in canonical form (IPv6 in
    /// brackets), names lowercased. Nil after raising.
    func host(_ call: NativeCall, _ function: String) -> (resolve: String, shown: String)? {
        guard let bytes = call.string(0), let text = ProcRequest.plainString(bytes) else {
            _ = call.raise("net.\(function): argument 1: expected a host (str without NUL bytes), got \(call.typeName(0))")
            return nil
        }
        switch Self.grantHost(text) {
        case .failure(let f): _ = call.raise("net.\(function): argument 1: \(f.message)"); return nil
        case .success(let h): return h
        }
    }

    /// `text` as the grants see it (`shown`) and as it is resolved, or why it is no host.
    /// Shared with the host API's `connect_tcp` for plugins.
    package static func grantHost(_ text: String) -> Result<(resolve: String, shown: String), HostFailure> {
        guard !text.isEmpty, text.utf8.count <= 253, !text.unicodeScalars.contains(where: { $0.value < 0x21 || $0 == "/" || $0.value == 0x7f }) else {
            return .failure(HostFailure("'\(Capability.sanitized(text))' is not a host name or address"))
        }
        if let v6 = canonical(text, family: AF_INET6) { return .success((v6, "[\(v6)]")) }
        if let v4 = canonical(text, family: AF_INET) { return .success((v4, v4)) }
        if text.contains(":") || text.contains("[") {
            return .failure(HostFailure("'\(Capability.sanitized(text))' is not a host name or address (write IPv6 addresses without brackets)"))
        }
        return .success((text.lowercased(), text.lowercased()))
    }

    /// `text` as inet_ntop writes it, when it is an address of `family`.
    static func canonical(_ text: String, family: Int32) -> String? {
        var address = [UInt8](repeating: 0, count: 16)
        guard inet_pton(family, text, &address) == 1 else { return nil }
        var out = [CChar](repeating: 0, count: 64)
        guard inet_ntop(family, address, &out, socklen_t(out.count)) != nil else { return nil }
        return String(cString: out)
    }

    func portArgument(_ call: NativeCall, _ function: String, allowZero: Bool) -> UInt16? {
        guard let p = call.int(1), p >= (allowZero ? 0 : 1), p <= 65535 else {
            _ = call.raise("net.\(function): argument 2: expected a port (int \(allowZero ? 0 : 1)–65535), got \(call.typeName(1))")
            return nil
        }
        return UInt16(p)
    }

    /// Raises the failure's message (or ends the run at the VM's deadline).
    func raise(_ call: NativeCall, _ what: String, _ failure: NetSocket.Failure) -> Value {
        switch failure {
        case .vmDeadline: return call.raiseTimeout()
        case .interrupted: return call.raiseInterrupt()
        case .timedOut(let s): return call.raise("\(what): timed out after \(ProcModule.seconds(s))")
        case .system(let e): return call.raise("\(what): \(String(cString: strerror(e)))")
        case .resolve(let message): return call.raise("\(what): \(message)")
        case .lineTooLong: return call.raise("\(what): a line longer than \(LimitText.bytes(NetSocket.maxLine))")
        }
    }

    private static let release: @convention(c) (UnsafeMutableRawPointer?) -> Void = { pointer in
        guard let pointer else { return }
        Unmanaged<NetSocket>.fromOpaque(pointer).release()
    }

    func handle(_ call: NativeCall, _ socket: NetSocket) -> Value {
        call.handleValue(Unmanaged.passRetained(socket).toOpaque(),
                         typeName: socket.isListener ? Self.listenerType : Self.connectionType, destructor: Self.release)
    }

    /// Argument 1 as an open socket of `type` (nil: either), or nil after raising.
    func socket(_ call: NativeCall, _ function: String, _ type: String?) -> NetSocket? {
        let expected = type.map { "handle<\($0)>" } ?? "handle<\(Self.connectionType)> or handle<\(Self.listenerType)>"
        guard let h = call.handle(0), h.typeName == Self.connectionType || h.typeName == Self.listenerType,
              type == nil || h.typeName == type else {
            _ = call.raise("net.\(function): argument 1: expected \(expected), got \(call.typeName(0))")
            return nil
        }
        guard let pointer = h.pointer else {
            _ = call.raise("net.\(function): argument 1: the \(h.typeName == Self.listenerType ? "listener" : "connection") is closed")
            return nil
        }
        return Unmanaged<NetSocket>.fromOpaque(pointer).takeUnretainedValue()
    }

    // MARK: waiting

    /// Runs a socket operation to its end: tries it without blocking, and when it must wait,
    /// parks the calling fiber on the descriptor, with a timer at the operation's deadline
    /// (other fibers run meanwhile; the call runs again once the descriptor is ready), or,
    /// where the fiber cannot park (a callback from native code), blocks the thread in
    /// `poll` as it always did. Nil when the fiber parked: return `NativeCall.failure`.
    /// `parked` is told the deadlines just before a park, to keep them for the rerun.
    func perform<T>(_ call: NativeCall, _ d: NetSocket.Deadlines, _ what: String,
                    parked: () -> Void, _ attempt: () -> NetSocket.Attempt<T>) -> Result<T, NetSocket.Failure>? {
        guard call.canPark else { return NetSocket.blocking(d, attempt) }
        switch attempt() {
        case .done(let r): return r
        case .wait(let fd, let write):
            parked()
            Self.flushBeforeWaiting()
            let at = [d.at, d.vm].compactMap { $0 }.min()
            let label = "\(what) on descriptor \(fd)"
            _ = write ? call.parkUntilWritable(fd, deadline: at, label: label) : call.parkUntilReadable(fd, deadline: at, label: label)
            return nil
        }
    }

    /// What the script printed goes out before its fiber waits on the network, as before a
    /// wait for standard input: a server's log shows while it waits for clients. (A failed
    /// write is reported where output is checked, as for every flush.)
    static func flushBeforeWaiting() { _ = StandardOutput.flush() }

    /// Why a parked operation's timer fired: the VM's deadline, or the operation's own.
    static func expired(_ d: NetSocket.Deadlines) -> NetSocket.Failure {
        if let vm = d.vm, d.at.map({ vm <= $0 }) ?? true { return .vmDeadline }
        return .timedOut(d.timeout ?? 0)
    }

    /// The deadlines (and, for a write, the bytes already sent) of the operation this call
    /// makes on `s`: on a rerun after a park, those kept when it began; on a first run, new
    /// ones from the socket's timeout.
    func resume(_ call: NativeCall, _ s: NetSocket, write: Bool, resumed: Bool) -> NetSocket.Pending {
        if resumed, let p = write ? s.pendingWrites.removeValue(forKey: call.fiberID) : s.pendingReads.removeValue(forKey: call.fiberID) {
            return p
        }
        return NetSocket.Pending(deadlines: NetSocket.Deadlines(timeout: s.timeout, vm: call.deadline))
    }

    /// Finishes a socket call: its value, the error it raises, or the park.
    func finish<T>(_ call: NativeCall, _ what: String, _ r: Result<T, NetSocket.Failure>?, _ value: (T) -> Value) -> Value {
        switch r {
        case nil: return NativeCall.failure
        case .failure(let f)?: return raise(call, what, f)
        case .success(let v)?: return value(v)
        }
    }

    // MARK: functions

    /// `connect(host, port)` or `connect(host, port, timeout)`.
    func connect(_ call: NativeCall) -> Value {
        let resumed = call.takeResumption()
        guard call.count == 2 || call.count == 3 else {
            return call.raise("net.connect: expected 2 or 3 arguments (host, port, timeout), got \(call.count)")
        }
        guard let host = host(call, "connect"), let port = portArgument(call, "connect", allowZero: false) else { return NativeCall.failure }
        var timeout: Double? = NetSocket.defaultTimeout
        if call.count == 3 && !call.isNil(2) {
            guard let t = call.double(2), t > 0, t <= 1e7 else {
                return call.raise("net.connect: argument 3: expected a timeout in seconds > 0, got \(call.typeName(2))")
            }
            timeout = t
        }
        let target = "\(host.shown):\(port)"
        let what = "net.connect: \(Capability.sanitized(target))"
        var attempt: Connecting
        if resumed != nil, let c = connecting.removeValue(forKey: call.fiberID) {
            attempt = c
            if resumed?.timedOut == true { return raise(call, what, Self.expired(c.deadlines)) }
        } else {
            if case .failure(let d) = enforcer.check(Capability(.netConnect, target), by: .script) { return call.raise(d.message) }
            guard call.canPark else {
                switch NetSocket.connect(host: host.resolve, port: port, timeout: timeout, vm: call.deadline) {
                case .failure(let f): return raise(call, what, f)
                case .success(let s): return handle(call, s)
                }
            }
            switch Connecting.start(host: host.resolve, port: port, deadlines: NetSocket.Deadlines(timeout: timeout, vm: call.deadline)) {
            case .failure(let f): return raise(call, what, f)
            case .success(let c): attempt = c
            }
        }
        switch attempt.step() {
        case .done(.failure(let f)): return raise(call, what, f)
        case .done(.success(let s)): return handle(call, s)
        case .wait(let fd, _):
            let id = call.fiberID
            // Connects left by fibers that were cancelled or closed out of their wait.
            for (other, _) in connecting where other != id && !call.fiberIsLive(other) { connecting.removeValue(forKey: other) }
            connecting[id] = attempt
            Self.flushBeforeWaiting()
            let d = attempt.deadlines
            return call.parkUntilWritable(fd, deadline: [d.at, d.vm].compactMap { $0 }.min(), label: "\(what) on descriptor \(fd)")
        }
    }

    /// `listen(host, port)`: port 0 picks a free port (`net.port` tells which); the grant
    /// must then cover port 0.
    func listen(_ call: NativeCall) -> Value {
        guard let host = host(call, "listen"), let port = portArgument(call, "listen", allowZero: true) else { return NativeCall.failure }
        let target = "\(host.shown):\(port)"
        if case .failure(let d) = enforcer.check(Capability(.netListen, target), by: .script) { return call.raise(d.message) }
        switch NetSocket.listen(host: host.resolve, port: port) {
        case .failure(let f): return raise(call, "net.listen: \(Capability.sanitized(target))", f)
        case .success(let s): return handle(call, s)
        }
    }

    func accept(_ call: NativeCall) -> Value {
        let resumed = call.takeResumption()
        guard let listener = socket(call, "accept", Self.listenerType) else { return NativeCall.failure }
        let p = resume(call, listener, write: false, resumed: resumed != nil)
        if resumed?.timedOut == true { return raise(call, "net.accept", Self.expired(p.deadlines)) }
        let r = perform(call, p.deadlines, "net.accept", parked: { listener.pendingReads[call.fiberID] = p }) { listener.tryAccept() }
        return finish(call, "net.accept", r) { handle(call, $0) }
    }

    /// `read(conn, n)`: up to n bytes as bytes, as soon as some arrive; empty at the end.
    func read(_ call: NativeCall) -> Value {
        let resumed = call.takeResumption()
        guard let s = socket(call, "read", Self.connectionType) else { return NativeCall.failure }
        guard let n = call.int(1), n > 0, n <= 1 << 30 else {
            return call.raise("net.read: argument 2: expected a positive int (at most 2^30), got \(call.typeName(1))")
        }
        let p = resume(call, s, write: false, resumed: resumed != nil)
        if resumed?.timedOut == true { return raise(call, "net.read", Self.expired(p.deadlines)) }
        let r = perform(call, p.deadlines, "net.read", parked: { s.pendingReads[call.fiberID] = p }) { s.tryRead(Int(n)) }
        return finish(call, "net.read", r) { data in data.withUnsafeBufferPointer { call.bytesValue($0) } }
    }

    /// `read_line(conn)`: the next line as a str (invalid UTF-8 replaced), nil at the end.
    /// The timeout bounds the whole line.
    func readLine(_ call: NativeCall) -> Value {
        let resumed = call.takeResumption()
        guard let s = socket(call, "read_line", Self.connectionType) else { return NativeCall.failure }
        let p = resume(call, s, write: false, resumed: resumed != nil)
        if resumed?.timedOut == true { return raise(call, "net.read_line", Self.expired(p.deadlines)) }
        let r = perform(call, p.deadlines, "net.read_line", parked: { s.pendingReads[call.fiberID] = p }) { s.tryReadLine() }
        return finish(call, "net.read_line", r) { line in
            line.map { call.stringValue(String(decoding: $0, as: UTF8.self)) } ?? call.nilValue
        }
    }

    /// `write(conn, data)`: all of a str or bytes; returns the count. A fiber that parks
    /// half-way goes on where it stopped when it runs again.
    func write(_ call: NativeCall) -> Value {
        let resumed = call.takeResumption()
        guard let s = socket(call, "write", Self.connectionType) else { return NativeCall.failure }
        let data: UnsafeBufferPointer<UInt8>
        if let str = call.string(1) { data = str }
        else if let b = call.bytes(1) { data = UnsafeBufferPointer(b) }
        else { return call.raise("net.write: argument 2: expected str or bytes, got \(call.typeName(1))") }
        if data.isEmpty { return call.intValue(0) }
        var p = resume(call, s, write: true, resumed: resumed != nil)
        if resumed?.timedOut == true { return raise(call, "net.write", Self.expired(p.deadlines)) }
        // Another fiber may have shrunk a bytes argument while this one waited.
        p.offset = min(p.offset, data.count)
        let r = perform(call, p.deadlines, "net.write", parked: { s.pendingWrites[call.fiberID] = p }) { s.tryWrite(data, from: &p.offset) }
        return finish(call, "net.write", r) { call.intValue(Int64($0)) }
    }

    func port(_ call: NativeCall) -> Value {
        guard let s = socket(call, "port", nil) else { return NativeCall.failure }
        guard let p = s.localPort() else { return call.raise("net.port: \(String(cString: strerror(errno)))") }
        return call.intValue(Int64(p))
    }

    /// `set_timeout(handle, seconds or nil)`: nil waits without limit (the VM's `--timeout`
    /// still applies).
    func setTimeout(_ call: NativeCall) -> Value {
        guard let s = socket(call, "set_timeout", nil) else { return NativeCall.failure }
        if call.isNil(1) { s.timeout = nil; return call.nilValue }
        guard let t = call.double(1), t > 0, t <= 1e7 else {
            return call.raise("net.set_timeout: argument 2: expected seconds > 0 or nil, got \(call.typeName(1))")
        }
        s.timeout = t
        return call.nilValue
    }

    func close(_ call: NativeCall) -> Value {
        guard let h = call.handle(0), h.typeName == Self.connectionType || h.typeName == Self.listenerType else {
            return call.raise("net.close: argument 1: expected handle<\(Self.connectionType)> or handle<\(Self.listenerType)>, got \(call.typeName(0))")
        }
        // A fiber parked on this socket wakes with an error instead of waiting on a closed
        // (or reused) descriptor.
        if let pointer = h.pointer {
            // NOTE: the type name was checked above: only this module makes handles of it,
            // each around a retained NetSocket (as `socket` relies on too).
            let fd = Unmanaged<NetSocket>.fromOpaque(pointer).takeUnretainedValue().fd
            if fd >= 0 { call.descriptorClosing(fd) }
        }
        call.closeHandle(0)
        return call.nilValue
    }
}
