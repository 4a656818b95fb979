#if canImport(Glibc)
import Glibc
#endif
import CapsuleCore
import CConfine

let O_PATH = Int32(CCONFINE_O_PATH)

/// Why a confined filesystem operation failed: a denial (the path escapes its grant, or
/// names something the confinement refuses) or an ordinary I/O error.
package enum FSFailure: Error, Equatable {
    /// Refused by the confinement; the text says why (for `denied: … (WHY)`).
    case denied(String)
    /// Refused by the kernel because the path leads outside its grant (a `..` or a symlink
    /// out): the enforcer tries the path once more as resolved, and advises a grant of that.
    case escapes
    /// The operation itself failed with this errno.
    case io(Int32)
}

/// A path as the confinement sees it: the grant's own path, as resolved when the grant was
/// given (`root`), and the path beneath it (`relative`), never resolved by the host.
///
/// Nothing is decided from an earlier `stat()`: whether the grant is a directory, a file or
/// not there yet is what the kernel finds at the one open that is used.
///
/// - The granted path itself (`relative` empty) is opened with
///   `openat2(root, RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS)`: exactly that path, which
///   had no symlink in it when it was resolved (a symlink there since is refused), whatever
///   it is now: a file, a directory, or created by this open (`O_CREAT`). Operations on its
///   name (mkdir, remove, rename) open its parent that way and use the final name only.
/// - A path below the grant opens the grant with `O_PATH|O_DIRECTORY` the same way (so it
///   must be a directory at that moment, or the operation fails with an I/O error) and then
///   resolves the rest with `openat2(RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS)`, or opens the
///   parent that way and uses an `*at` call on the last component.
///
/// So `..`, absolute symlinks, relative symlinks out, and `/proc` magic links are refused by
/// the kernel at the moment of the open, whatever the tree looks like then: a grant of a
/// file or of a path that does not exist yet can never be used to reach its parent, even
/// while another process flips it between absent, a file and a directory. See
/// docs/security.md.
package struct ConfinedPath {
    /// The grant's path, resolved when the grant was given (no symlinks in it).
    let root: String
    /// The path beneath `root` ("" for the granted path itself).
    let relative: String
    /// The grant as written, for messages.
    let grant: String

    /// A path `relative` beneath the directory `anchor` (for tests of the kernel's refusals).
    init(anchor: String, relative: String, grant: String) {
        self.root = anchor
        self.relative = relative
        self.grant = grant
    }

    /// Where `request` (absolute, `.`-free, `..` kept) lies under `grant` (absolute,
    /// normalized, as written), whose path resolved when it was given is `root`. Pure text:
    /// no file system call.
    init(request: String, grant: String, root: String) {
        self.grant = grant
        self.root = root
        var rest = grant == "/" ? Substring(request) : request.dropFirst(grant.count)
        while rest.first == "/" { rest = rest.dropFirst() }
        relative = String(rest)
    }

    /// Opens the granted path itself (no symlinks followed anywhere in it).
    private func openRoot(_ path: String, flags: Int32, mode: mode_t = 0) -> Result<Int32, FSFailure> {
        let effectiveMode = flags & O_CREAT != 0 ? UInt64(mode) : 0
        let fd = cconfine_open_resolve(AT_FDCWD, path, UInt64(UInt32(bitPattern: flags | O_CLOEXEC)), effectiveMode,
                                       UInt64(CCONFINE_RESOLVE_NO_SYMLINKS | CCONFINE_RESOLVE_NO_MAGICLINKS))
        if fd >= 0 { return .success(fd) }
        let e = errno
        if e == ELOOP {
            return .failure(.denied("a symlink has appeared in the granted path \(grant) since it was granted (grants are resolved when given)"))
        }
        return .failure(Self.failure(errno: e, grant: grant))
    }

    /// Opens the grant as the directory the rest is resolved beneath (O_PATH).
    private func openAnchor() -> Result<Int32, FSFailure> {
        openRoot(root, flags: O_PATH | O_DIRECTORY)
    }

    /// `openat2` beneath the anchor, mapping the confinement's errors to denials. Under a
    /// grant of `/` nothing is outside: the path is resolved with `RESOLVE_IN_ROOT` (absolute
    /// symlinks and `..` as usual, since the root is `/`), still without /proc magic links.
    private func openBeneath(_ anchorFD: Int32, _ path: String, flags: Int32, mode: mode_t = 0) -> Result<Int32, FSFailure> {
        // NOTE: openat2 rejects a mode without O_CREAT (EINVAL), unlike openat.
        let effectiveMode = flags & O_CREAT != 0 ? UInt64(mode) : 0
        let how = UInt64(UInt32(bitPattern: flags | O_CLOEXEC))
        let fd = root == "/"
            ? cconfine_open_resolve(anchorFD, path.isEmpty ? "." : path, how, effectiveMode,
                                    UInt64(CCONFINE_RESOLVE_IN_ROOT | CCONFINE_RESOLVE_NO_MAGICLINKS))
            : cconfine_open_beneath(anchorFD, path.isEmpty ? "." : path, how, effectiveMode)
        if fd >= 0 { return .success(fd) }
        return .failure(Self.failure(errno: errno, grant: grant))
    }

    /// Opens the path itself: the granted path, or a path beneath it.
    private func openTarget(flags: Int32, mode: mode_t = 0) -> Result<Int32, FSFailure> {
        if relative.isEmpty { return openRoot(root, flags: flags, mode: mode) }
        let anchorFD: Int32
        switch openAnchor() {
        case .failure(let f): return .failure(f)
        case .success(let fd): anchorFD = fd
        }
        defer { close(anchorFD) }
        return openBeneath(anchorFD, relative, flags: flags, mode: mode)
    }

    static func failure(errno e: Int32, grant: String) -> FSFailure {
        switch e {
        case EXDEV: .escapes
        case ELOOP: .denied("the path goes through a /proc magic link or too many symlinks")
        case ENOSYS: .denied("this kernel has no openat2, so paths cannot be confined")
        default: .io(e)
        }
    }

    /// Opens the path for I/O. Only regular files (and directories, when `flags` has
    /// O_DIRECTORY) are opened; a regular file must have exactly one link (a hard link's
    /// other names may be outside the grant), unless the grant is the whole filesystem.
    /// O_TRUNC is applied after those checks.
    package func open(flags: Int32, mode: mode_t = 0o666) -> Result<Int32, FSFailure> {
        let truncate = flags & O_TRUNC != 0
        // NOTE: O_NONBLOCK so that opening a FIFO or a device cannot block before the
        // type check below refuses it; cleared again for regular files.
        let fd: Int32
        switch openTarget(flags: (flags & ~O_TRUNC) | O_NOCTTY | O_NONBLOCK, mode: mode) {
        case .failure(let f): return .failure(f)
        case .success(let opened): fd = opened
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else { let e = errno; close(fd); return .failure(.io(e)) }
        let type = st.st_mode & S_IFMT
        if type == S_IFDIR {
            if flags & O_DIRECTORY == 0 { close(fd); return .failure(.io(EISDIR)) }
        } else if type != S_IFREG {
            close(fd)
            return .failure(.denied("not a regular file (devices, FIFOs and sockets are never opened)"))
        } else if st.st_nlink > 1 && root != "/" {
            // A grant of the whole filesystem has no outside for another link to reach.
            close(fd)
            return .failure(.denied("the file has \(st.st_nlink) hard links, and the others may be outside the grant"))
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        if truncate, ftruncate(fd, 0) != 0 { let e = errno; close(fd); return .failure(.io(e)) }
        return .success(fd)
    }

    /// Whether the file open as `fd` (opened under another grant) is the file this path
    /// names beneath this grant: the same device and inode, found by a confined O_PATH open
    /// now, and, for a regular file, this grant's hard-link rule (one link, unless the grant
    /// is the whole filesystem). So an operation needing several kinds is confined beneath
    /// every kind's grant, not only the one it was opened under.
    func holds(_ fd: Int32) -> Result<Void, FSFailure> {
        var opened = stat()
        guard fstat(fd, &opened) == 0 else { return .failure(.io(errno)) }
        let found: stat
        switch status() {
        case .failure(let f): return .failure(f)
        case .success(let st): found = st
        }
        if found.st_dev != opened.st_dev || found.st_ino != opened.st_ino {
            return .failure(.denied("the path names another file beneath the grant \(grant) than beneath the other grant it needs"))
        }
        if (found.st_mode & S_IFMT) == S_IFREG && found.st_nlink > 1 && root != "/" {
            return .failure(.denied("the file has \(found.st_nlink) hard links, and the others may be outside the grant"))
        }
        return .success(())
    }

    /// stat(2) of the path (symlinks beneath the anchor are followed).
    func status() -> Result<stat, FSFailure> {
        switch openTarget(flags: O_PATH) {
        case .failure(let f): return .failure(f)
        case .success(let fd):
            defer { close(fd) }
            var st = stat()
            return fstat(fd, &st) == 0 ? .success(st) : .failure(.io(errno))
        }
    }

    /// The names in the directory, sorted, without `.` and `..`.
    func list() -> Result<[String], FSFailure> {
        let fd: Int32
        switch open(flags: O_RDONLY | O_DIRECTORY) {
        case .failure(let f): return .failure(f)
        case .success(let opened): fd = opened
        }
        guard let dir = fdopendir(fd) else { let e = errno; close(fd); return .failure(.io(e)) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            // NOTE: d_name is read in place: an entry can be shorter than sizeof(dirent), so
            // copying `entry.pointee` could read past the end of readdir's buffer.
            let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
            let name = String(cString: UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self))
            if name != "." && name != ".." { names.append(name) }
        }
        return .success(names.sorted())
    }

    /// Runs `body` with an O_PATH fd of the parent (confined) and the last component. For
    /// the granted path itself, the parent is the grant's own parent (opened without
    /// following symlinks) and the name is the grant's last component, never `..`; a granted
    /// directory itself is not removed or renamed (`what` is not `create`).
    func withParent<T>(_ what: String, _ body: (Int32, String) -> Result<T, FSFailure>) -> Result<T, FSFailure> {
        if relative.isEmpty {
            guard root != "/", let slash = root.lastIndex(of: "/") else {
                return .failure(.denied("cannot \(what) the granted directory itself or a path ending in '..'"))
            }
            let parent = slash == root.startIndex ? "/" : String(root[..<slash])
            let base = String(root[root.index(after: slash)...])
            let parentFD: Int32
            switch openRoot(parent, flags: O_PATH | O_DIRECTORY) {
            case .failure(let f): return .failure(f)
            case .success(let fd): parentFD = fd
            }
            defer { close(parentFD) }
            if what != "create" {
                var st = stat()
                if fstatat(parentFD, base, &st, AT_SYMLINK_NOFOLLOW) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
                    return .failure(.denied("cannot \(what) the granted directory itself or a path ending in '..'"))
                }
            }
            return body(parentFD, base)
        }
        var parent = Substring(relative)
        while parent.last == "/" { parent = parent.dropLast() }
        let base: String
        if let slash = parent.lastIndex(of: "/") {
            base = String(parent[parent.index(after: slash)...])
            parent = parent[..<slash]
        } else {
            base = String(parent)
            parent = ""
        }
        guard !base.isEmpty, base != ".", base != ".." else {
            return .failure(.denied("cannot \(what) the granted directory itself or a path ending in '..'"))
        }
        let anchorFD: Int32
        switch openAnchor() {
        case .failure(let f): return .failure(f)
        case .success(let fd): anchorFD = fd
        }
        defer { close(anchorFD) }
        switch openBeneath(anchorFD, String(parent), flags: O_PATH | O_DIRECTORY) {
        case .failure(let f): return .failure(f)
        case .success(let parentFD):
            defer { close(parentFD) }
            return body(parentFD, base)
        }
    }

    func makeDirectory() -> Result<Void, FSFailure> {
        // The granted directory itself exists: say so, as mkdir does for any other directory.
        if relative.split(separator: "/").allSatisfy({ $0 == "." }) {
            switch openAnchor() {
            case .failure(.denied(let why)): return .failure(.denied(why))
            case .failure(.escapes): return .failure(.escapes)
            case .failure(.io): break  // not there yet (a grant of a path to create): made below
            case .success(let fd): close(fd); return .failure(.io(EEXIST))
            }
        }
        return withParent("create") { fd, name in mkdirat(fd, name, 0o777) == 0 ? .success(()) : .failure(.io(errno)) }
    }

    /// Removes a file, a symlink (not its target) or an empty directory.
    func remove() -> Result<Void, FSFailure> {
        withParent("remove") { fd, name in
            var st = stat()
            guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return .failure(.io(errno)) }
            let flag = (st.st_mode & S_IFMT) == S_IFDIR ? AT_REMOVEDIR : 0
            return unlinkat(fd, name, flag) == 0 ? .success(()) : .failure(.io(errno))
        }
    }

    /// Renames this path to `target` (both confined).
    func rename(to target: ConfinedPath) -> Result<Void, FSFailure> {
        withParent("rename") { fromFD, fromName in
            let result = target.withParent("replace") { toFD, toName in
                renameat(fromFD, fromName, toFD, toName) == 0 ? .success(()) : .failure(.io(errno))
            }
            switch result {
            case .failure(.denied(let why)): return .failure(.denied("the new name: \(why)"))
            case .failure(.escapes): return .failure(.denied("the new name: the path leads outside the grant \(target.grant)"))
            default: return result
            }
            return result
        }
    }
}
