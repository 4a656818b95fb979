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

/// What a VM's code may do: the grants of the script and, separately, of each plugin.
/// Default deny: `Policy()` grants nothing. Set it as `Configuration.policy`; the plugin
/// host enforces it (docs/security.md).
///
/// ```swift
/// var configuration = Configuration()
/// configuration.policy = Policy(grants: [Capability(.fsRead, "/srv/data"), Capability(.clock)],
///                               plugins: ["sqlite": [Capability(.fsWrite, "/srv/data/db")]])
/// ```
public struct Policy: Sendable, Equatable {
    /// Everything is granted to everyone (`--allow-all`).
    public var allowsAll: Bool
    /// The script's grants.
    public var grants: [Capability]
    /// Each plugin's grants, by module name. A plugin gets only these (not the script's).
    public var plugins: [String: [Capability]]

    /// A policy granting `grants` to the script and `plugins[NAME]` to plugin NAME.
    public init(grants: [Capability] = [], plugins: [String: [Capability]] = [:], allowsAll: Bool = false) {
        self.grants = grants
        self.plugins = plugins
        self.allowsAll = allowsAll
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
        for g in other.grants where !result.grants.contains(g) { result.grants.append(g) }
        for (name, list) in other.plugins {
            for g in list where !(result.plugins[name] ?? []).contains(g) { result.plugins[name, default: []].append(g) }
        }
        return result
    }

    /// How to grant `request` to `principal`: a flag for the script, `--allow-plugin` or
    /// the manifest for a plugin. Used at the end of denial messages.
    public static func hint(for request: Capability, to principal: Principal) -> String {
        let shown = Capability.sanitized(request.description)
        switch principal {
        case .plugin(let name):
            return "grant with --allow-plugin=\(name)=\(shown) or under \"plugins\" in capsule.json"
        case .script:
            guard let resource = request.resource else { return "grant with \(request.kind.flag)" }
            return "grant with \(request.kind.flag)=\(Capability.sanitized(resource))"
        }
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
