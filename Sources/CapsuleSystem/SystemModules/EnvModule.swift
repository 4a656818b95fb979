#if canImport(Glibc)
import Glibc
#endif
import CapsuleCore

/// The `env` module: the process's environment variables, each use checked against the
/// script's `env:NAME` grants (`--allow-env=HOME,LANG`, `--allow-env=APP_*`).
///
/// ```
/// import "env"
/// print(env.get("HOME"))        // a string, or nil when unset
/// env.set("APP_MODE", "test")   // visible to this process (and later child processes)
/// print(env.list())             // {name: value} of the set variables the grants cover
/// ```
package final class EnvModule {
    let enforcer: CapabilityEnforcer

    package init(enforcer: CapabilityEnforcer) { self.enforcer = enforcer }

    package func moduleDefinition() -> NativeModuleDefinition {
        NativeModuleDefinition(name: "env", functions: [
            NativeFunctionDefinition(name: "get", arity: 1) { [unowned self] call in get(call) },
            NativeFunctionDefinition(name: "set", arity: 2) { [unowned self] call in set(call) },
            NativeFunctionDefinition(name: "list", arity: 0) { [unowned self] call in list(call) },
        ])
    }

    /// Argument `i` as a variable name checked against the grants, or nil after raising.
    private func name(_ call: NativeCall, _ function: String) -> String? {
        guard let bytes = call.string(0) else {
            _ = call.raise("env.\(function): argument 1: expected a variable name (str), got \(call.typeName(0))")
            return nil
        }
        let text = String(decoding: bytes, as: UTF8.self)
        if bytes.isEmpty || bytes.contains(0) || bytes.contains(UInt8(ascii: "=")) || String(validating: bytes, as: UTF8.self) == nil {
            _ = call.raise(enforcer.deny(Capability(.env, text), by: .script, reason: "not a valid variable name").message)
            return nil
        }
        if case .failure(let d) = enforcer.check(Capability(.env, text), by: .script) {
            _ = call.raise(d.message)
            return nil
        }
        return text
    }

    func get(_ call: NativeCall) -> Value {
        guard let name = name(call, "get") else { return NativeCall.failure }
        guard let value = getenv(name) else { return call.nilValue }
        return call.stringValue(String(cString: value))
    }

    /// `env.list()`: the variables that are set and granted, by name in order. Variables the
    /// grants do not cover are left out silently (neither denied nor audited).
    func list(_ call: NativeCall) -> Value {
        var found: [(String, String)] = []
        var p = environ
        while let entry = p.pointee {
            let text = String(cString: entry)
            p += 1
            guard let eq = text.firstIndex(of: "="), eq != text.startIndex else { continue }
            let name = String(text[..<eq])
            let request = Capability(.env, name)
            guard enforcer.policy.allows(request, by: .script) else { continue }
            enforcer.allow(request, by: .script)
            found.append((name, String(text[text.index(after: eq)...])))
        }
        found.sort { $0.0 < $1.0 }
        var seen = Set<String>()
        return call.recordValue(found.filter { seen.insert($0.0).inserted }.map { ($0.0, .string($0.1)) })
    }

    func set(_ call: NativeCall) -> Value {
        guard let name = name(call, "set") else { return NativeCall.failure }
        guard let bytes = call.string(1), !bytes.contains(0) else {
            return call.raise("env.set: argument 2: expected a string without NUL bytes, got \(call.typeName(1))")
        }
        guard setenv(name, String(decoding: bytes, as: UTF8.self), 1) == 0 else {
            return call.raise("env.set: \(String(cString: strerror(errno)))")
        }
        return call.nilValue
    }
}
