#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Plugins are loaded from a private copy of their shared object, never from the file the
/// user builds. Measured on this machine, loading the live file goes wrong two ways:
///
/// - rebuilding a plugin in place (`cc -o` truncates and rewrites the same inode) changes
///   the code a running host has mapped, which then dies with SIGSEGV or SIGBUS;
/// - glibc's `dlopen` hands back the already-loaded library when it sees the same path or
///   inode again, so a rebuilt plugin could never be loaded next to the old one.
///
/// So each load copies the file to a fresh, unique path in a directory only this process
/// uses (mode 0700), makes it read-only (mode 0400), reads the copy's ELF dynamic section (the import audit and the unload
/// report), `dlopen`s that same copy — what was checked is what runs — and unlinks it at
/// once: the mapping stays valid, and nothing is left behind even if the host is killed.
/// Copying and loading a small plugin costs ~0.1 ms.
enum PrivateCopy {
    /// A copy ready to `dlopen`, with what its dynamic section says.
    struct Staged {
        /// The copy's path; remove it with `discard` once it is loaded (or refused).
        let path: String
        let image: ELFImage
    }

    /// Copies `path` into the staging directory and reads the copy's dynamic section.
    static func stage(_ path: String) -> Result<Staged, PluginLoadError> {
        func refuse(_ reason: String) -> Result<Staged, PluginLoadError> { .failure(PluginLoadError(path: path, reason: reason)) }
        guard let directory = stagingDirectory.value else { return refuse(stagingDirectory.error) }
        // NOTE: O_NONBLOCK: a FIFO (or a device) named like a plugin must not block the open
        // before fstat refuses it; only regular files are read (pread ignores the flag).
        let source = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard source >= 0 else { return refuse("cannot open: \(String(cString: strerror(errno)))") }
        defer { close(source) }
        var info = stat()
        guard fstat(source, &info) == 0 else { return refuse("cannot stat: \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return refuse("not a regular file (FIFOs, devices and sockets are never opened as plugins)") }
        let copyPath = directory + "/" + uniqueName(for: path)
        let destination = open(copyPath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o700)
        guard destination >= 0 else { return refuse("cannot create a private copy in \(directory): \(String(cString: strerror(errno)))") }
        defer { close(destination) }
        if let error = copyContents(from: source, to: destination, size: Int(info.st_size)) {
            unlink(copyPath)
            return refuse("cannot copy to \(copyPath): \(error)")
        }
        // Read-only from here: an isolated worker under a write grant covering the staging
        // directory cannot open the copy for writing (and so rewrite the code it mapped
        // from it) unless it runs as root; it cannot chmod (seccomp).
        guard fchmod(destination, 0o400) == 0 else {
            unlink(copyPath)
            return refuse("cannot make the private copy read-only: \(String(cString: strerror(errno)))")
        }
        switch ELFImage.read(fileDescriptor: destination) {
        case .failure(let error):
            unlink(copyPath)
            return refuse("not a loadable shared object: \(error)")
        case .success(let image):
            return .success(Staged(path: copyPath, image: image))
        }
    }

    /// Deletes a copy (after `dlopen` mapped it, or after a refusal).
    static func discard(_ staged: Staged) { unlink(staged.path) }

    /// Copies `size` bytes with reads and writes (plugins are small; copy_file_range is not
    /// in Glibc's Swift module). Returns the error text, or nil.
    private static func copyContents(from source: Int32, to destination: Int32, size: Int) -> String? {
        var offset = 0
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        while offset < size {
            let got = pread(source, buffer, min(1 << 16, size - offset), off_t(offset))
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { return got == 0 ? "the file shrank while it was copied" : String(cString: strerror(errno)) }
            var written = 0
            while written < got {
                let w = pwrite(destination, buffer + written, got - written, off_t(offset + written))
                if w < 0 && errno == EINTR { continue }
                if w <= 0 { return String(cString: strerror(errno)) }
                written += w
            }
            offset += got
        }
        return nil
    }

    /// `NAME.N.so`, N counting loads in this process: unique, and the loader's messages and
    /// /proc/self/maps still show which plugin a mapping came from.
    private static func uniqueName(for path: String) -> String {
        let base = path.split(separator: "/").last.map(String.init) ?? "plugin.so"
        let stem = base.hasSuffix(".so") ? String(base.dropLast(3)) : base
        return "\(stem).\(counter.add(1, ordering: .relaxed).newValue).so"
    }

    /// A thread-safe counter for copy names.
    private static let counter = Atomic<Int>(0)

    /// The process's staging directory, made once: in `$CAPSULE_PLUGIN_CACHE` if set, else
    /// `$TMPDIR` or `/tmp`, holding a fresh `capsule-plugins-XXXXXX` (mode 0700,
    /// removed when the process exits normally). It must allow executable mappings (not
    /// `noexec`).
    private static let stagingDirectory: (value: String?, error: String) = {
        let names: [String] = ["CAPSULE_PLUGIN_CACHE", "TMPDIR"]
        let parent = names.compactMap { name -> String? in getenv(name).map { String(cString: $0) } }.first { !$0.isEmpty } ?? "/tmp"
        var template = Array((parent + "/capsule-plugins-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            return (nil, "cannot create a staging directory in \(parent): \(String(cString: strerror(errno)))")
        }
        let directory = String(cString: made)
        stagingDirectoryToRemove = directory
        atexit { if let d = PrivateCopy.stagingDirectoryToRemove { rmdir(d) } }
        return (directory, "")
    }()

    /// Read by the atexit handler (which cannot capture).
    /// NOTE: written once, inside `stagingDirectory`'s one-time initialiser and before the
    /// handler is registered; read only by that handler, at exit.
    nonisolated(unsafe) static var stagingDirectoryToRemove: String?
}
