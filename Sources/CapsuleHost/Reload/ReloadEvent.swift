/// What one hot reload of a plugin (or, under `watchPlugins`, of an imported script module)
/// did, as `PluginHost.observeReloads` observers and the CLI's `--watch` log see it: the new
/// version serving, or the refusal (the old keeps serving).
public struct ReloadEvent: Sendable, CustomStringConvertible {
    /// What was reloaded.
    public enum Kind: Sendable, Equatable {
        case plugin
        /// A `.cap` file loaded by `import`, re-run in place when its file changed
        /// (`modules.reload` semantics). It has no versions: `oldVersion` is empty, and
        /// `newVersion` is empty when the new top level ran (with `error` set, it raised
        /// after rebinding the names before the error) and nil when the file was refused
        /// (it did not compile: nothing changed).
        case scriptModule
    }

    /// What started the reload.
    public enum Trigger: Sendable, Equatable {
        /// The plugin's file was replaced (`PluginHost.watchPlugins`, `capsule run --watch`).
        case fileChanged
        /// `PluginHost.reload(module:)` or `plugins.reload(name)`.
        case call
    }

    /// The plugin's module name.
    public let module: String
    /// The version that was serving before.
    public let oldVersion: String
    /// The version serving now; nil when the reload was refused.
    public let newVersion: String?
    /// Why the reload was refused; nil when it succeeded.
    public let error: PluginLoadError?
    /// Nanoseconds from the start (for a file change: the watcher's report, after its
    /// debounce) to the swap or the refusal, waiting for the VM's safe point included.
    public let nanoseconds: UInt64
    public let trigger: Trigger
    public let kind: Kind

    public init(module: String, oldVersion: String, newVersion: String?, error: PluginLoadError?,
                nanoseconds: UInt64, trigger: Trigger, kind: Kind = .plugin) {
        self.module = module
        self.oldVersion = oldVersion
        self.newVersion = newVersion
        self.error = error
        self.nanoseconds = nanoseconds
        self.trigger = trigger
        self.kind = kind
    }

    /// True when the new version now serves calls.
    public var succeeded: Bool { error == nil }

    /// One line: `reloaded NAME OLD -> NEW in 0.81 ms`, or
    /// `reload of NAME refused: WHY; OLD keeps serving`; for a script module
    /// `reloaded script module NAME in 0.12 ms`, `reload of script module NAME refused: WHY` or
    /// `reload of script module NAME failed: WHY`.
    public var description: String {
        let why = error.map { $0.reason.split(whereSeparator: \.isNewline).joined(separator: " ") }
        if kind == .scriptModule {
            guard let why else { return "reloaded script module \(module) in \(Self.milliseconds(nanoseconds)) ms" }
            return "reload of script module \(module) \(newVersion == nil ? "refused" : "failed"): " + why
        }
        if let why { return "reload of \(module) refused: \(why); \(oldVersion) keeps serving" }
        return "reloaded \(module) \(oldVersion) -> \(newVersion ?? "?") in \(Self.milliseconds(nanoseconds)) ms"
    }

    /// `nanoseconds` as milliseconds with two decimals (no Foundation formatting).
    static func milliseconds(_ nanoseconds: UInt64) -> String {
        let hundredths = (nanoseconds + 5_000) / 10_000
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
