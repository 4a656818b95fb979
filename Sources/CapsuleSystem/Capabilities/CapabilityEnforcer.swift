#if canImport(Glibc)
import Glibc
#endif
import CapsuleCore

/// Checks every use of a host power against one VM's `Policy`, writes it to the audit log,
/// and builds the denial messages. Shared by the host modules (`fs`, `env`, `time`, `ffi`),
/// the plugin loader's requirement check and the host-API table's services for plugins.
package final class CapabilityEnforcer: Sendable {
    package let policy: Policy
    /// `policy` with every fs grant's path resolved when this enforcer was made (the grant
    /// is given): what confined operations open, and what isolated plugins' Landlock rules
    /// are made of (`Capability.resolvingSymlinks`).
    package let resolvedPolicy: Policy
    /// Each fs grant's written path → its resolved path, where they differ.
    private let roots: [String: String]
    package let audit: AuditLog?
    /// What relative paths are resolved against (the process's directory at start).
    package let workingDirectory: String

    /// Paths longer than this are refused before any syscall (PATH_MAX - 1).
    static let maxPathBytes = 4095

    package init(policy: Policy, audit: AuditLog?, workingDirectory: String? = nil) {
        self.policy = policy
        let resolved = policy.resolvingGrantPaths()
        resolvedPolicy = resolved
        var roots: [String: String] = [:]
        let written = policy.grants + policy.plugins.values.flatMap { $0 }
        let resolvedList = resolved.grants + resolved.plugins.values.flatMap { $0 }
        for (w, r) in zip(written, resolvedList) where w.kind.isFileSystem {
            if let from = w.resource, let to = r.resource, from != to { roots[from] = to }
        }
        self.roots = roots
        self.audit = audit
        self.workingDirectory = workingDirectory ?? Self.currentDirectory()
    }

    static func currentDirectory() -> String {
        guard let p = getcwd(nil, 0) else { return "/" }
        defer { free(p) }
        return String(cString: p)
    }

    /// Checks `request` for `principal` and records it. Returns the covering grant, or the
    /// denial message.
    package func check(_ request: Capability, by principal: Principal) -> Result<Capability, CapabilityDenial> {
        if let grant = policy.grant(for: request, by: principal) {
            audit?.record(request, by: principal, allowed: true)
            return .success(grant)
        }
        audit?.record(request, by: principal, allowed: false)
        return .failure(CapabilityDenial(Policy.denial(request, by: principal)))
    }

    /// Records a request refused for `reason` after the policy allowed it (the confinement
    /// said no), or refused before matching (an invalid path), and returns the message.
    func deny(_ request: Capability, by principal: Principal, reason: String) -> CapabilityDenial {
        audit?.record(request, by: principal, allowed: false)
        return CapabilityDenial(Policy.denial(request, by: principal, reason: reason))
    }

    /// Records a use allowed by the policy (after the confinement let it through).
    package func allow(_ request: Capability, by principal: Principal) {
        audit?.record(request, by: principal, allowed: true)
    }

    /// Turns path bytes from a script or plugin into a checked absolute path: refuses NUL
    /// bytes, invalid UTF-8, empty and overlong paths (as denials, with the reason).
    package func path(_ bytes: UnsafeBufferPointer<UInt8>, kind: Capability.Kind, by principal: Principal) -> Result<String, CapabilityDenial> {
        let shown = String(decoding: bytes.prefix(200), as: UTF8.self)
        func refuse(_ why: String) -> Result<String, CapabilityDenial> {
            .failure(deny(Capability(kind, shown), by: principal, reason: why))
        }
        if let nul = bytes.firstIndex(of: 0) { return refuse("the path has a NUL byte at index \(nul)") }
        guard let text = String(validating: bytes, as: UTF8.self) else { return refuse("the path is not valid UTF-8") }
        if text.isEmpty { return refuse("the path is empty") }
        if bytes.count > Self.maxPathBytes { return refuse("the path is longer than \(Self.maxPathBytes) bytes") }
        return .success(Capability.normalizedPath(text, relativeTo: workingDirectory, applyingParent: false))
    }

    /// Checks an fs request on `path` (already checked by `path(_:)`) and locates it in its
    /// grant. The use is recorded by the caller once the confined operation has run.
    /// `following`: the operation follows a symlink at the end of the path (an open does;
    /// an operation on the name, such as the new name of a rename, does not).
    package func confine(_ path: String, kind: Capability.Kind, following: Bool = true,
                         by principal: Principal) -> Result<ConfinedPath, CapabilityDenial> {
        if let confined = locate(path, kind: kind, by: principal) { return .success(confined) }
        let target = resolved(path, followingLast: following)
        if target != path, let confined = locate(target, kind: kind, by: principal) { return .success(confined) }
        return .failure(refuse(path, as: target, kind: kind, by: principal))
    }

    /// Where `path` lies in the grant that covers it, or nil when none does (nothing recorded).
    private func locate(_ path: String, kind: Capability.Kind, by principal: Principal) -> ConfinedPath? {
        guard let grant = policy.grant(for: Capability(kind, path), by: principal) else { return nil }
        let written = grant.resource ?? "/"
        return ConfinedPath(request: path, grant: written, root: roots[written] ?? written)
    }

    /// Records and words the denial of `kind` on `path`, whose resolved form (`resolved`) is
    /// `target`: the record names `target` and the advice grants it, so both name a grant
    /// that covers what the kernel would reach (`capsule policy suggest` reads the record).
    /// Under a grant that covers `target` itself, only a path that changed while it was
    /// resolved gets here: there is no grant to advise then.
    private func refuse(_ path: String, as target: String, kind: Capability.Kind, by principal: Principal) -> CapabilityDenial {
        let request = Capability(kind, target)
        audit?.record(request, by: principal, allowed: false)
        var reason: String? = nil
        if policy.allows(request, by: principal) {
            reason = "the path changed while it was resolved"
        } else if target != path {
            reason = "it resolves to \(target): \(Policy.hint(for: request, to: principal))"
        }
        return CapabilityDenial(Policy.denial(Capability(kind, path), by: principal, reason: reason))
    }

    /// Runs a confined operation on `path` and records its use: denied when the
    /// confinement refused it, allowed otherwise (even if it then failed with an I/O error).
    ///
    /// A path is first matched as written (`..` kept). When no grant covers it, or the
    /// kernel finds that it leads outside the grant that does (a `..` or a symlink out),
    /// it is tried once more as `resolved` gives it, under the grant covering that; a
    /// denial then names that resolved path, so its advice is a grant that works. The
    /// second try is confined beneath its own grant like the first: resolving only chooses
    /// which grant is asked, never what the kernel lets through.
    /// `following` is as for `confine`: false for operations on the name itself (mkdir,
    /// remove, rename), so the second try never acts on a symlink's target instead.
    package func perform<T>(_ path: String, kind: Capability.Kind, following: Bool = true, by principal: Principal,
                    _ body: (ConfinedPath) -> Result<T, FSFailure>) -> Result<T, FSError> {
        var target = path
        if let confined = locate(path, kind: kind, by: principal) {
            let result = body(confined)
            guard case .failure(.escapes) = result else { return finish(result, path, written: path, kind: kind, by: principal) }
        }
        target = resolved(path, followingLast: following)
        if target != path, let confined = locate(target, kind: kind, by: principal) {
            let result = body(confined)
            guard case .failure(.escapes) = result else { return finish(result, target, written: path, kind: kind, by: principal) }
        }
        return .failure(.denied(refuse(path, as: target, kind: kind, by: principal)))
    }

    /// Records the end of a confined operation on `path` (what was opened: `written` as the
    /// script wrote it, or resolved) and turns it into the modules' error, which names
    /// `written`.
    private func finish<T>(_ result: Result<T, FSFailure>, _ path: String, written: String, kind: Capability.Kind,
                           by principal: Principal) -> Result<T, FSError> {
        switch result {
        case .failure(.denied(let why)):
            audit?.record(Capability(kind, path), by: principal, allowed: false)
            return .failure(.denied(CapabilityDenial(Policy.denial(Capability(kind, written), by: principal, reason: why))))
        case .failure(.escapes):
            return .failure(.denied(refuse(written, as: path, kind: kind, by: principal)))
        case .failure(.io(let e)):
            allow(Capability(kind, path), by: principal)
            return .failure(.io(e))
        case .success(let value):
            allow(Capability(kind, path), by: principal)
            return .success(value)
        }
    }

    /// `path` (absolute, `.`-free) as the kernel would reach it now, for advice and for a
    /// second try: every symlink and `..` resolved as far as the path exists, the rest as
    /// written with `..` applied (`Capability.resolvingSymlinks`, which resolves grants).
    /// The last component is kept as a name (an operation on a symlink acts on the link)
    /// unless `followingLast` (opens follow it).
    package func resolved(_ path: String, followingLast: Bool) -> String {
        if followingLast { return Capability.resolvingSymlinks(path) }
        guard let slash = path.lastIndex(of: "/") else { return path }
        let name = path[path.index(after: slash)...]
        if name.isEmpty || name == ".." { return Capability.resolvingSymlinks(path) }
        let directory = Capability.resolvingSymlinks(String(path[..<slash]))
        return directory == "/" ? "/" + name : directory + "/" + name
    }
}

