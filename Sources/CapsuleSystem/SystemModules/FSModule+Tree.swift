#if canImport(Glibc)
import Glibc
#endif
import CapsuleCore

/// `fs.lines`, `fs.walk` and `fs.glob`: whole files as lines, and directory trees, read under
/// the `fs.read` grant. The top directory is opened through the confinement (`perform`);
/// below it, every directory is opened with `openat` on one name read from its parent's
/// listing, with `O_NOFOLLOW`, so symbolic links are listed but never followed and nothing
/// outside the opened tree is reached.
extension FSModule {
    /// Most entries `walk` and `glob` return.
    static let maxTreeEntries = 1 << 20
    /// Most directory levels below the top that `walk` and `glob` descend.
    static let maxTreeDepth = 64

    /// `fs.lines(path)`: the file's lines without their `\n` (or `\r\n`).
    func lines(_ call: NativeCall) -> Value {
        guard let p = path(call, 0, "lines", kind: .fsRead) else { return NativeCall.failure }
        guard let fd = perform(call, "lines", p, .fsRead, { $0.open(flags: O_RDONLY) }) else { return NativeCall.failure }
        defer { close(fd) }
        switch Self.readAll(fd, shortfall: call.heapShortfall) {
        case .failure(.io(let code)): return call.raise(FSError.io(code).message(operation: "fs.lines", path: p))
        case .failure(.memory(let oom, let size)):
            return call.raise("fs.lines: \(Capability.sanitized(p)): \(oom) reading \(size) bytes")
        case .success(let data):
            var lines: [String] = []
            var start = 0
            while start < data.count {
                let end = data[start...].firstIndex(of: UInt8(ascii: "\n")) ?? data.count
                var line = data[start..<end]
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                lines.append(String(decoding: line, as: UTF8.self))
                start = end + 1
            }
            // Each string costs its bytes and a header: refuse before building them.
            if let oom = call.heapShortfall(data.count &+ lines.count &* 48) {
                return call.raise("fs.lines: \(Capability.sanitized(p)): \(oom)")
            }
            return call.stringListValue(lines)
        }
    }

    /// `fs.walk(dir)`: every entry beneath `dir`, depth first, each directory's entries in
    /// name order, as `dir/name` paths. Symbolic links are listed, not followed.
    func walk(_ call: NativeCall) -> Value {
        guard let p = path(call, 0, "walk", kind: .fsRead), let given = call.string(0) else { return NativeCall.failure }
        guard let fd = perform(call, "walk", p, .fsRead, { $0.open(flags: O_RDONLY | O_DIRECTORY) }) else { return NativeCall.failure }
        var found: [String] = []
        var walker = TreeWalker(shortfall: call.heapShortfall)
        if let why = walker.walk(fd, prefix: String(decoding: given, as: UTF8.self), into: &found, depth: 0) {
            return call.raise("fs.walk: \(Capability.sanitized(p)): \(why)")
        }
        return call.stringListValue(found)
    }

    /// `fs.glob(pattern)`: the paths that match `pattern`, in name order. Each component may
    /// use `*`, `?` and `[…]` (fnmatch; `*` does not match `/`, and a leading `.` must be
    /// written). The directory before the first wildcard is opened under the `fs.read` grant.
    func glob(_ call: NativeCall) -> Value {
        guard let bytes = call.string(0) else {
            return call.raise("fs.glob: argument 1: expected a pattern (str), got \(call.typeName(0))")
        }
        let pattern = String(decoding: bytes, as: UTF8.self)
        let absolute = pattern.hasPrefix("/")
        let parts = pattern.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let isWild = { (s: String) in s.contains { $0 == "*" || $0 == "?" || $0 == "[" } }
        let literalCount = parts.firstIndex(where: isWild) ?? parts.count
        let literal = parts[..<literalCount].joined(separator: "/")
        let top = absolute ? "/" + literal : (literal.isEmpty ? "." : literal)
        let shownTop = absolute ? "/" + literal : literal
        let checked = Array(top.utf8).withUnsafeBufferPointer { enforcer.path($0, kind: .fsRead, by: principal) }
        let p: String
        switch checked {
        case .failure(let d): return call.raise(d.message)
        case .success(let path): p = path
        }
        if literalCount == parts.count {
            // No wildcard: the path itself, if it is there.
            switch enforcer.perform(p, kind: .fsRead, by: principal, { $0.status() }) {
            case .success: return call.stringListValue([pattern])
            case .failure(.io(let e)) where e == ENOENT || e == ENOTDIR: return call.stringListValue([])
            case .failure(let e): return call.raise(e.message(operation: "fs.glob", path: p))
            }
        }
        let fd: Int32
        switch enforcer.perform(p, kind: .fsRead, by: principal, { $0.open(flags: O_RDONLY | O_DIRECTORY) }) {
        case .success(let opened): fd = opened
        case .failure(.io(let e)) where e == ENOENT || e == ENOTDIR: return call.stringListValue([])
        case .failure(let e): return call.raise(e.message(operation: "fs.glob", path: p))
        }
        var found: [String] = []
        var walker = TreeWalker(shortfall: call.heapShortfall)
        if let why = walker.match(fd, prefix: shownTop, components: parts[literalCount...], into: &found) {
            return call.raise("fs.glob: \(Capability.sanitized(p)): \(why)")
        }
        return call.stringListValue(found)
    }
}

