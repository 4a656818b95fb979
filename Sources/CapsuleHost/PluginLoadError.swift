/// Why a plugin was refused. The host never crashes on a bad plugin: every problem the
/// loader can detect becomes one of these, and `import` turns it into a script error.
public struct PluginLoadError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The shared object's path, as the loader was given it.
    public var path: String
    /// What is wrong, e.g. "ABI version 2, but this host wants ABI version 1".
    public var reason: String

    /// `cannot load plugin PATH: REASON`.
    public var description: String { "cannot load plugin \(path): \(reason)" }
}
