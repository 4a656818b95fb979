#if canImport(Glibc)
import Glibc
#endif

extension Capability {
    /// The most symlinks followed while resolving one granted path (the kernel's own limit).
    static let maxSymlinkHops = 40

    /// `path` (absolute, normalized) with every symlink in it resolved **now**: the rule for
    /// a granted path that is, or goes through, a symlink (docs/security.md#path-confinement-what-holds).
    /// A grant of `/etc/localtime` (a symlink) is a grant of the file it points to at the
    /// moment the grant is given; the host then opens that resolved path without following
    /// symlinks, so one that appears in it later is refused rather than followed.
    ///
    /// Components that do not exist (an output file not written yet, a dangling symlink's
    /// target) are kept as written after the existing, resolved prefix. A symlink loop, or
    /// more than 40 symlinks, leaves the path as written (every open of it then fails).
    package static func resolvingSymlinks(_ path: String) -> String {
        var resolved: [String] = []
        var pending: [Substring] = path.split(separator: "/").reversed()
        var hops = 0
        var exists = true
        while let part = pending.popLast() {
            if part.isEmpty || part == "." { continue }
            if part == ".." { if !resolved.isEmpty { resolved.removeLast() }; continue }
            resolved.append(String(part))
            guard exists else { continue }
            let current = "/" + resolved.joined(separator: "/")
            var st = stat()
            guard lstat(current, &st) == 0 else { exists = false; continue }
            guard (st.st_mode & S_IFMT) == S_IFLNK else { continue }
            hops += 1
            guard hops <= maxSymlinkHops, let target = readLink(current) else { return path }
            resolved.removeLast()
            if target.hasPrefix("/") { resolved.removeAll() }
            pending.append(contentsOf: target.split(separator: "/").reversed())
        }
        return "/" + resolved.joined(separator: "/")
    }

    /// The target of the symlink at `path`, or nil.
    private static func readLink(_ path: String) -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        // NOTE: the buffer is a local array of 4096 bytes, so its base address is never nil.
        let n = buffer.withUnsafeMutableBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) { readlink(path, $0, b.count) }
        }
        guard n > 0, n < buffer.count else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }

    /// This grant with its fs path resolved (`resolvingSymlinks`); other grants unchanged.
    package var resolvedGrant: Capability {
        guard kind.isFileSystem, let resource else { return self }
        return Capability(kind, Capability.resolvingSymlinks(resource))
    }
}

extension Policy {
    /// This policy with every fs grant's path resolved now (`Capability.resolvingSymlinks`):
    /// what the kernel is given for isolated plugins (Landlock rules), and the anchors the
    /// host opens for confined operations.
    package func resolvingGrantPaths() -> Policy {
        var result = self
        result.grants = grants.map(\.resolvedGrant)
        result.plugins = plugins.mapValues { $0.map(\.resolvedGrant) }
        return result
    }
}
