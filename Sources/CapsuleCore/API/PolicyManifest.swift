/// The policy manifest: a JSON file next to the script (`capsule.json`) that grants
/// capabilities to the script and to each plugin (docs/security.md#the-manifest).
///
/// ```json
/// {
///   "allow": ["fs.read:./data", "env:HOME", "clock"],
///   "plugins": {
///     "zlib": [],
///     "sqlite": {"allow": ["fs.read:./data", "fs.write:./data"], "isolate": true},
///     "fastjson": {"trusted": true}
///   }
/// }
/// ```
///
/// Every key is optional; any other key is an error. A plugin's entry is its grants, or an
/// object with `allow` (its grants), `isolate` and `trusted` (booleans, not both true).
/// Relative paths resolve against the manifest's directory. `"allow-all": true` grants
/// everything (like `--allow-all`).
public enum PolicyManifest {
    /// The name looked for next to the script.
    public static let fileName = "capsule.json"

    /// Parses a manifest. `fileName` is used in error positions; `baseDirectory` is the
    /// manifest's directory (relative paths resolve against it).
    public static func parse(_ text: String, fileName: String, baseDirectory: String) -> Result<Policy, ManifestError> {
        parse(bytes: Array(text.utf8), fileName: fileName, baseDirectory: baseDirectory)
    }

    /// Parses a manifest's bytes: invalid UTF-8 and lone surrogates (`"\uD800"`) are errors
    /// at their line and column. Every capability string is validated by `Capability.parse`,
    /// the one validator the command-line flags use too. Linear in the size of the input.
    public static func parse(bytes: [UInt8], fileName: String, baseDirectory: String) -> Result<Policy, ManifestError> {
        func fail(_ message: String, _ line: Int, _ column: Int) -> Result<Policy, ManifestError> {
            .failure(ManifestError(file: fileName, line: line, column: column, message: message))
        }
        let root: JSONNode
        switch JSONNode.parse(bytes: bytes) {
        case .failure(let e): return fail(e.message, e.line, e.column)
        case .success(let n): root = n
        }
        guard case .object(let members) = root.kind else {
            return fail("the manifest must be a JSON object, not \(root.typeName)", root.line, root.column)
        }
        var policy = Policy()
        var seen: Set<String> = []
        func capabilities(_ node: JSONNode, what: String) -> Result<[Capability], ManifestError> {
            guard case .array(let items) = node.kind else {
                return .failure(ManifestError(file: fileName, line: node.line, column: node.column,
                                              message: "\(what) must be an array of capability strings, not \(node.typeName)"))
            }
            var result: [Capability] = []
            var seen: Set<Capability> = []
            for item in items {
                guard case .string(let text) = item.kind else {
                    return .failure(ManifestError(file: fileName, line: item.line, column: item.column,
                                                  message: "expected a capability string, not \(item.typeName)"))
                }
                switch Capability.parse(text, baseDirectory: baseDirectory) {
                case .failure(let e):
                    return .failure(ManifestError(file: fileName, line: item.line, column: item.column, message: e.message))
                case .success(let c): if seen.insert(c).inserted { result.append(c) }
                }
            }
            return .success(result)
        }
        for member in members {
            if !seen.insert(member.key).inserted {
                return fail("duplicate key \"\(Capability.sanitized(member.key))\"", member.keyLine, member.keyColumn)
            }
            switch member.key {
            case "allow":
                switch capabilities(member.value, what: "\"allow\"") {
                case .failure(let e): return .failure(e)
                case .success(let list): policy.grants = list
                }
            case "allow-all":
                guard case .bool(let b) = member.value.kind else {
                    return fail("\"allow-all\" must be true or false, not \(member.value.typeName)", member.value.line, member.value.column)
                }
                policy.allowsAll = b
            case "plugins":
                guard case .object(let plugins) = member.value.kind else {
                    return fail("\"plugins\" must be an object mapping plugin names to capability arrays, not \(member.value.typeName)",
                                member.value.line, member.value.column)
                }
                for plugin in plugins {
                    guard Policy.isPluginName(plugin.key) else {
                        return fail("\"\(Capability.sanitized(plugin.key))\" is not a plugin name ([A-Za-z_][A-Za-z0-9_]*)", plugin.keyLine, plugin.keyColumn)
                    }
                    if policy.plugins[plugin.key] != nil {
                        return fail("duplicate plugin \"\(plugin.key)\"", plugin.keyLine, plugin.keyColumn)
                    }
                    if case .object(let settings) = plugin.value.kind {
                        if let error = pluginSettings(plugin.key, settings, into: &policy, fileName: fileName, capabilities: capabilities) { return .failure(error) }
                        continue
                    }
                    guard case .array = plugin.value.kind else {
                        return fail("plugin \"\(plugin.key)\" must be an array of capability strings or an object with \"allow\", \"isolate\", \"trusted\", not \(plugin.value.typeName)",
                                    plugin.value.line, plugin.value.column)
                    }
                    switch capabilities(plugin.value, what: "plugin \"\(plugin.key)\"") {
                    case .failure(let e): return .failure(e)
                    case .success(let list): policy.plugins[plugin.key] = list
                    }
                }
            default:
                return fail("unknown key \"\(Capability.sanitized(member.key))\" (known: \"allow\", \"allow-all\", \"plugins\")",
                            member.keyLine, member.keyColumn)
            }
        }
        return .success(policy)
    }

