/// What one hot reload of a plugin did, as `PluginHost.observeReloads` observers and the
/// CLI's `--watch` log see it: the new version serving, or the refusal (the old keeps serving).
public struct ReloadEvent: Sendable, CustomStringConvertible {
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

    /// True when the new version now serves calls.
    public var succeeded: Bool { error == nil }

    /// One line: `reloaded NAME OLD -> NEW in 0.81 ms`, or
    /// `reload of NAME refused: WHY; OLD keeps serving`.
    public var description: String {
        if let error {
            let why = error.reason.split(whereSeparator: \.isNewline).joined(separator: " ")
            return "reload of \(module) refused: \(why); \(oldVersion) keeps serving"
        }
        return "reloaded \(module) \(oldVersion) -> \(newVersion ?? "?") in \(Self.milliseconds(nanoseconds)) ms"
    }

    /// `nanoseconds` as milliseconds with two decimals (no Foundation formatting).
    static func milliseconds(_ nanoseconds: UInt64) -> String {
        let hundredths = (nanoseconds + 5_000) / 10_000
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
