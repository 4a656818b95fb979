import Foundation
import CapsuleHost

/// Where a command writes. The real one writes to the process's streams; tests pass closures
/// that collect text.
struct Console {
    /// Writes to standard output.
    var out: (String) -> Void
    /// Writes to standard error.
    var err: (String) -> Void

    /// The process's standard output and standard error. Text goes through C stdio, the
    /// same buffer the VM's `print` uses, so the two interleave in order.
    static let standard = Console(
        out: { text in writeStandardOutput(text) },
        err: { text in
            // Flush stdout first so a script's output appears before its error report.
            fflush(nil)
            FileHandle.standardError.write(Data(text.utf8))
        }
    )
}
