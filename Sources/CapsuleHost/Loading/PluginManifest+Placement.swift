/// What a descriptor's capabilities say about where the plugin runs.
///
/// A descriptor declares capabilities in two ways (sdk/include/capsule.h):
///
/// - `"fs.read:./data"` — *required*: the plugin is refused at load unless a grant to it
///   covers the capability;
/// - `"optional:fs.read"` — *used on what is granted*: the plugin loads without a grant and
///   can do only what its grants allow (sqlite opens whatever files it is granted).
///
/// Either way the kind counts for default isolation: a plugin declaring any kind beyond
/// `clock` and `random` runs isolated unless it is trusted (`Policy.runsIsolated`).
extension PluginManifest {
    /// The prefix of a capability used on what is granted.
    static let optionalPrefix = "optional:"

    /// Whether `text` is `optional:`-prefixed, and the capability without the prefix.
    static func splitOptional(_ text: String) -> (optional: Bool, capability: String) {
        text.hasPrefix(optionalPrefix) ? (true, String(text.dropFirst(optionalPrefix.count))) : (false, text)
    }

    /// The kinds of every well-formed capability the plugin declares, required or optional.
    package var declaredKinds: [Capability.Kind] {
        capabilities.compactMap { text in
            let body = Self.splitOptional(text).capability
            let kind = body.firstIndex(of: ":").map { String(body[..<$0]) } ?? body
            return Capability.Kind(rawValue: kind)
        }
    }

    /// The declared capabilities whose kinds isolate the plugin by default, as written
    /// (for messages): `fs.read (optional), net.connect:db:5432`.
    package var isolatingCapabilities: String {
        capabilities.compactMap { text -> String? in
            let (optional, body) = Self.splitOptional(text)
            let kind = body.firstIndex(of: ":").map { String(body[..<$0]) } ?? body
            guard let k = Capability.Kind(rawValue: kind), k.isolatesByDefault else { return nil }
            return Capability.sanitized(body) + (optional ? " (optional)" : "")
        }.joined(separator: ", ")
    }

    /// Where the plugin runs when neither the policy nor the embedder decides (the
    /// `runs:` line of `capsule plugin inspect`).
    public var defaultPlacement: String {
        Policy().runsIsolated(plugin: name, declaring: declaredKinds)
            ? "isolated by default (it declares \(isolatingCapabilities); --trust=\(name) runs it in-process)"
            : "in-process by default (--isolate=\(name) isolates it)"
    }
}
