#if canImport(Glibc)
import Glibc
#endif
import CapsuleCore

/// What every process the host starts has in common, whether a `capsule-worker`
/// (`WorkerProcess`) or a program run by the `proc` module (`ChildProcess`): `posix_spawn`
/// (never `fork`: the host is multithreaded), a clean signal state, C argument and
/// environment arrays, and reaping.
package enum PosixSpawn {
    /// Calls `body` with spawn attributes that empty the child's signal mask and put every
    /// signal back to its default disposition, so nothing of the host's signal set-up leaks
    /// into it; with `ownProcessGroup`, the child also leads a new process group (which can
    /// then be killed as a whole). The attributes are destroyed when `body` returns.
    package static func withAttributes<R>(ownProcessGroup: Bool, _ body: (UnsafeMutablePointer<posix_spawnattr_t>) -> R) -> R {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if ownProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        return withUnsafeMutablePointer(to: &attributes) { body($0) }
    }

    /// Calls `body` with `arguments` and `environment` (`NAME=VALUE` strings) as the
    /// NULL-terminated C string arrays posix_spawn takes, freed when `body` returns.
    package static func withArgv<R>(_ arguments: [String], environment: [String],
                            _ body: ([UnsafeMutablePointer<CChar>?], [UnsafeMutablePointer<CChar>?]) -> R) -> R {
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { for p in argv + envp { free(p) } }
        return body(argv, envp)
    }

    /// Waits for the child `pid` to end (retrying on EINTR) and returns its `waitpid` status.
    @discardableResult
    package static func reap(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }
}
