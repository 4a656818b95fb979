#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The temporary files atomic writes (`ConfinedPath.replaceContents`) are filling right
/// now, so that a run ended by SIGINT, SIGTERM or SIGHUP removes them on its way out
/// (`capsule run`'s `TerminationSignals`). A SIGKILL leaves the one being written behind
/// (named `.NAME.capsule-XXXXXX`); the target is intact either way.
package enum TemporaryFiles {
    /// The files being written, the creations in flight, and whether the process is ending.
    private struct State {
        /// Each file: a descriptor of its directory (a duplicate, owned here) and its name.
        var files: [Int: (directory: Int32, name: String)] = [:]
        var creating = 0
        var ending = false
        var nextToken = 1
    }
    private static let state = Mutex<State>(State())

    /// Call before creating a temporary file: false once the process has begun to end
    /// (create nothing then). Every true must be followed by `created`.
    static func willCreate() -> Bool {
        state.withLock { s in
            if s.ending { return false }
            s.creating += 1
            return true
        }
    }

    /// Ends a creation `willCreate` allowed. When the file was made, records `name` in
    /// `directoryFD` (duplicated) and returns the token for `done`; when the process began
    /// to end meanwhile, removes the file at once and returns nil.
    static func created(_ directoryFD: Int32, _ name: String, fileMade: Bool) -> Int? {
        state.withLock { s in
            s.creating -= 1
            guard fileMade else { return nil }
            if s.ending { unlinkat(directoryFD, name, 0); return nil }
            let token = s.nextToken
            s.nextToken += 1
            let copy = fcntl(directoryFD, F_DUPFD_CLOEXEC, 0)
            if copy >= 0 { s.files[token] = (copy, name) }
            return token
        }
    }

    /// The file was renamed or removed: forget it.
    static func done(_ token: Int) {
        if let entry = state.withLock({ $0.files.removeValue(forKey: token) }) { close(entry.directory) }
    }

    /// Removes every file still being written (the process is about to end). No file is
    /// created after this begins; a creation already under way (between `willCreate` and
    /// `created`, a few system calls) is waited for, up to 200 ms, and then removed by
    /// `created` itself if it comes later still.
    package static func removeAll() {
        state.withLock { $0.ending = true }
        for _ in 0..<200 {
            if state.withLock({ $0.creating }) == 0 { break }
            usleep(1000)
        }
        state.withLock { s in
            for (_, file) in s.files { unlinkat(file.directory, file.name, 0); close(file.directory) }
            s.files.removeAll()
        }
    }
}
