#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The temporary files atomic writes (`ConfinedPath.replaceContents`) are filling right
/// now, so that a run ended by SIGINT, SIGTERM or SIGHUP removes them on its way out
/// (`capsule run`'s `TerminationSignals`). A SIGKILL leaves the one being written behind
/// (named `.NAME.capsule-XXXXXX`); the target is intact either way.
package enum TemporaryFiles {
    /// Each file: a descriptor of its directory (a duplicate, owned here) and its name.
    private static let pending = Mutex<[Int: (directory: Int32, name: String)]>([:])
    private static let nextToken = Atomic<Int>(1)

    /// Records `name` in `directoryFD` (which is duplicated); the token for `done`.
    static func started(_ directoryFD: Int32, _ name: String) -> Int {
        let token = nextToken.wrappingAdd(1, ordering: .relaxed).oldValue
        let copy = fcntl(directoryFD, F_DUPFD_CLOEXEC, 0)
        if copy >= 0 { pending.withLock { $0[token] = (copy, name) } }
        return token
    }

    /// The file was renamed or removed: forget it.
    static func done(_ token: Int) {
        if let entry = pending.withLock({ $0.removeValue(forKey: token) }) { close(entry.directory) }
    }

    /// Removes every file still being written (the process is about to end).
    package static func removeAll() {
        pending.withLock { files in
            for (_, file) in files { unlinkat(file.directory, file.name, 0); close(file.directory) }
            files.removeAll()
        }
    }
}
