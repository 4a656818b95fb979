/// Settings of one `VM`. Every field has a default; there is no global state anywhere.
public struct Configuration: Sendable {
    /// Collect garbage on every allocation (slow; for finding GC bugs).
    public var gcStress: Bool = false
    /// The heap size that triggers the first collection, in bytes.
    public var initialGCThreshold: Int = 1 << 20
    /// Most nested script calls before `stack overflow`.
    public var maxCallDepth: Int = 200_000
    /// Most nested native→script re-entries (sort comparators, `str` methods, …).
    public var maxNativeDepth: Int = 200
    /// Stack size of the thread that runs the interpreter.
    public var threadStackSize: Int = 512 << 20
    /// Directories searched by `import "name"` after the importing file's directory.
    public var modulePaths: [String] = []
    /// What the script sees as `args`.
    public var arguments: [String] = []
    /// Print each instruction as it executes (debug builds of tools only; slow).
    public var traceExecution: Bool = false
    /// What the script and each plugin may do (capabilities). Default: nothing. The plugin
    /// host enforces it for `import "fs"`, `"env"`, `"time"`, `"ffi"` and plugins
    /// (docs/security.md); the core itself has no host powers to guard.
    public var policy: Policy = .none
    /// Where `print` writes. Default: the process's standard output.
    public var output: @Sendable (String) -> Void = { text in writeStandardOutput(text) }

    public init() {}
}