    /// The manifest text for `policy` (what `capsule policy suggest` prints): absolute
    /// paths, one capability per line, plugins sorted by name.
    public static func render(_ policy: Policy) -> String {
        func list(_ caps: [Capability], indent: String) -> String {
            if caps.isEmpty { return "[]" }
            return "[\n" + caps.map { indent + "  " + JSONNode.quote($0.description) }.joined(separator: ",\n") + "\n" + indent + "]"
        }
        var parts: [String] = []
        if policy.allowsAll { parts.append("  \"allow-all\": true") }
        parts.append("  \"allow\": " + list(policy.grants, indent: "  "))
        let names = Set(policy.plugins.keys).union(policy.isolated).union(policy.trusted)
        if !names.isEmpty {
            let plugins = names.sorted().map { name in
                let grants = list(policy.plugins[name] ?? [], indent: "      ")
                var flags: [String] = []
                if policy.isolated.contains(name) { flags.append("\"isolate\": true") }
                if policy.trusted.contains(name) { flags.append("\"trusted\": true") }
                if flags.isEmpty { return "    " + JSONNode.quote(name) + ": " + list(policy.plugins[name] ?? [], indent: "    ") }
                return "    " + JSONNode.quote(name) + ": {\n      \"allow\": " + grants + ",\n"
                    + flags.map { "      " + $0 }.joined(separator: ",\n") + "\n    }"
            }
            parts.append("  \"plugins\": {\n" + plugins.joined(separator: ",\n") + "\n  }")
        }
        return "{\n" + parts.joined(separator: ",\n") + "\n}\n"
    }

    /// One plugin's object form, `{"allow": [...], "isolate": true, "trusted": false}`, into
    /// `policy`; the error, or nil.
    private static func pluginSettings(_ name: String, _ members: [(key: String, keyLine: Int, keyColumn: Int, value: JSONNode)],
                                       into policy: inout Policy, fileName: String,
                                       capabilities: (JSONNode, String) -> Result<[Capability], ManifestError>) -> ManifestError? {
        var seen: Set<String> = []
        var flags: [String: (value: Bool, line: Int, column: Int)] = [:]
        policy.plugins[name] = []
        for member in members {
            func error(_ message: String, _ line: Int, _ column: Int) -> ManifestError {
                ManifestError(file: fileName, line: line, column: column, message: message)
            }
            if !seen.insert(member.key).inserted {
                return error("duplicate key \"\(Capability.sanitized(member.key))\" in plugin \"\(name)\"", member.keyLine, member.keyColumn)
            }
            switch member.key {
            case "allow":
                switch capabilities(member.value, "\"allow\" of plugin \"\(name)\"") {
                case .failure(let e): return e
                case .success(let list): policy.plugins[name] = list
                }
            case "isolate", "trusted":
                guard case .bool(let b) = member.value.kind else {
                    return error("\"\(member.key)\" of plugin \"\(name)\" must be true or false, not \(member.value.typeName)",
                                 member.value.line, member.value.column)
                }
                flags[member.key] = (b, member.value.line, member.value.column)
            default:
                return error("unknown key \"\(Capability.sanitized(member.key))\" in plugin \"\(name)\" (known: \"allow\", \"isolate\", \"trusted\")",
                             member.keyLine, member.keyColumn)
            }
        }
        if let isolate = flags["isolate"], let trusted = flags["trusted"], isolate.value && trusted.value {
            let later = isolate.line > trusted.line || (isolate.line == trusted.line && isolate.column > trusted.column) ? isolate : trusted
            return ManifestError(file: fileName, line: later.line, column: later.column,
                                 message: "plugin \"\(name)\" cannot be both \"isolate\" and \"trusted\"")
        }
        if flags["isolate"]?.value == true { policy.isolated.insert(name) }
        if flags["trusted"]?.value == true { policy.trusted.insert(name) }
        return nil
    }
}

/// An error in a policy manifest, at a 1-based line and column.
public struct ManifestError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The manifest's name as shown.
    public var file: String
    /// Line and column of the offending text.
    public var line: Int, column: Int
    /// What is wrong.
    public var message: String
    /// An error at `line`:`column` of `file`.
    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file; self.line = line; self.column = column; self.message = message
    }
    /// `FILE:LINE:COL: error: MESSAGE`.
    public var description: String { "\(file):\(line):\(column): error: \(message)" }
}
