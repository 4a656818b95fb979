#if canImport(Glibc)
import Glibc
#endif
import CapsuleSystem
import CapsuleCore

/// The host API's `run_program` and `connect_tcp`: the `proc` and `net` modules' services
/// for plugins, checked against the calling plugin's own grants (capsule.h).
enum HostServices {
    /// Each call's limit when the plugin passes 0 (or less).
    static let defaultTimeoutMilliseconds = 30_000

    /// The calling plugin and its enforcer, or nil after failing the call.
    private static func caller(_ service: String) -> (Principal, CapabilityEnforcer)? {
        guard let context = CallContext.current, let enforcer = context.enforcer else {
            HostAPI.fail("\(service) denied: no capability policy applies to this call")
            return nil
        }
        return (.plugin(context.pluginName), enforcer)
    }

    private static func deadline(_ timeoutMilliseconds: Int32) -> (at: Int, seconds: Double) {
        let ms = timeoutMilliseconds > 0 ? Int(timeoutMilliseconds) : defaultTimeoutMilliseconds
        return (MonotonicClock.now() &+ ms &* 1_000_000, Double(ms) / 1000)
    }

    /// A NULL-terminated array of C strings (nil: none), at most `limit` of them.
    private static func strings(_ list: UnsafePointer<UnsafePointer<CChar>?>?, count: Int? = nil) -> [String]? {
        guard let list else { return [] }
        var result: [String] = []
        var i = 0
        while count.map({ i < $0 }) ?? true {
            guard let p = list[i] else {
                if count == nil { break }
                return nil  // a NULL among the counted arguments
            }
            result.append(String(cString: p))
            i += 1
        }
        return result
    }

    /// A copy of `data` in host->alloc memory, NUL-terminated.
    private static func allocated(_ data: [UInt8]) -> UnsafeMutablePointer<CChar>? {
        guard let p = malloc(data.count + 1)?.assumingMemoryBound(to: UInt8.self) else { return nil }
        data.withUnsafeBufferPointer { if let b = $0.baseAddress { p.update(from: b, count: data.count) } }
        p[data.count] = 0
        return UnsafeMutableRawPointer(p).assumingMemoryBound(to: CChar.self)
    }

    static let run: @convention(c) (UnsafePointer<CChar>?, UnsafePointer<UnsafePointer<CChar>?>?, Int, UnsafePointer<UnsafePointer<CChar>?>?, Int32,
                                    UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, UnsafeMutablePointer<Int>?,
                                    UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, UnsafeMutablePointer<Int>?) -> Int32 = {
        program, args, argCount, env, timeout, out, outLength, err, errLength in
        guard let (who, enforcer) = caller("run_program") else { return -1 }
        guard let program, program.pointee != 0 else { HostAPI.fail("run_program: program is NULL or empty"); return -1 }
        let name = String(cString: program)
        guard let arguments = strings(args, count: argCount) else { HostAPI.fail("run_program: args has a NULL among its \(argCount)"); return -1 }
        guard let environment = strings(env) else { HostAPI.fail("run_program: env is malformed"); return -1 }
        if let bad = environment.first(where: { !ProcRequest.isVariableName(String($0.prefix { $0 != "=" })) || !$0.contains("=") }) {
            HostAPI.fail("run_program: env entry '\(Capability.sanitized(bad))' is not NAME=VALUE")
            return -1
        }
        let executable: String
        switch ProcModule.resolve(name, by: who, enforcer: enforcer, operation: "run_program") {
        case .failure(let f): HostAPI.fail(f.message); return -1
        case .success(let path): executable = path
        }
        // Each entry has a '=' (checked above).
        let pairs = environment.map { entry -> (String, String) in
            let name = entry.prefix { $0 != "=" }
            return (String(name), String(entry.dropFirst(name.count + 1)))
        }
        if let denial = InjectionVariables.refusal(in: pairs, program: name, by: who, enforcer: enforcer) {
            HostAPI.fail(denial)
            return -1
        }
        let limit = deadline(timeout)
        let child = ChildProcess(executable: executable, arguments: [name] + arguments, environment: environment,
                                 directory: nil, input: nil, outputLimit: ProcRequest.defaultOutputLimit,
                                 timeout: limit.at, vmDeadline: RunDeadline.current)
        let shown = Capability.sanitized(name)
        switch child.run() {
        case .failure(.spawn(let e)): HostAPI.fail("run_program: cannot run \(shown): \(String(cString: strerror(e)))")
        case .failure(.io(let what, let e)): HostAPI.fail("run_program: \(shown): \(what): \(String(cString: strerror(e)))")
        case .failure(.interrupted): HostAPI.fail("run_program: \(shown): interrupted")
        case .failure(.timedOut), .failure(.vmDeadline):
            HostAPI.fail("run_program: \(shown) timed out after \(ProcModule.seconds(limit.seconds)) and was killed")
        case .failure(.outputLimit(let stream)):
            HostAPI.fail("run_program: \(shown) wrote more than \(LimitText.bytes(ProcRequest.defaultOutputLimit)) to \(stream) and was killed")
        case .success(let finished):
            if let out { out.pointee = allocated(finished.stdout) }
            if let outLength { outLength.pointee = finished.stdout.count }
            if let err { err.pointee = allocated(finished.stderr) }
            if let errLength { errLength.pointee = finished.stderr.count }
            return finished.code ?? (128 + (finished.signal ?? 0))
        }
        return -1
    }

    static let connect: @convention(c) (UnsafePointer<CChar>?, Int32, Int32) -> Int32 = { host, port, timeout in
        guard let (who, enforcer) = caller("connect_tcp") else { return -1 }
        guard let host else { HostAPI.fail("connect_tcp: host is NULL"); return -1 }
        guard (1...65535).contains(port) else { HostAPI.fail("connect_tcp: port \(port) is not in 1-65535"); return -1 }
        let target: (resolve: String, shown: String)
        switch NetModule.grantHost(String(cString: host)) {
        case .failure(let f): HostAPI.fail("connect_tcp: \(f.message)"); return -1
        case .success(let h): target = h
        }
        let resource = "\(target.shown):\(port)"
        if case .failure(let d) = enforcer.check(Capability(.netConnect, resource), by: who) { HostAPI.fail(d.message); return -1 }
        let limit = deadline(timeout)
        switch NetSocket.connect(host: target.resolve, port: UInt16(port), timeout: limit.seconds, vm: RunDeadline.current) {
        case .failure(let f):
            let why: String
            switch f {
            case .interrupted: why = "interrupted"
            case .timedOut, .vmDeadline: why = "timed out after \(ProcModule.seconds(limit.seconds))"
            case .system(let e): why = String(cString: strerror(e))
            case .resolve(let message): why = message
            case .lineTooLong: why = "unexpected"
            }
            HostAPI.fail("connect_tcp: \(Capability.sanitized(resource)): \(why)")
            return -1
        case .success(let socket):
            // The plugin owns a blocking descriptor; the socket object lets go of it.
            let fd = socket.fd
            socket.fd = -1
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            return fd
        }
    }
}
