#if canImport(Glibc)
import Glibc
#endif

/// Writes text to the process's standard output without going through Foundation.
public func writeStandardOutput(_ text: String) {
    var text = text
    text.withUTF8 { buf in
        _ = fwrite(buf.baseAddress, 1, buf.count, stdout)
    }
}

/// Writes text to the process's standard error, first flushing standard output so the two
/// streams keep their order on a terminal.
public func writeStandardError(_ text: String) {
    fflush(stdout)
    var text = text
    text.withUTF8 { buf in
        _ = fwrite(buf.baseAddress, 1, buf.count, stderr)
    }
}
