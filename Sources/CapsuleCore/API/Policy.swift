/// Who uses a capability: the script (and the script modules it imports) or one native
/// plugin, which has its own grants.
public enum Principal: Hashable, Sendable, CustomStringConvertible {
    /// The script and its script modules.
    case script
    /// The native plugin with this module name.
    case plugin(String)

    /// `script` or `plugin:NAME` (as in the audit log).
    public var description: String {
        switch self {
        case .script: "script"
        case .plugin(let name): "plugin:\(name)"
        }
    }
}

/// What a VM's code may do: the grants of the script and, separately, of each plugin, and
/// where each native plugin runs. Default deny: `Policy()` grants nothing. Set it as
/// `Configuration.policy`; the plugin host enforces it (docs/security.md).
///
/// ```swift
/// var configuration = Configuration()
/// configuration.policy = Policy(grants: [Capability(.fsRead, "/srv/data"), Capability(.clock)],
///                               plugins: ["sqlite": [Capability(.fsRead, "/srv/data"), Capability(.fsWrite, "/srv/data")]],
///                               isolated: ["imagetool"], trusted: ["zstd"])
/// ```
///
/// `isolated` and `trusted` are plain data for the plugin host: a plugin named in `isolated`
/// runs in a locked-down worker process whatever it declares; one named in `trusted` runs in
/// the host process; any other runs isolated when it declares a capability beyond `clock`
/// and `random` (`runsIsolated`). Isolation wins when a name is in both.
public struct Policy: Sendable, Equatable {
    /// Everything is granted to everyone (`--allow-all`).
    public var allowsAll: Bool
    /// The script's grants.
    public var grants: [Capability]
    /// Each plugin's grants, by module name. A plugin gets only these (not the script's).
    public var plugins: [String: [Capability]]
    /// Plugins that run isolated whatever they declare (`--isolate=NAME`, `"isolate": true`).
    public var isolated: Set<String>
    /// Plugins that run in the host process even though what they declare would isolate
    /// them (`--trust=NAME`, `"trusted": true`). Trust adds no grants.
    public var trusted: Set<String>

    /// A policy granting `grants` to the script and `plugins[NAME]` to plugin NAME, running
    /// the plugins in `isolated` isolated and those in `trusted` in the host process.
    public init(grants: [Capability] = [], plugins: [String: [Capability]] = [:], allowsAll: Bool = false,
                isolated: Set<String> = [], trusted: Set<String> = []) {
        self.grants = grants
        self.plugins = plugins
        self.allowsAll = allowsAll
        self.isolated = isolated
        self.trusted = trusted
    }

    /// Whether plugin `name`, whose descriptor declares capabilities of `declared` kinds,
    /// runs isolated: when it is in `isolated`; otherwise not when it is in `trusted` or
    /// everything is granted (`allowsAll`: confining it would take away what was granted);
    /// otherwise when it declares any kind beyond `clock` and `random`.
    public func runsIsolated(plugin name: String, declaring declared: [Capability.Kind]) -> Bool {
        if isolated.contains(name) { return true }
        if trusted.contains(name) || allowsAll { return false }
        return declared.contains { $0.isolatesByDefault }
    }

    /// Whether plugin `name` runs isolated whatever it declares.
    public func alwaysIsolates(plugin name: String) -> Bool { isolated.contains(name) }

    /// Whether plugin `name` runs in the host process whatever it declares.
    public func neverIsolates(plugin name: String) -> Bool {
        !isolated.contains(name) && (trusted.contains(name) || allowsAll)
    }

    /// Grants nothing.
    public static let none = Policy()
    /// Grants everything to the script and every plugin.
    public static let all = Policy(allowsAll: true)

    /// The grants of `principal`.
    public func grants(of principal: Principal) -> [Capability] {
        switch principal {
        case .script: grants
        case .plugin(let name): plugins[name] ?? []
        }
    }

    /// The grant that allows `request` for `principal`, or nil when none does. With several,
    /// the most specific (longest resource) wins: for paths, the deepest granted directory.
    /// Under `allowsAll` the answer is the bare kind.
    public func grant(for request: Capability, by principal: Principal) -> Capability? {
        if allowsAll { return Capability(request.kind) }
        return grants(of: principal).filter { $0.covers(request) }
            .max { ($0.resource?.utf8.count ?? -1) < ($1.resource?.utf8.count ?? -1) }
    }

