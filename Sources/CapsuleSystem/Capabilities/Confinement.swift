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
    /// The operation itself failed with this errno.
    case io(Int32)
}

/// A path as the confinement sees it: the directory it is anchored at (a granted directory,
/// or the parent of a granted file) and the path beneath it, never resolved by the host.
///
/// Every operation opens the anchor with `open(O_PATH|O_DIRECTORY)` and then resolves the
/// rest with `openat2(RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS)`, or opens the parent that way
/// and uses an `*at` call on the last component. So `..`, absolute symlinks, relative
/// symlinks out, and `/proc` magic links are refused by the kernel at the moment of the open,
/// whatever the tree looks like then (no check-then-use race). See docs/security.md.
package struct ConfinedPath {
    /// The granted directory (or a granted file's parent): trusted, named by the user.
    let anchor: String
    /// The path beneath `anchor` ("" for the anchor itself).
    let relative: String
    /// The grant, for messages.
    let grant: String

    /// A path `relative` beneath `anchor` (for tests of the kernel's refusals).
    init(anchor: String, relative: String, grant: String) {
        self.anchor = anchor
        self.relative = relative
        self.grant = grant
    }

    /// Where `request` (absolute, `.`-free, `..` kept) lies under `grant` (absolute,
    /// normalized). A grant that is not a directory (a file, or not there yet) is anchored
    /// at its parent, so that only its own name is reachable.
    init(request: String, grant: String) {
        self.grant = grant
        var st = stat()
        let isDirectory = stat(grant, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
        let anchor: String
        if isDirectory || grant == "/" {
            anchor = grant
        } else {
            let slash = grant.lastIndex(of: "/")!
            anchor = slash == grant.startIndex ? "/" : String(grant[..<slash])
        }
        self.anchor = anchor
        var rest = anchor == "/" ? Substring(request) : request.dropFirst(anchor.count)
        while rest.first == "/" { rest = rest.dropFirst() }
        relative = String(rest)
    }

    /// Opens the anchor directory (O_PATH).
    private func openAnchor() -> Result<Int32, FSFailure> {
        let fd = Glibc.open(anchor, O_PATH | O_DIRECTORY | O_CLOEXEC)
        return fd >= 0 ? .success(fd) : .failure(.io(errno))
    }

    /// `openat2` beneath the anchor, mapping the confinement's errors to denials.
    private func openBeneath(_ anchorFD: Int32, _ path: String, flags: Int32, mode: mode_t = 0) -> Result<Int32, FSFailure> {
        // NOTE: openat2 rejects a mode without O_CREAT (EINVAL), unlike openat.
        let effectiveMode = flags & O_CREAT != 0 ? UInt64(mode) : 0
        let fd = cconfine_open_beneath(anchorFD, path.isEmpty ? "." : path, UInt64(UInt32(bitPattern: flags | O_CLOEXEC)), effectiveMode)
        if fd >= 0 { return .success(fd) }
        return .failure(Self.failure(errno: errno, grant: grant))
    }

    static func failure(errno e: Int32, grant: String) -> FSFailure {
        switch e {
        case EXDEV: .denied("the path leads outside the grant \(grant)")
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
        let anchorFD: Int32
        switch openAnchor() {
        case .failure(let f): return .failure(f)
        case .success(let fd): anchorFD = fd
        }
        defer { close(anchorFD) }
        let truncate = flags & O_TRUNC != 0
        // NOTE: O_NONBLOCK so that opening a FIFO or a device cannot block before the
        // type check below refuses it; cleared again for regular files.
        let fd: Int32
        switch openBeneath(anchorFD, relative, flags: (flags & ~O_TRUNC) | O_NOCTTY | O_NONBLOCK, mode: mode) {
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
        } else if st.st_nlink > 1 && grant != "/" {
            // A grant of the whole filesystem has no outside for another link to reach.
            close(fd)
            return .failure(.denied("the file has \(st.st_nlink) hard links, and the others may be outside the grant"))
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        if truncate, ftruncate(fd, 0) != 0 { let e = errno; close(fd); return .failure(.io(e)) }
        return .success(fd)
    }

    /// stat(2) of the path (symlinks beneath the anchor are followed).
    func status() -> Result<stat, FSFailure> {
        let anchorFD: Int32
        switch openAnchor() {
        case .failure(let f): return .failure(f)
        case .success(let fd): anchorFD = fd
        }
        defer { close(anchorFD) }
        switch openBeneath(anchorFD, relative, flags: O_PATH) {
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

    /// Runs `body` with an O_PATH fd of the parent (confined) and the last component.
    /// The anchor itself has no confined parent: operations on it are refused.
    func withParent<T>(_ what: String, _ body: (Int32, String) -> Result<T, FSFailure>) -> Result<T, FSFailure> {
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
            case .failure(let f): return .failure(f)
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
            if case .failure(.denied(let why)) = result { return .failure(.denied("the new name: \(why)")) }
            return result
        }
    }
}
