#if canImport(Glibc)
import Glibc
#endif
import CapsuleCore

/// An errno as an Error.
package struct Errno: Error { let code: Int32 }

/// An open file of `fs.open`: the descriptor and a read-ahead buffer for `read_line`.
/// Closed when the script's handle is closed (`fs.close`) or becomes unreachable.
package final class FSFile {
    var fd: Int32
    var buffer: [UInt8] = []
    init(fd: Int32) { self.fd = fd }
    deinit { if fd >= 0 { close(fd) } }
}

/// The `fs` module: files and directories, every operation checked against the script's
/// `fs.read` / `fs.write` grants and confined beneath the granted directory (`ConfinedPath`).
///
/// ```
/// import "fs"
/// fs.write("out/log.txt", "hello\n")         // fs.write:out
/// print(fs.read("out/log.txt"))              // fs.read:out
/// let f = fs.open("big.csv", "r")
/// while true { let line = fs.read_line(f)  if line == nil { break }  print(line) }
/// fs.close(f)
/// ```
///
/// Reading (`read`, `read_bytes`, `list`, `stat`, `exists`, `open` with "r") needs
/// `fs.read`; writing (`write`, `append`, `mkdir`, `remove`, `rename`, `open` with "w"/"a")
/// needs `fs.write`; `open` with "r+" needs both. `write` replaces the file atomically
/// (`ConfinedPath.replaceContents`); `append` and `open` with "w" write in place. Text read
/// as str is valid UTF-8 (invalid sequences become U+FFFD in `makeString`).
package final class FSModule {
    static let fileType = "fs.File"
    let enforcer: CapabilityEnforcer
    let principal = Principal.script

    package init(enforcer: CapabilityEnforcer) { self.enforcer = enforcer }

    package func moduleDefinition() -> NativeModuleDefinition {
        NativeModuleDefinition(name: "fs", functions: [
            fn("read", 1) { m, c in m.readWhole(c, asBytes: false) },
            fn("read_bytes", 1) { m, c in m.readWhole(c, asBytes: true) },
            fn("write", 2) { m, c in m.writeWhole(c, append: false) },
            fn("append", 2) { m, c in m.writeWhole(c, append: true) },
            fn("list", 1) { m, c in m.list(c) },
            fn("stat", 1) { m, c in m.stat(c) },
            fn("exists", 1) { m, c in m.exists(c) },
            fn("lines", 1) { m, c in m.lines(c) },
            fn("walk", 1) { m, c in m.walk(c) },
            fn("glob", 1) { m, c in m.glob(c) },
            fn("mkdir", 1) { m, c in m.simple(c, "mkdir") { $0.makeDirectory() } },
            fn("remove", 1) { m, c in m.simple(c, "remove") { $0.remove() } },
            fn("rename", 2) { m, c in m.rename(c) },
            fn("open", 2) { m, c in m.open(c) },
            fn("read_chunk", 2) { m, c in m.readChunk(c) },
            fn("read_line", 1) { m, c in m.readLine(c) },
            fn("write_chunk", 2) { m, c in m.writeChunk(c) },
            fn("close", 1) { m, c in m.closeFile(c) },
        ])
    }

    private func fn(_ name: String, _ arity: Int, _ body: @escaping (FSModule, NativeCall) -> Value) -> NativeFunctionDefinition {
        NativeFunctionDefinition(name: name, arity: arity) { [unowned self] call in body(self, call) }
    }

    // MARK: arguments

    /// Argument `i` as a checked absolute path, or nil after raising.
    func path(_ call: NativeCall, _ i: Int, _ function: String, kind: Capability.Kind) -> String? {
        guard let bytes = call.string(i) else {
            _ = call.raise("fs.\(function): argument \(i + 1): expected a path (str), got \(call.typeName(i))")
            return nil
        }
        switch enforcer.path(bytes, kind: kind, by: principal) {
        case .failure(let d): _ = call.raise(d.message); return nil
        case .success(let p): return p
        }
    }

    /// Runs a confined operation; nil after raising on failure.
    func perform<T>(_ call: NativeCall, _ function: String, _ path: String, _ kind: Capability.Kind,
                    following: Bool = true, _ body: (ConfinedPath) -> Result<T, FSFailure>) -> T? {
        switch enforcer.perform(path, kind: kind, following: following, by: principal, body) {
        case .success(let v): return v
        case .failure(let e): _ = call.raise(e.message(operation: "fs.\(function)", path: path)); return nil
        }
    }

    // MARK: whole files

    /// `read` / `read_bytes`. The file's size is checked against the heap limit before the
    /// host reads it into a buffer, and again as the buffer grows (the file may grow, and
    /// some files report no size): a file bigger than the heap has room for is `out of
    /// memory`, not a buffer the limit never saw.
    func readWhole(_ call: NativeCall, asBytes: Bool) -> Value {
        let name = asBytes ? "read_bytes" : "read"
        guard let p = path(call, 0, name, kind: .fsRead) else { return NativeCall.failure }
        switch perform(call, name, p, .fsRead, { $0.open(flags: O_RDONLY) }) {
        case nil: return NativeCall.failure
        case let fd?:
            defer { close(fd) }
            switch Self.readAll(fd, shortfall: call.heapShortfall) {
            case .failure(.io(let code)): return call.raise(FSError.io(code).message(operation: "fs.\(name)", path: p))
            case .failure(.memory(let oom, let size)):
                return call.raise("fs.\(name): \(Capability.sanitized(p)): \(oom) reading \(size) bytes")
            case .success(let data):
                return data.withUnsafeBufferPointer { asBytes ? call.bytesValue($0) : call.stringValue($0) }
            }
        }
    }

    /// Why `readAll` stopped.
    enum ReadFailure: Error {
        /// A read failed with this errno.
        case io(Int32)
        /// The buffer would have grown to this size, for which `shortfall` gave this message.
        case memory(String, Int)
    }

    /// Everything left in `fd`. `shortfall(n)` is asked before the buffer grows to n bytes
    /// (first to the file's size); a message from it stops the read.
    static func readAll(_ fd: Int32, shortfall: (Int) -> String? = { _ in nil }) -> Result<[UInt8], ReadFailure> {
        var data: [UInt8] = []
        var info = Glibc.stat()
        if fstat(fd, &info) == 0, info.st_size > 0 {
            if let oom = shortfall(Int(info.st_size)) { return .failure(.memory(oom, Int(info.st_size))) }
            data.reserveCapacity(Int(info.st_size))
        }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return .failure(.io(errno)) }
            if n == 0 { return .success(data) }
            if let oom = shortfall(data.count + n) { return .failure(.memory(oom, data.count + n)) }
            data.append(contentsOf: chunk[0..<n])
        }
    }

    /// The bytes of a str or bytes argument.
    private func data(_ call: NativeCall, _ i: Int, _ function: String) -> UnsafeBufferPointer<UInt8>? {
        if let s = call.string(i) { return s }
        if let b = call.bytes(i) { return UnsafeBufferPointer(b) }
        _ = call.raise("fs.\(function): argument \(i + 1): expected str or bytes, got \(call.typeName(i))")
        return nil
    }

    func writeWhole(_ call: NativeCall, append: Bool) -> Value {
        let name = append ? "append" : "write"
        guard let p = path(call, 0, name, kind: .fsWrite) else { return NativeCall.failure }
        guard let bytes = data(call, 1, name) else { return NativeCall.failure }
        if !append {
            // Atomic: a temporary file renamed over the target (ConfinedPath.replaceContents).
            return perform(call, name, p, .fsWrite, { $0.replaceContents(with: bytes) }) == nil ? NativeCall.failure : call.nilValue
        }
        switch perform(call, name, p, .fsWrite, { $0.open(flags: O_WRONLY | O_CREAT | O_APPEND) }) {
        case nil: return NativeCall.failure
        case let fd?:
            defer { close(fd) }
            if let e = ConfinedPath.writeAll(fd, bytes) { return call.raise(FSError.io(e).message(operation: "fs.\(name)", path: p)) }
            return call.nilValue
        }
    }

    // MARK: directories and metadata

    func list(_ call: NativeCall) -> Value {
        guard let p = path(call, 0, "list", kind: .fsRead) else { return NativeCall.failure }
        switch perform(call, "list", p, .fsRead, { $0.list() }) {
        case nil: return NativeCall.failure
        case let names?:
            return call.stringListValue(names)
        }
    }

    func stat(_ call: NativeCall) -> Value {
        guard let p = path(call, 0, "stat", kind: .fsRead) else { return NativeCall.failure }
        switch perform(call, "stat", p, .fsRead, { $0.status() }) {
        case nil: return NativeCall.failure
        case let st?:
            let type: String
            switch st.st_mode & S_IFMT {
            case S_IFREG: type = "file"
            case S_IFDIR: type = "dir"
            case S_IFLNK: type = "symlink"
            default: type = "other"
            }
            let modified = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
            return call.recordValue([
                ("type", .string(type)), ("size", .int(Int64(st.st_size))),
                ("modified", .double(modified)), ("mode", .int(Int64(st.st_mode & 0o7777))),
            ])
        }
    }

    func exists(_ call: NativeCall) -> Value {
        guard let p = path(call, 0, "exists", kind: .fsRead) else { return NativeCall.failure }
        switch enforcer.perform(p, kind: .fsRead, by: principal, { $0.status() }) {
        case .success: return call.boolValue(true)
        case .failure(.io(let e)) where e == ENOENT || e == ENOTDIR: return call.boolValue(false)
        case .failure(let e): return call.raise(e.message(operation: "fs.exists", path: p))
        }
    }

    func simple(_ call: NativeCall, _ name: String, _ body: (ConfinedPath) -> Result<Void, FSFailure>) -> Value {
        guard let p = path(call, 0, name, kind: .fsWrite) else { return NativeCall.failure }
        switch perform(call, name, p, .fsWrite, following: false, body) {
        case nil: return NativeCall.failure
        case .some: return call.nilValue
        }
    }

    func rename(_ call: NativeCall) -> Value {
        guard let from = path(call, 0, "rename", kind: .fsWrite),
              let to = path(call, 1, "rename", kind: .fsWrite) else { return NativeCall.failure }
        let target: ConfinedPath
        switch enforcer.confine(to, kind: .fsWrite, following: false, by: principal) {
        case .failure(let d): return call.raise(d.message)
        case .success(let t): target = t
        }
        switch perform(call, "rename", from, .fsWrite, following: false, { $0.rename(to: target) }) {
        case nil: return NativeCall.failure
        case .some: enforcer.allow(Capability(.fsWrite, to), by: principal); return call.nilValue
        }
    }

    // MARK: handles

    private static let release: @convention(c) (UnsafeMutableRawPointer?) -> Void = { pointer in
        guard let pointer else { return }
        Unmanaged<FSFile>.fromOpaque(pointer).release()
    }

    func open(_ call: NativeCall) -> Value {
        guard let modeBytes = call.string(1) else {
            return call.raise("fs.open: argument 2: expected a mode (\"r\", \"w\", \"a\" or \"r+\"), got \(call.typeName(1))")
        }
        let mode = String(decoding: modeBytes, as: UTF8.self)
        let flags: Int32
        let kinds: [Capability.Kind]
        switch mode {
        case "r": flags = O_RDONLY; kinds = [.fsRead]
        case "w": flags = O_WRONLY | O_CREAT | O_TRUNC; kinds = [.fsWrite]
        case "a": flags = O_WRONLY | O_CREAT | O_APPEND; kinds = [.fsWrite]
        case "r+": flags = O_RDWR; kinds = [.fsRead, .fsWrite]
        default: return call.raise("fs.open: unknown mode '\(Capability.sanitized(mode))' (use \"r\", \"w\", \"a\" or \"r+\")")
        }
        guard let p = path(call, 0, "open", kind: kinds[0]) else { return NativeCall.failure }
        switch enforcer.open(p, kinds: kinds, flags: flags, by: principal) {
        case .failure(let e): return call.raise(e.message(operation: "fs.open", path: p))
        case .success(let fd):
            return call.handleValue(Unmanaged.passRetained(FSFile(fd: fd)).toOpaque(), typeName: Self.fileType, destructor: Self.release)
        }
    }

    private func file(_ call: NativeCall, _ function: String) -> FSFile? {
        guard let h = call.handle(0), h.typeName == Self.fileType else {
            _ = call.raise("fs.\(function): argument 1: expected handle<\(Self.fileType)>, got \(call.typeName(0))")
            return nil
        }
        guard let pointer = h.pointer else {
            _ = call.raise("fs.\(function): argument 1: the file is closed")
            return nil
        }
        return Unmanaged<FSFile>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// `read_chunk(file, n)`: up to n bytes; empty bytes at the end of the file.
    func readChunk(_ call: NativeCall) -> Value {
        guard let f = file(call, "read_chunk") else { return NativeCall.failure }
        guard let n = call.int(1), n > 0, n <= 1 << 30 else {
            return call.raise("fs.read_chunk: argument 2: expected a positive int (at most 2^30), got \(call.typeName(1))")
        }
        let buffered = min(f.buffer.count, Int(n))
        var want = Int(n) - buffered
        if want > 0 {
            // The buffer is at most what is left of the file (fs.open opens regular files
            // only), and what it will hold must fit under the heap limit.
            var info = Glibc.stat()
            let offset = lseek(f.fd, 0, SEEK_CUR)
            if fstat(f.fd, &info) == 0, offset >= 0 { want = min(want, max(Int(info.st_size - offset), 0) + 1) }
            if let oom = call.heapShortfall(buffered + want) { return call.raise("fs.read_chunk: \(oom) reading \(buffered + want) bytes") }
        }
        var out = Array(f.buffer.prefix(buffered))
        f.buffer.removeFirst(buffered)
        if want > 0 {
            var chunk = [UInt8](repeating: 0, count: want)
            var got = -1
            repeat { got = chunk.withUnsafeMutableBytes { read(f.fd, $0.baseAddress, $0.count) } } while got < 0 && errno == EINTR
            if got < 0 { return call.raise("fs.read_chunk: \(String(cString: strerror(errno)))") }
            out += chunk[0..<got]
        }
        return out.withUnsafeBufferPointer { call.bytesValue($0) }
    }

    /// `read_line(file)`: the next line without its newline, or nil at the end.
    func readLine(_ call: NativeCall) -> Value {
        guard let f = file(call, "read_line") else { return NativeCall.failure }
        while true {
            if let nl = f.buffer.firstIndex(of: 10) {
                let line = Array(f.buffer[..<nl])
                f.buffer.removeFirst(nl + 1)
                return line.withUnsafeBufferPointer { call.stringValue($0) }
            }
            var chunk = [UInt8](repeating: 0, count: 8192)
            let got = chunk.withUnsafeMutableBytes { read(f.fd, $0.baseAddress, $0.count) }
            if got < 0 { if errno == EINTR { continue }; return call.raise("fs.read_line: \(String(cString: strerror(errno)))") }
            if got == 0 {
                if f.buffer.isEmpty { return call.nilValue }
                let line = f.buffer
                f.buffer = []
                return line.withUnsafeBufferPointer { call.stringValue($0) }
            }
            // A line longer than the heap has room for is `out of memory`.
            if let oom = call.heapShortfall(f.buffer.count + got) {
                return call.raise("fs.read_line: \(oom) reading a line of more than \(f.buffer.count) bytes")
            }
            f.buffer += chunk[0..<got]
        }
    }

    /// `write_chunk(file, data)`: writes all of data (str or bytes); returns its length.
    func writeChunk(_ call: NativeCall) -> Value {
        guard let f = file(call, "write_chunk") else { return NativeCall.failure }
        guard let bytes = data(call, 1, "write_chunk") else { return NativeCall.failure }
        if let e = ConfinedPath.writeAll(f.fd, bytes) { return call.raise("fs.write_chunk: \(String(cString: strerror(e)))") }
        return call.intValue(Int64(bytes.count))
    }

    func closeFile(_ call: NativeCall) -> Value {
        guard call.handle(0)?.typeName == Self.fileType else {
            return call.raise("fs.close: argument 1: expected handle<\(Self.fileType)>, got \(call.typeName(0))")
        }
        call.closeHandle(0)
        return call.nilValue
    }
}