/// Reads directory trees from descriptors opened through the confinement.
struct TreeWalker {
    let shortfall: (Int) -> String?
    var bytes = 0

    /// The entries of the open directory `fd` (closed here) with whether each is a directory
    /// (a symbolic link is not), in name order; or why not.
    static func entries(_ fd: Int32) -> Result<[(name: String, isDirectory: Bool)], Errno> {
        guard let dir = fdopendir(fd) else { let e = errno; close(fd); return .failure(Errno(code: e)) }
        defer { closedir(dir) }
        var out: [(name: String, isDirectory: Bool)] = []
        // NOTE: d_name and d_type are read in place: an entry can be shorter than
        // sizeof(dirent), so copying `entry.pointee` could read past readdir's buffer.
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name) ?? 19
        let typeOffset = MemoryLayout<dirent>.offset(of: \dirent.d_type) ?? 18
        while let entry = readdir(dir) {
            let raw = UnsafeRawPointer(entry)
            let name = String(cString: raw.advanced(by: nameOffset).assumingMemoryBound(to: CChar.self))
            if name == "." || name == ".." { continue }
            var type = raw.load(fromByteOffset: typeOffset, as: UInt8.self)
            if type == UInt8(DT_UNKNOWN) {
                var st = stat()
                type = fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
                    ? UInt8(DT_DIR) : UInt8(DT_REG)
            }
            out.append((name, type == UInt8(DT_DIR)))
        }
        out.sort { $0.name < $1.name }
        return .success(out)
    }

    /// Opens directory `name` inside `parent`. NOTE: one name from the parent's listing (never
    /// `.` or `..`) with O_NOFOLLOW: the result is a child of `parent`, never a link's target.
    static func openChild(_ parent: Int32, _ name: String) -> Int32 {
        openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    }

    static func join(_ prefix: String, _ name: String) -> String {
        prefix.isEmpty ? name : prefix.hasSuffix("/") ? prefix + name : prefix + "/" + name
    }

    /// Notes one more path found; why to stop, if the result grew too big.
    mutating func add(_ path: String, to found: inout [String]) -> String? {
        found.append(path)
        bytes &+= path.utf8.count &+ 48
        if found.count > FSModule.maxTreeEntries { return "more than \(FSModule.maxTreeEntries) entries" }
        if found.count % 1024 == 0, let oom = shortfall(bytes) { return oom }
        return nil
    }

    /// Every entry beneath `fd` (closed here); nil, or why it stopped.
    mutating func walk(_ fd: Int32, prefix: String, into found: inout [String], depth: Int) -> String? {
        let parent = dup(fd)
        defer { if parent >= 0 { close(parent) } }
        guard parent >= 0 else { let e = errno; close(fd); return String(cString: strerror(e)) }
        let list: [(name: String, isDirectory: Bool)]
        switch Self.entries(fd) {
        case .failure(let e): return String(cString: strerror(e.code))
        case .success(let l): list = l
        }
        for entry in list {
            let path = Self.join(prefix, entry.name)
            if let why = add(path, to: &found) { return why }
            guard entry.isDirectory else { continue }
            if depth >= FSModule.maxTreeDepth { return "deeper than \(FSModule.maxTreeDepth) directories" }
            let child = Self.openChild(parent, entry.name)
            if child < 0 {
                // Replaced by a link or removed since the listing: skip it.
                if errno == ELOOP || errno == ENOTDIR || errno == ENOENT { continue }
                return "\(path): \(String(cString: strerror(errno)))"
            }
            if let why = walk(child, prefix: path, into: &found, depth: depth + 1) { return why }
        }
        return nil
    }

    /// The entries beneath `fd` (closed here) matching `components` level by level.
    mutating func match(_ fd: Int32, prefix: String, components: ArraySlice<String>, into found: inout [String]) -> String? {
        guard let component = components.first else { close(fd); return nil }
        let parent = dup(fd)
        defer { if parent >= 0 { close(parent) } }
        guard parent >= 0 else { let e = errno; close(fd); return String(cString: strerror(e)) }
        let list: [(name: String, isDirectory: Bool)]
        switch Self.entries(fd) {
        case .failure(let e): return String(cString: strerror(e.code))
        case .success(let l): list = l
        }
        let last = components.count == 1
        for entry in list where fnmatch(component, entry.name, FNM_PERIOD) == 0 {
            let path = Self.join(prefix, entry.name)
            if last {
                if let why = add(path, to: &found) { return why }
                continue
            }
            guard entry.isDirectory else { continue }
            if components.count > FSModule.maxTreeDepth { return "more than \(FSModule.maxTreeDepth) wildcard levels" }
            let child = Self.openChild(parent, entry.name)
            if child < 0 {
                if errno == ELOOP || errno == ENOTDIR || errno == ENOENT { continue }
                return "\(path): \(String(cString: strerror(errno)))"
            }
            if let why = match(child, prefix: path, components: components.dropFirst(), into: &found) { return why }
        }
        return nil
    }
}