    /// True when `principal` may use `request`.
    public func allows(_ request: Capability, by principal: Principal) -> Bool {
        grant(for: request, by: principal) != nil
    }

    /// This policy with `other`'s grants added (flags on top of a manifest).
    public func merging(_ other: Policy) -> Policy {
        var result = self
        result.allowsAll = allowsAll || other.allowsAll
        var seen = Set(grants)
        for g in other.grants where seen.insert(g).inserted { result.grants.append(g) }
        for (name, list) in other.plugins {
            var seenForPlugin = Set(result.plugins[name] ?? [])
            for g in list where seenForPlugin.insert(g).inserted { result.plugins[name, default: []].append(g) }
        }
        result.isolated.formUnion(other.isolated)
        result.trusted.formUnion(other.trusted)
        return result
    }

    /// True when `name` can name a plugin: `[A-Za-z_][A-Za-z0-9_]*`.
    public static func isPluginName(_ name: String) -> Bool {
        func letter(_ c: UInt8) -> Bool { c == UInt8(ascii: "_") || ((c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z")) }
        guard let first = name.utf8.first, letter(first) else { return false }
        return name.utf8.allSatisfy { letter($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// How to grant `request` to `principal`: a flag for the script, `--allow-plugin` or
    /// the manifest for a plugin. Used at the end of denial messages. The flag is written
    /// as a shell takes it (single-quoted when the value needs it); a value the flag cannot
    /// carry (a comma, which separates a flag's values) is advised for the manifest instead.
    public static func hint(for request: Capability, to principal: Principal) -> String {
        let shown = Capability.sanitized(request.description)
        switch principal {
        case .plugin(let name):
            return "grant with \(shellWord("--allow-plugin=\(name)=\(shown)")) or under \"plugins\" in capsule.json"
        case .script:
            guard let resource = request.resource else { return "grant with \(request.kind.flag)" }
            let value = Capability.sanitized(resource)
            if value.contains(",") && request.kind != .ffi {
                return "grant with \"\(shown)\" under \"allow\" in capsule.json"
            }
            return "grant with \(shellWord("\(request.kind.flag)=\(value)"))"
        }
    }

    /// The `capsule run` flags granting what `policy` grants, each one shell word
    /// (`capsule policy suggest --flags`): `--allow-read=/srv/data`,
    /// `--allow-plugin=sqlite=fs.write:/srv/db`, `--isolate=NAME`, … A grant no flag can
    /// carry (a path with a comma) is left out and returned in `unflaggable`.
    public static func flags(_ policy: Policy, unflaggable: inout [Capability]) -> [String] {
        var result: [String] = policy.allowsAll ? ["--allow-all"] : []
        for grant in policy.grants {
            guard let resource = grant.resource else { result.append(grant.kind.flag); continue }
            if resource.contains(",") && grant.kind != .ffi { unflaggable.append(grant); continue }
            result.append(shellWord("\(grant.kind.flag)=\(resource)"))
        }
        for name in policy.plugins.keys.sorted() {
            for grant in policy.plugins[name] ?? [] { result.append(shellWord("--allow-plugin=\(name)=\(grant.description)")) }
        }
        result += policy.isolated.sorted().map { shellWord("--isolate=\($0)") }
        result += policy.trusted.sorted().map { shellWord("--trust=\($0)") }
        return result
    }

    /// `word` as one shell word: as it is when every character is plain, else in single quotes.
    static func shellWord(_ word: String) -> String {
        let plain = word.unicodeScalars.allSatisfy { c in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || "-_./=:,@%+".unicodeScalars.contains(c)
        }
        if plain { return word }
        return "'" + word.replacing("'", with: "'\\''") + "'"
    }

    /// The script error for a denied request: `denied: KIND RESOURCE (grant with …)`, or
    /// with `reason` instead of the hint. Control characters in what is echoed become `?`.
    public static func denial(_ request: Capability, by principal: Principal, reason: String? = nil) -> String {
        let who = principal == .script ? "" : "\(principal.description): "
        let resource = request.resource.map { " " + Capability.sanitized($0) } ?? ""
        let why = reason.map(Capability.sanitized) ?? hint(for: request, to: principal)
        return "\(who)denied: \(request.kind.rawValue)\(resource) (\(why))"
    }
}
