#if canImport(Glibc)
import Glibc
#endif

extension ConfinedPath {
    /// Replaces the file's contents with `data` atomically: a reader, or a writer killed
    /// at any instant, sees the old contents or the new, never a mix.
    ///
    /// Within the confinement (the parent is opened beneath the anchor with `openat2`, and
    /// every call below is an `*at` call on that descriptor with a single name): a temporary
    /// file `.NAME.capsule-XXXXXX` is created next to the target (`O_CREAT|O_EXCL`, never
    /// following a symlink), written, `fsync`ed, given the old file's permission bits, and
    /// renamed over the target; the directory is then `fsync`ed. Any failure removes the
    /// temporary file and leaves the target as it was; so does SIGINT, SIGTERM or SIGHUP
    /// during `capsule run` (`TemporaryFiles`), while a SIGKILL leaves it behind.
    ///
    /// The existing target must be a regular file with one link (as for every confined
    /// open) that the process may write (`faccessat`). A target that is a symlink is written
    /// in place through the confined open instead (replacing the link with a file would
    /// break it): that write is not atomic (docs/security.md).
    package func replaceContents(with data: UnsafeBufferPointer<UInt8>) -> Result<Void, FSFailure> {
        withParent("write") { parentFD, name in
            var old = stat()
            let exists = fstatat(parentFD, name, &old, AT_SYMLINK_NOFOLLOW) == 0
            if !exists && errno != ENOENT { return .failure(.io(errno)) }
            var mode: mode_t? = nil
            if exists {
                switch old.st_mode & S_IFMT {
                case S_IFLNK: return writeInPlace(data)
                case S_IFDIR: return .failure(.io(EISDIR))
                case S_IFREG: break
                default: return .failure(.denied("not a regular file (devices, FIFOs and sockets are never opened)"))
                }
                if old.st_nlink > 1 && grant != "/" {
                    return .failure(.denied("the file has \(old.st_nlink) hard links, and the others may be outside the grant"))
                }
                guard faccessat(parentFD, name, W_OK, AT_EACCESS) == 0 else { return .failure(.io(errno)) }
                mode = old.st_mode & 0o7777
            }
            return Self.replace(parentFD, name, data, mode: mode)
        }
    }

    /// The in-place write `fs.write` did before: truncate, then write.
    private func writeInPlace(_ data: UnsafeBufferPointer<UInt8>) -> Result<Void, FSFailure> {
        switch open(flags: O_WRONLY | O_CREAT | O_TRUNC) {
        case .failure(let f): return .failure(f)
        case .success(let fd):
            defer { close(fd) }
            if let e = Self.writeAll(fd, data) { return .failure(.io(e)) }
            return .success(())
        }
    }

    /// Writes all of `data` to `fd`, retrying short writes and EINTR; the errno on failure.
    static func writeAll(_ fd: Int32, _ data: UnsafeBufferPointer<UInt8>) -> Int32? {
        guard let base = data.baseAddress else { return nil }
        var offset = 0
        while offset < data.count {
            let n = write(fd, base + offset, data.count - offset)
            if n < 0 { if errno == EINTR { continue }; return errno }
            offset += n
        }
        return nil
    }

    /// Temporary file, write, fsync, rename over `name`, fsync of the directory.
    private static func replace(_ parentFD: Int32, _ name: String, _ data: UnsafeBufferPointer<UInt8>,
                                mode: mode_t?) -> Result<Void, FSFailure> {
        // A name of at most 255 bytes: a long target's name is shortened in the temporary's.
        var stem = Substring(name)
        while stem.utf8.count > 200 { stem = stem.dropLast() }
        var temporary = ""
        var fd: Int32 = -1
        // The process is ending (SIGTERM): write nothing more.
        guard TemporaryFiles.willCreate() else { return .failure(.io(ECANCELED)) }
        for _ in 0..<16 {
            let suffix = String(UInt64.random(in: 0..<(1 << 40)), radix: 36)
            temporary = ".\(stem).capsule-\(suffix)"
            // NOTE: one component without '/', created exclusively and without following a
            // symlink, relative to the confined parent: it cannot land outside the grant.
            // Replacing a file: readable by the owner only until it has the old file's mode
            // (so a secret's new contents are never more exposed than the old); a new file
            // gets the usual 0666 less the umask.
            fd = openat(parentFD, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode == nil ? 0o666 : 0o600)
            if fd >= 0 || errno != EEXIST { break }
        }
        let openError = errno
        guard let token = TemporaryFiles.created(parentFD, temporary, fileMade: fd >= 0) else {
            if fd >= 0 { close(fd); return .failure(.io(ECANCELED)) }
            return .failure(.io(openError))
        }
        defer { TemporaryFiles.done(token) }
        func fail(_ e: Int32) -> Result<Void, FSFailure> {
            close(fd)
            unlinkat(parentFD, temporary, 0)
            return .failure(.io(e))
        }
        if let e = writeAll(fd, data) { return fail(e) }
        if let mode, fchmod(fd, mode) != 0 { return fail(errno) }
        if fsync(fd) != 0 { return fail(errno) }
        if close(fd) != 0 { let e = errno; unlinkat(parentFD, temporary, 0); return .failure(.io(e)) }
        if renameat(parentFD, temporary, parentFD, name) != 0 {
            let e = errno
            unlinkat(parentFD, temporary, 0)
            return .failure(.io(e))
        }
        // The rename is durable once the directory is: best effort (an O_PATH descriptor
        // cannot be fsynced, so the directory is opened for reading through it).
        let directory = openat(parentFD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 { _ = fsync(directory); close(directory) }
        return .success(())
    }
}
