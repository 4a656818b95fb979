import CapsuleHost
import Glibc

/// Where a command writes. The real one writes to the process's streams; tests pass closures
/// that collect text.
struct Console {
    /// Writes to standard output.
    var out: (String) -> Void
    /// Writes to standard error.
    var err: (String) -> Void
    /// Flushes standard output; true when a write to it has failed (the run then ends with
    /// `endStandardOutput`'s I/O error instead of its own outcome).
    var outputFailed: () -> Bool = { false }

    /// The process's standard output and standard error. Output goes through C stdio, the
    /// buffer the VM's `print` uses; errors flush it first, so the two interleave in order.
    static var standard: Console {
        Console(
            out: { text in writeStandardOutput(text) },
            err: { text in
                // Flush stdout first so a script's output appears before its error report.
                StandardOutput.flush()
                writeStandardError(text)
            },
            outputFailed: { !StandardOutput.flush() }
        )
    }
}
