#if canImport(Glibc)
import Glibc
#endif

/// The shared libraries an isolated plugin needs, found by the host before its worker starts
/// (docs/security.md#what-the-kernel-guarantees): the worker's first Landlock layer grants
/// exactly these files, and the worker loads them, dependencies first, before the plugin, so
/// the dynamic loader never searches a directory.
///
/// Nothing the plugin's author writes widens that: libraries come only from the trusted
/// directories (the system's standard library directories, and the host's own: its Swift
/// runtime's and its executable's, where `swift build` puts the bundled plugins). A plugin
/// whose `DT_RUNPATH`/`DT_RPATH` names another directory (`/`, `$ORIGIN` outside them, a
/// relative one, `$LIB`), or whose `DT_NEEDED` is a path elsewhere or a library found in no
/// trusted directory, is refused with the entry named.
enum PluginLibraries {
    /// The system's standard library directories, searched in this order.
    static let systemDirectories: [String] = {
        #if arch(x86_64)
        let triple = "x86_64-linux-gnu"
        #else
        let triple = "aarch64-linux-gnu"
        #endif
        return ["/lib/\(triple)", "/usr/lib/\(triple)", "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib"]
    }()

    /// The system directories, then the directory of the host's Swift runtime and its
    /// executable's directory (their real paths): chosen by whoever installed the host.
    static let trustedDirectories: [String] = {
        var directories = systemDirectories
        if let runtime = swiftRuntimeDirectory() { directories.append(runtime) }
        if let executable = PluginHost.executableDirectory() { directories.append(executable) }
        return unique(directories.compactMap(realPath))
    }()

    /// More libraries than this is a refusal (the worker has 64 Landlock path rules in all).
    static let maximumLibraries = 40

    /// The files the worker loads before the plugin at `pluginPath` (whose dynamic section
    /// is `image`), each needed library before the ones needing it; or why it is refused.
    static func resolve(_ image: ELFImage, pluginPath: String,
                        trusted: [String] = trustedDirectories) -> Result<[String], PluginLibraryRefusal> {
        var resolver = Resolver(trusted: trusted)
        do {
            let origin = directory(of: realPath(pluginPath) ?? pluginPath)
            var searchPath: [String] = []
            for entry in image.runPaths {
                guard let directory = resolver.trustedDirectory(entry, origin: origin) else {
                    throw PluginLibraryRefusal(
                        "its library search path (DT_RUNPATH/DT_RPATH) names '\(entry)'\(entry.contains("$ORIGIN") || entry.contains("${ORIGIN}") ? " (\(origin))" : ""), "
                            + "which is not a trusted library directory (\(trusted.joined(separator: ", ")))")
                }
                searchPath.append(directory)
            }
            for name in image.needed { try resolver.visit(name, searchPath: searchPath, neededBy: nil) }
            return .success(resolver.order)
        } catch let refusal as PluginLibraryRefusal {
            return .failure(refusal)
        } catch {
            return .failure(PluginLibraryRefusal("\(error)"))
        }
    }

    /// The walk over DT_NEEDED, depth first, each file once.
    private struct Resolver {
        let trusted: [String]
        var order: [String] = []
        var visited: Set<String> = []

        init(trusted: [String]) { self.trusted = trusted }

        /// The real path of search-path entry `entry` when it is a trusted directory
        /// (`$ORIGIN` expanded to `origin`), else nil.
        func trustedDirectory(_ entry: String, origin: String) -> String? {
            let expanded = entry.replacing("${ORIGIN}", with: origin).replacing("$ORIGIN", with: origin)
            guard expanded.hasPrefix("/"), !expanded.contains("$"), let real = realPath(expanded) else { return nil }
            return trusted.contains(real) ? real : nil
        }

        /// Resolves `name` (needed by the plugin when `neededBy` is nil, else by that library)
        /// and, first, what it needs.
        mutating func visit(_ name: String, searchPath: [String], neededBy: String?) throws {
            let who = neededBy.map { "library \($0)" } ?? "the plugin"
            let file: String
            if name.contains("/") {
                guard name.hasPrefix("/"), let real = realPath(name), trusted.contains(directory(of: real)) else {
                    throw PluginLibraryRefusal("\(who) needs '\(name)' (DT_NEEDED), a path outside the trusted library directories (\(trusted.joined(separator: ", ")))")
                }
                file = real
            } else {
                guard !name.isEmpty, !name.contains("$"),
                      let found = (searchPath + trusted).lazy.compactMap({ regularFile($0 + "/" + name) }).first else {
                    throw PluginLibraryRefusal("\(who) needs '\(name)' (DT_NEEDED), which is in no trusted library directory (\(trusted.joined(separator: ", ")))")
                }
                file = found
            }
            guard visited.insert(file).inserted else { return }
            guard visited.count <= maximumLibraries else {
                throw PluginLibraryRefusal("it needs more than \(maximumLibraries) libraries")
            }
            let dependency = try DependencyCache.shared.read(file)
            // A trusted library's own search path counts only where it is trusted too.
            let own = dependency.runPaths.compactMap { trustedDirectory($0, origin: directory(of: file)) }
            for needed in dependency.needed {
                try visit(needed, searchPath: own, neededBy: file)
            }
            order.append(file)
        }
    }

    /// The directory of the Swift runtime this process runs on, from /proc/self/maps.
    static func swiftRuntimeDirectory() -> String? {
        let fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += buffer[0..<n]
        }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasSuffix("/libswiftCore.so") {
            guard let slash = line.firstIndex(of: "/") else { continue }
            return directory(of: String(line[slash...]))
        }
        return nil
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = Glibc.realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The real path of `path` when it is a regular file.
    static func regularFile(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return realPath(path)
    }

    static func unique(_ list: [String]) -> [String] {
        var seen: Set<String> = []
        return list.filter { seen.insert($0).inserted }
    }
}

/// Why a plugin's libraries cannot be resolved for its worker.
struct PluginLibraryRefusal: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// What a library file needs, read once per file version: the Swift runtime is ten
/// megabytes, and every worker start would read it again.
final class DependencyCache: @unchecked Sendable {
    // NOTE: @unchecked Sendable: `entries` is only touched with `mutex` held.
    static let shared = DependencyCache()

    struct Key: Hashable {
        let path: String
        let device: UInt64, inode: UInt64, size: Int64, modified: Int
    }
    struct Entry {
        let needed: [String]
        let runPaths: [String]
    }

    private var entries: [Key: Entry] = [:]
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    private init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    /// The DT_NEEDED and search path of the library at `path` (a real path).
    func read(_ path: String) throws -> Entry {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw PluginLibraryRefusal("cannot read library \(path): \(String(cString: strerror(errno)))")
        }
        let key = Key(path: path, device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                      modified: info.st_mtim.tv_sec * 1_000_000_000 + info.st_mtim.tv_nsec)
        pthread_mutex_lock(mutex)
        let cached = entries[key]
        pthread_mutex_unlock(mutex)
        if let cached { return cached }
        switch ELFImage.read(path: path, symbols: false) {
        case .failure(let error):
            throw PluginLibraryRefusal("library \(path) is not a readable shared object: \(error)")
        case .success(let image):
            let entry = Entry(needed: image.needed, runPaths: image.runPaths)
            pthread_mutex_lock(mutex)
            entries[key] = entry
            pthread_mutex_unlock(mutex)
            return entry
        }
    }
}
