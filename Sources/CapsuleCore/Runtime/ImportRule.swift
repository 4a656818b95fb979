#if canImport(Glibc)
import Glibc
#endif
import CConfine

/// Where a script may `import` script modules (`.cap` files) from: the import allow-list,
/// in one file (docs/security.md#imports).
///
/// Importing a file is reading it: the module's variables reach the script, and so would
/// its lines in a compile error. So the file, **after every symlink in its path is
/// resolved**, must lie beneath one of these roots:
///
/// 1. the main script's directory (its real path; the current directory for the REPL and
///    for source run without a path),
/// 2. a directory of the module search path the user gave (`--module-path`, `CAPSULE_PATH`,
///    `Configuration.modulePaths`),
/// 3. a path the script is granted `fs.read` on (bare `fs.read` or `--allow-all`: every path).
///
/// Any other import is denied like an `fs.read` outside the grants, a catchable
/// `denied: import PATH (…)`, and the file is never opened, so none of its lines are ever
/// shown. The request is first matched as written (a path outside every root is refused
/// before any system call, so a denial says nothing about whether the file exists); then its
/// real path must be inside a root too (a symlink in the tree pointing out is refused); then
/// that real path, which has no symlink in it, is opened with
/// `openat2(RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS)`, so what was checked is what is
/// read. Only regular files are read (`O_NONBLOCK`, then `fstat`: a FIFO never blocks).
///
/// The roots from the configuration (module paths and grants) are resolved once, when the
/// VM is made; the script's directory when it starts running. `modules.reload` and `--watch`
/// reloads re-read through the same check.
struct ImportRule {
    /// Roots as written (normalized, absolute) and as resolved when the VM was made.
    private let roots: [String]
    /// Every path is importable (bare `fs.read`, `--allow-all`).
    let allowsAll: Bool

    /// The rule of `configuration`: its module paths and the script's `fs.read` grants.
    init(configuration: Configuration, workingDirectory: String) {
        let policy = configuration.policy
        allowsAll = policy.allowsAll || policy.grants.contains { $0.kind == .fsRead && $0.resource == nil }
        var roots: [String] = []
        for path in configuration.modulePaths where !path.isEmpty {
            roots.append(Capability.normalizedPath(path, relativeTo: workingDirectory, applyingParent: true))
        }
        for grant in policy.grants where grant.kind == .fsRead {
            if let resource = grant.resource { roots.append(resource) }
        }
        self.roots = roots + roots.map(Capability.resolvingSymlinks)
    }

    /// Why the script may not import `candidate` (as the import names it) whose real path is
    /// `resolved` (nil: not resolved yet; only the written check is made), with the script's
    /// own directory `scriptDirectory` (a real path) as a root; nil when it may.
    func denial(_ candidate: String, resolved: String?, scriptDirectory: String, workingDirectory: String) -> String? {
        if allowsAll { return nil }
        let written = Capability.normalizedPath(candidate, relativeTo: workingDirectory, applyingParent: false)
        let all = roots + [scriptDirectory]
        let shown = Capability.sanitized(written)
        guard all.contains(where: { Capability.path(written, isWithin: $0) }) else {
            // No system call before this refusal (it must not tell whether the file exists):
            // the advice applies `..` to the text only.
            let real = Capability.sanitized(Capability.normalizedPath(written, relativeTo: "/", applyingParent: true))
            let directory = Runtime.directoryOf(real)
            return "denied: import \(shown) (outside the script's directory, the module path and the fs.read grants; "
                + "grant with \(Policy.shellWord("--allow-read=\(real)")) or \(Policy.shellWord("--module-path=\(directory)")))"
        }
        if let resolved, !all.contains(where: { Capability.path(resolved, isWithin: $0) }) {
            let real = Capability.sanitized(resolved)
            return "denied: import \(shown) (its real path \(real) is outside the script's directory, "
                + "the module path and the fs.read grants; grant with \(Policy.shellWord("--allow-read=\(real)")))"
        }
        return nil
    }

    /// Reads the module at `resolved` (a real path, with no symlink in it): exactly that
    /// path, never through a symlink that appeared since, and only a regular file with one
    /// link, as `fs.read` (a hard link's other names may be outside every root), unless
    /// every path is importable. A refused file is never read, so none of its lines can
    /// appear in a compile error.
    func read(_ resolved: String) -> Result<String, SourceReadError> {
        let flags = UInt64(UInt32(bitPattern: O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY))
        let fd = cconfine_open_resolve(AT_FDCWD, resolved, flags, 0, UInt64(CCONFINE_RESOLVE_NO_SYMLINKS | CCONFINE_RESOLVE_NO_MAGICLINKS))
        guard fd >= 0 else {
            let e = errno
            let reason = e == ELOOP ? "a symlink appeared in its path after it was checked" : String(cString: strerror(e))
            return .failure(SourceReadError(path: resolved, reason: reason))
        }
        defer { close(fd) }
        var st = stat()
        if !allowsAll, fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_nlink > 1 {
            return .failure(SourceReadError(path: resolved, reason: "the file has \(st.st_nlink) hard links, and the others may be outside the script's directory, the module path and the fs.read grants"))
        }
        return readOpenedSource(fd, path: resolved, allowingStreams: false).map { String(decoding: $0, as: UTF8.self) }
    }
}

extension Runtime {
    /// The current directory's real path.
    static func workingDirectory() -> String {
        guard let p = getcwd(nil, 0) else { return "/" }
        defer { free(p) }
        return String(cString: p)
    }

    /// The root the running script's own directory gives (its real path; the current
    /// directory when it has none).
    var importScriptDirectory: String {
        scriptDirectory ?? Runtime.realPath(Runtime.workingDirectory()) ?? Runtime.workingDirectory()
    }

    /// Why `candidate` (real path `resolved`, when known) may not be imported, recorded as a
    /// denied `fs.read` for the audit log; nil when it may.
    func importDenial(_ candidate: String, resolved: String?) -> String? {
        guard let why = importRule.denial(candidate, resolved: resolved, scriptDirectory: importScriptDirectory,
                                          workingDirectory: Runtime.workingDirectory()) else { return nil }
        importDenialObserver?(resolved ?? Capability.normalizedPath(candidate, relativeTo: Runtime.workingDirectory(), applyingParent: false))
        return why
    }
}
