#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The process's standard output, written through C stdio (block-buffered when it is not
/// a terminal) without Foundation. A failed write is never ignored: the first one's `errno`
/// is kept (`StandardOutput.failure`), `print` then ends the run, and the CLI ends with the
/// I/O error (exit 74) once everything is flushed (docs/language.md, "Output").
public enum StandardOutput {
    /// The errno of the first failed write or flush, 0 while there has been none.
    private static let firstError = Atomic<Int32>(0)

    /// Writes `text`; false (and the failure recorded) when stdio could not write it.
    @discardableResult
    public static func write(_ text: String) -> Bool {
        if failure != nil { return false }
        var text = text
        let ok = text.withUTF8 { buf in
            buf.isEmpty || fwrite(buf.baseAddress, 1, buf.count, stdout) == buf.count
        }
        if !ok { record(errno) }
        return ok
    }

    /// Flushes stdio's buffer; false (and the failure recorded) when that write failed.
    @discardableResult
    public static func flush() -> Bool {
        if fflush(stdout) != 0 { record(errno); return false }
        return failure == nil
    }

    /// The errno of the first failed write, or nil.
    public static var failure: Int32? {
        let e = firstError.load(ordering: .acquiring)
        return e == 0 ? nil : e
    }

    /// `write to standard output failed: REASON`, or nil while every write succeeded.
    public static var failureMessage: String? {
        failure.map { "write to standard output failed: \(String(cString: strerror($0)))" }
    }

    private static func record(_ code: Int32) {
        _ = firstError.compareExchange(expected: 0, desired: code == 0 ? EIO : code, successOrdering: .acquiringAndReleasing, failureOrdering: .acquiring)
    }
}

/// Writes text to the process's standard output (`StandardOutput.write`).
public func writeStandardOutput(_ text: String) {
    StandardOutput.write(text)
}

/// Writes text to the process's standard error, first flushing standard output so the two
/// streams keep their order on a terminal.
public func writeStandardError(_ text: String) {
    StandardOutput.flush()
    var text = text
    text.withUTF8 { buf in
        _ = fwrite(buf.baseAddress, 1, buf.count, stderr)
    }
}
