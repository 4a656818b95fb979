/// Settings of one `VM`. Every field has a default; there is no global state anywhere.
public struct Configuration: Sendable {
    /// Collect garbage on every allocation (slow; for finding GC bugs).
    public var gcStress: Bool = false
    /// The heap size that triggers the first collection, in bytes.
    public var initialGCThreshold: Int = 1 << 20
    /// Most nested script calls before `stack overflow (call depth limit of N exceeded)`, a
    /// catchable error. Clamped to 1…`Configuration.maxCallDepthBound`.
    public var maxCallDepth: Int = 200_000
    /// The largest `maxCallDepth` a VM accepts (larger values are clamped to it).
    public static let maxCallDepthBound = 1_000_000

    // MARK: resource limits
    //
    // Each limit applies to one call into the VM (`run`, `runFile`, `evaluate`,
    // `evaluateREPL`, `call`): the next call starts with the full budget again, so a host
    // can go on running scripts in the same VM after one exceeded a limit.

    /// Most instructions one call into the VM may run; nil: no limit. Exceeding it raises
    /// `instruction limit of N exceeded`, which `try`/`catch` cannot catch.
    ///
    /// Instructions are counted where the interpreter checks, not one by one: a jump back
    /// to the top of a loop charges the length of the loop body it jumps over, and a call
    /// of a script function charges the length of that function's code. Straight-line code
    /// is therefore charged what it could run, and every loop iteration what its body holds;
    /// time spent inside one native function (sorting a long list, say) is not counted.
    public var maxInstructions: Int? = nil
    /// Most wall-clock time one call into the VM may take; nil: no limit. Exceeding it
    /// raises `timeout of D exceeded`, which `try`/`catch` cannot catch.
    ///
    /// The clock (`CLOCK_MONOTONIC_COARSE`, a few milliseconds' resolution) is read at the
    /// same places instructions are counted, every 65,536 counted instructions, so a run
    /// ends a little after the deadline, and a single long native call (or a host
    /// function that blocks) is not interrupted.
    public var timeout: Duration? = nil
    /// Most bytes the garbage-collected heap may hold; nil: no limit. The count includes
    /// every object and the storage it owns (list items, map tables, bytes, code) but not
    /// the VM's fixed structures (register stack, intern table). When an allocation would
    /// pass the limit the collector runs first; if the heap is still too big the script
    /// gets `out of memory (heap limit N)`, an error `try`/`catch` can catch (as in Lua).
    ///
    /// Allocations whose size a script chooses (string concatenation and repetition, list
    /// and bytes concatenation, ranges, `bytes(n)`, `replace`, `split`, `chars`, `join`) are
    /// refused before they happen. Others
    /// complete, so no half-built object is ever seen, and the error is raised at the next
    /// loop back-edge or call (or when the run ends): the heap can pass the limit by what one
    /// instruction allocates in small pieces, or one growth step of a list or map. Buffers the
    /// plugin host builds for a script (file reads, plugin results) are checked against the
    /// limit before they are allocated. See docs/limits.md.
    public var maxHeapBytes: Int? = nil
    /// Testing: heap allocation number N (counted from 1 in each call into the VM) and every
    /// one after it fails as if the heap limit were reached. Used to check that every
    /// allocation failure ends in `out of memory` and never in a crash (Lua's memerr tests).
    public var failAllocationAfter: Int? = nil
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
    /// Setting it also sets `outputFailure` to `{ nil }`: set that afterwards if the new
    /// output can fail.
    public var output: @Sendable (String) -> Void = { text in writeStandardOutput(text) } {
        didSet { outputFailure = { nil } }
    }
    /// Asked after each `print`: a message when output can no longer be written, which ends
    /// the run with that uncatchable error (nothing else the script prints would arrive).
    /// Default: `StandardOutput.failureMessage`, for the default `output`.
    public var outputFailure: @Sendable () -> String? = { StandardOutput.failureMessage }
    /// Where `eprint` and `ewrite` write. Default: the process's standard error.
    public var errorOutput: @Sendable (String) -> Void = { text in writeStandardError(text) }
    /// The file descriptor `stdin.read_line()`, `stdin.read()` and `stdin.lines()` read from.
    /// Default: 0, the process's standard input. The VM never closes it.
    public var standardInput: Int32 = 0
    /// What the script sees as `script_path`: the main script's path as given on the command
    /// line, or nil (`-e` code, standard input, the REPL, embedding).
    public var scriptPath: String? = nil

    public init() {}
}
