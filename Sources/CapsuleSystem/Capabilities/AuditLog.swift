#if canImport(Glibc)
import Glibc
#endif
import CapsuleCore
import Synchronization

/// Where every capability use, allowed or denied, is written as one JSON line
/// (`--audit FILE`):
///
/// ```
/// {"time":"2026-11-23T09:00:00.123Z","who":"script","capability":"fs.read","resource":"/etc/passwd","allowed":false}
/// ```
///
/// `who` is `script` or `plugin:NAME`; `resource` is absent for `clock` and `random`.
/// `capsule policy suggest FILE` turns such a log into a manifest. Thread-safe.
public final class AuditLog: Sendable {
    /// Called with the lock held, so lines from several threads never interleave.
    private let sink: Mutex<(String) -> Void>
    private let fd: Int32

    /// A log appending to the file at `path` (created if missing, mode 0600).
    public init(path: String) throws(AuditLogError) {
        // NOTE: O_NONBLOCK so that a FIFO with no reader fails (ENXIO) instead of blocking
        // the start; cleared once open, so records are written whole.
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0o600)
        guard fd >= 0 else { throw AuditLogError(path: path, errno: errno) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        self.fd = fd
        sink = Mutex({ line in
            _ = line.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        })
    }

    /// A log handing each line (with its newline) to `sink` (for tests and embedders). The
    /// log owns `sink` from then on and calls it from whichever thread records, one at a time.
    public init(sink: sending @escaping (String) -> Void) {
        fd = -1
        self.sink = Mutex(sink)
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Writes one record.
    public func record(_ request: Capability, by principal: Principal, allowed: Bool) {
        var line = "{\"time\":\(JSONNode.quote(Self.timestamp())),\"who\":\(JSONNode.quote(principal.description))"
        line += ",\"capability\":\(JSONNode.quote(request.kind.rawValue))"
        if let resource = request.resource { line += ",\"resource\":\(JSONNode.quote(resource))" }
        line += ",\"allowed\":\(allowed)}\n"
        sink.withLock { $0(line) }
    }

    /// Now as ISO 8601 UTC with milliseconds.
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var parts = tm()
        gmtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &parts)
        let millis = Int(ts.tv_nsec / 1_000_000)
        let head = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let m = String(millis)
        return head + "." + String(repeating: "0", count: 3 - m.count) + m + "Z"
    }
}

/// The audit log file could not be opened.
public struct AuditLogError: Error, CustomStringConvertible {
    /// The path given.
    public var path: String
    /// The errno of the failing open.
    public var errno: Int32
    /// `cannot open audit log PATH: REASON`.
    public var description: String { "cannot open audit log \(path): \(String(cString: strerror(errno)))" }
}