extension CapabilityEnforcer {
    /// Opens `path` for an operation that needs every kind in `kinds` (`fs.read` and/or
    /// `fs.write`): the one open used by `fs.open` and the plugins' `host->open_file`.
    ///
    /// Every kind is checked against the policy before anything is opened. The file is then
    /// opened once, confined beneath the `fs.write` grant when writing is among `kinds` (the
    /// first kind otherwise), with that grant's hard-link rule; each other kind's grant must
    /// confine the path to the same file (`ConfinedPath.holds`: same device and inode, and
    /// its own hard-link rule). O_TRUNC is applied only after every grant agreed.
    package func open(_ path: String, kinds: [Capability.Kind], flags: Int32, mode: mode_t = 0o666,
                      by principal: Principal) -> Result<Int32, FSError> {
        guard let first = kinds.first else { return .failure(.io(EINVAL)) }
        let primary = kinds.contains(.fsWrite) ? Capability.Kind.fsWrite : first
        var others: [(Capability.Kind, ConfinedPath)] = []
        for kind in kinds where kind != primary {
            switch confine(path, kind: kind, by: principal) {
            case .failure(let d): return .failure(.denied(d))
            case .success(let c): others.append((kind, c))
            }
        }
        let truncate = flags & O_TRUNC != 0 && !others.isEmpty
        let fd: Int32
        switch perform(path, kind: primary, by: principal, { $0.open(flags: truncate ? flags & ~O_TRUNC : flags, mode: mode) }) {
        case .failure(let e): return .failure(e)
        case .success(let opened): fd = opened
        }
        for (kind, confined) in others {
            switch confined.holds(fd) {
            case .success:
                allow(Capability(kind, path), by: principal)
            case .failure(.denied(let why)):
                close(fd)
                return .failure(.denied(deny(Capability(kind, path), by: principal, reason: why)))
            case .failure(.escapes):
                close(fd)
                return .failure(.denied(refuse(path, as: resolved(path, followingLast: true), kind: kind, by: principal)))
            case .failure(.io(let e)):
                close(fd)
                allow(Capability(kind, path), by: principal)
                return .failure(.io(e))
            }
        }
        if truncate, ftruncate(fd, 0) != 0 { let e = errno; close(fd); return .failure(.io(e)) }
        return .success(fd)
    }
}

/// A denial's message (`denied: KIND RESOURCE (…)`).
package struct CapabilityDenial: Error {
    package let message: String
    init(_ message: String) { self.message = message }
}

/// An fs operation's failure as the modules report it.
package enum FSError: Error {
    case denied(CapabilityDenial)
    case io(Int32)

    /// The script-visible message; I/O errors are `OPERATION: PATH: strerror`.
    package func message(operation: String, path: String) -> String {
        switch self {
        case .denied(let d): d.message
        case .io(let e): "\(operation): \(Capability.sanitized(path)): \(String(cString: strerror(e)))"
        }
    }
}
