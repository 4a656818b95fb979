import CapsuleSyntax

/// The text `capsule plugin inspect` prints for a module: a C plugin's descriptor or a
/// registered Swift module (`PluginHost.manifest(ofModule:)`).
extension PluginManifest {
    /// One `field: value` line each, then the struct types with their fields, then the
    /// exports with signatures and docs.
    public var report: String { report(runs: nil) }

    /// The same report with a `runs: placement` line (what `capsule plugin inspect` prints).
    /// One `field: value` line each (with `runs: placement` when given), then the struct
    /// types with their fields, then the exports with signatures and docs.
    public func report(runs placement: String? = nil) -> String {
        var lines = [
            "name: \(name)",
            "version: \(version)",
            "abi: \(abiVersion)",
            "description: \(description)",
            "capabilities: \(capabilities.isEmpty ? "none" : capabilities.joined(separator: ", "))",
            placement.map { "runs: \($0)" },
            "handle types: \(handleTypes.isEmpty ? "none" : handleTypes.map(\.name).joined(separator: ", "))",
            "struct types: \(structTypes.isEmpty ? "none" : structTypes.map { "\($0.name) \($0.layoutText)" }.joined(separator: "; "))",
            "exports:",
        ].compactMap { $0 }
        let width = exports.map { $0.name.count + $0.signature.description.count + 1 }.max() ?? 0
        for e in exports {
            var line = "  \(e.name) \(e.signature)"
            if let doc = e.doc, !doc.isEmpty {
                line += String(repeating: " ", count: width - e.name.count - e.signature.description.count - 1) + "  " + doc
            }
            if e.closesHandle { line += " (closes its handle)" }
            lines.append(line)
        }
        // The descriptor's text is the plugin's: each line terminal-safe (`TerminalText`).
        return lines.map { TerminalText.safe($0) }.joined(separator: "\n") + "\n"
    }
}
