import CapsuleSystem
/// The load-time audit of an in-process plugin's dynamic imports: a plugin that imports libc
/// functions reaching a host power (files, network, processes, environment, raw native
/// code) is refused unless it is granted that power.
///
/// This is defense in depth, not a boundary. It sees only the plugin's own imports: a
/// library the plugin links (`DT_NEEDED`) may do anything, and native code can make system
/// calls without importing anything (inline `syscall` instructions) or find functions by
/// walking memory. Running the plugin isolated, in a worker locked down by the kernel, is
/// the boundary. See docs/security.md.
public enum ImportAudit {
    /// The host powers imports are sorted into.
    public enum Power: String, CaseIterable, Sendable {
        /// Opening, creating, changing or examining files: needs an `fs.read` or `fs.write` grant.
        case fs
        /// Sockets and name lookup: needs a `net.connect` or `net.listen` grant.
        case net
        /// Starting programs or processes, signalling them: needs a `run` grant.
        case run
        /// Reading or changing the environment: needs an `env` grant.
        case env
        /// Loading code or calling the kernel directly (`dlopen`, `dlsym`, `syscall`): needs
        /// an `ffi` grant, because it reaches every other power.
        case ffi
    }

    /// Imported symbols and the power each reaches. Names are matched exactly, and also with
    /// glibc's `__` fortify and `64` large-file variants folded (`__open64_2` is `open`).
    public static let rules: [String: Power] = {
        var table: [String: Power] = [:]
        let fs = ["open", "openat", "creat", "fopen", "freopen", "fdopen", "opendir", "mkdir", "mkdirat", "rmdir",
                  "unlink", "unlinkat", "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat",
                  "truncate", "chmod", "fchmodat", "chown", "lchown", "fchownat", "stat", "lstat", "fstatat",
                  "statx", "xstat", "lxstat", "fxstatat", "access", "faccessat", "faccessat2", "euidaccess",
                  "readlink", "readlinkat", "realpath", "chdir", "chroot", "mount", "umount", "umount2",
                  "name_to_handle_at", "open_by_handle_at", "mkfifo", "mknod", "mknodat", "utime", "utimes",
                  "utimensat", "remove", "tmpfile", "mkstemp", "mkostemp", "mkdtemp", "tempnam", "tmpnam",
                  "scandir", "nftw", "ftw", "glob", "inotify_add_watch", "fanotify_mark", "setxattr", "getxattr"]
        let net = ["socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "getaddrinfo",
                   "gethostbyname", "gethostbyname2", "gethostbyname_r", "gethostbyaddr", "getnameinfo",
                   "res_query", "res_search", "sendto", "sendmsg", "sendmmsg"]
        let run = ["execve", "execv", "execvp", "execvpe", "execl", "execlp", "execle", "fexecve", "execveat",
                   "system", "popen", "fork", "vfork", "clone", "clone3", "posix_spawn", "posix_spawnp",
                   "kill", "tgkill", "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_open", "pidfd_send_signal"]
        let env = ["getenv", "secure_getenv", "setenv", "unsetenv", "putenv", "clearenv", "environ", "__environ"]
        let ffi = ["dlopen", "dlmopen", "dlsym", "dlvsym", "syscall", "mprotect", "pkey_mprotect"]
        for (names, power) in [(fs, Power.fs), (net, .net), (run, .run), (env, .env), (ffi, .ffi)] {
            for name in names { table[name] = power }
        }
        return table
    }()

    /// The power `symbol` reaches, or nil for symbols the audit lets through (memory, string,
    /// math, time, reading and writing already-open descriptors…).
    public static func power(of symbol: String) -> Power? {
        if let power = rules[symbol] { return power }
        var name = Substring(symbol)
        while name.hasPrefix("_") { name = name.dropFirst() }      // __open_2, __xstat
        if name.hasSuffix("_2") { name = name.dropLast(2) }         // __open_2, __openat64_2
        if name.hasSuffix("_chk") { name = name.dropLast(4) }       // __realpath_chk
        if name.hasSuffix("64") { name = name.dropLast(2) }         // open64, fopen64
        return rules[String(name)]
    }

    /// One refused import.
    public struct Finding: Equatable, Sendable, CustomStringConvertible {
        /// The imported symbol, as the file names it.
        public var symbol: String
        /// The power it reaches, which the plugin is not granted.
        public var power: Power
        /// `imports 'open' (fs) without an fs.read or fs.write grant`
        public var description: String { "imports '\(symbol)' (\(power.rawValue)) without \(Self.grantNeeded(power))" }

        static func grantNeeded(_ power: Power) -> String {
            switch power {
            case .fs: "an fs.read or fs.write grant"
            case .net: "a net.connect or net.listen grant"
            case .run: "a run grant"
            case .env: "an env grant"
            case .ffi: "an ffi grant"
            }
        }
    }

    /// The imports of `image` that reach a power for which `isGranted` says no, in symbol order.
    public static func findings(_ image: ELFImage, isGranted: (Power) -> Bool) -> [Finding] {
        image.imports.compactMap { symbol in
            guard let power = power(of: symbol), !isGranted(power) else { return nil }
            return Finding(symbol: symbol, power: power)
        }
    }

    /// Every import of `image` that reaches some power, grouped by power (for inspection).
    public static func powers(_ image: ELFImage) -> [Power: [String]] {
        var result: [Power: [String]] = [:]
        for symbol in image.imports { if let p = power(of: symbol) { result[p, default: []].append(symbol) } }
        return result
    }
}
