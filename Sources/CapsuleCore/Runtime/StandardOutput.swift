#if canImport(Glibc)
import Glibc
#endif
import CStandardOutput

/// Writes text to the process's standard output without going through Foundation.
public func writeStandardOutput(_ text: String) {
    var text = text
    text.withUTF8 { buf in
        _ = fwrite(buf.baseAddress, 1, buf.count, capsule_standard_output())
    }
}
