import CapsuleSyntax

/// Why a plugin was refused. The host never crashes on a bad plugin: every problem the
/// loader can detect becomes one of these, and `import` turns it into a script error.
public struct PluginLoadError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The shared object's path, as the loader was given it.
    public var path: String
    /// What is wrong, e.g. "ABI version 2, but this host wants ABI version 1".
    public var reason: String
    /// True when the capability policy refused it (another policy may admit it), so the
    /// registry does not remember the refusal.
    var byPolicy = false

    init(path: String, reason: String, byPolicy: Bool = false) {
        self.path = path
        self.reason = reason
        self.byPolicy = byPolicy
    }

    /// `cannot load plugin PATH: REASON`, made terminal-safe: the path and the reason may
    /// hold a file name's or a descriptor's text (`TerminalText`).
    public var description: String { TerminalText.safe("cannot load plugin \(path): \(reason)") }
}
