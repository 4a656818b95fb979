#if canImport(Glibc)
import Glibc
#endif

extension IsolationSettings {
    /// These settings with plugin `name`'s own grants in `policy` added, so that the kernel
    /// enforces them in the worker (docs/security.md#isolated-plugins):
    ///
    /// | grant | in the worker |
    /// |---|---|
    /// | `fs.read:PATH` | `PATH` readable (Landlock); bare `fs.read`: `/` |
    /// | `fs.write:PATH` | `PATH` writable: change, create, rename, remove beneath it (not read) |
    /// | `net.connect:HOST:PORT` | connecting to PORT, **on any host**: Landlock restricts ports, not addresses; `HOST` alone or bare: every port |
    /// | `net.listen:[HOST:]PORT` | listening on PORT (any address); bare: every port |
    /// | `env:NAME`, `env:PAT*` | the variables of `environment` the grant names, copied into the worker's environment; bare: all of them |
    /// | `run:…`, `ffi:…` | nothing: the worker can start no program and load no library |
    /// | `clock`, `random` | nothing needed: time and `getrandom` are always allowed |
    ///
    /// `allowsAll` grants every path (read and write), every port and the whole environment.
    /// Paths are absolute already (`Capability.parse` resolved them); one that does not
    /// exist when the worker starts gives nothing (Landlock attaches rules to files).
    public func granting(_ policy: Policy, to name: String, environment: [String: String]) -> IsolationSettings {
        var result = self
        let grants = policy.allowsAll
            ? Capability.Kind.allCases.map { Capability($0) }
            : policy.grants(of: .plugin(name))
        func addPath(_ path: String, to list: inout [String]) { if !list.contains(path) { list.append(path) } }
        for grant in grants {
            switch grant.kind {
            case .fsRead: addPath(grant.resource ?? "/", to: &result.readablePaths)
            case .fsWrite: addPath(grant.resource ?? "/", to: &result.writablePaths)
            case .netConnect:
                let port = grant.resource.flatMap { Capability.splitHostPort($0, portRequired: false)?.port }
                result.connectPorts = result.connectPorts.adding(port)
            case .netListen:
                let port = grant.resource.flatMap { Capability.listenParts($0)?.port }
                result.bindPorts = result.bindPorts.adding(port)
            case .env:
                for (variable, value) in environment where grant.covers(Capability(.env, variable)) {
                    // The loader reads LD_PRELOAD and the like before the worker locks down:
                    // listed variables come in only when granted by exact name.
                    guard InjectionVariables.entry(name: variable, value: value) == nil || policy.allowsAll
                        || grant.resource == variable else { continue }
                    result.environment[variable] = value
                }
            case .run, .ffi, .clock, .random:
                break
            }
        }
        return result
    }

    /// The process's environment variables.
    static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let eq = text.firstIndex(of: "=") { result[String(text[..<eq])] = String(text[text.index(after: eq)...]) }
            entry += 1
        }
        return result
    }
}

extension IsolationSettings.Ports {
    /// These ports and `port` too (nil: every port).
    func adding(_ port: UInt16?) -> IsolationSettings.Ports {
        guard let port else { return .any }
        switch self {
        case .any: return .any
        case .none: return .only([port])
        case .only(let list): return list.contains(port) ? self : .only(list + [port])
        }
    }
}
