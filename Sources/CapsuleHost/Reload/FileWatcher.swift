#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Watches files for replacement with inotify, on a thread of its own, and reports each
/// changed file once its writer is done.
///
/// It watches the files' *directories*, not the files: build tools either rewrite the file in
/// place (`cc -o`: `IN_CLOSE_WRITE`) or write a temporary file and rename it over the old
/// one (`IN_MOVED_TO`), which leaves a watch on the old inode looking at a deleted file. A
/// change is reported after `debounce` seconds without further events on that file, so a
/// burst of writes is one report. Reports arrive on the watcher's thread.
public final class FileWatcher: Sendable {
    /// Called with the watched path that changed.
    public typealias Handler = @Sendable (String) -> Void

    private let inotify: Int32
    /// A pipe: writing to `wakeup.1` wakes the thread up to stop.
    private let wakeup: (Int32, Int32)
    private let debounce: Double
    private let handler: Handler
    private struct Watches {
        /// Watch descriptor → directory; directory → watched file names in it.
        var directories: [Int32: String] = [:]
        var files: [String: Set<String>] = [:]
        var thread: pthread_t?
    }
    /// Shared by the callers and the watcher's thread.
    private let state = Mutex(Watches())

    /// A watcher reporting to `handler`; throws when inotify is unavailable.
    public init(debounce: Double = 0.002, handler: @escaping Handler) throws(FileWatcherError) {
        inotify = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard inotify >= 0 else { throw FileWatcherError("inotify_init1: \(String(cString: strerror(errno)))") }
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            close(inotify)
            throw FileWatcherError("pipe: \(String(cString: strerror(errno)))")
        }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        wakeup = (ends[0], ends[1])
        self.debounce = debounce
        self.handler = handler
    }

    deinit {
        stop()
        close(inotify)
        close(wakeup.0)
        close(wakeup.1)
    }

    /// Starts watching `path` (a file that may be replaced later).
    public func watch(_ path: String) throws(FileWatcherError) {
        let (directory, name) = Self.split(path)
        try state.withLock { (s) throws(FileWatcherError) in
            if s.files[directory] == nil {
                let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY)
                let wd = inotify_add_watch(inotify, directory, mask)
                guard wd >= 0 else { throw FileWatcherError("cannot watch \(directory): \(String(cString: strerror(errno)))") }
                s.directories[wd] = directory
            }
            s.files[directory, default: []].insert(name)
        }
    }

    /// The paths being watched.
    public var watched: [String] {
        state.withLock { s in s.files.flatMap { directory, names in names.map { directory + "/" + $0 } }.sorted() }
    }

    /// Starts the watching thread (once).
    public func start() {
        state.withLock { s in startThread(&s.thread) }
    }

    /// `start` with the lock held.
    private func startThread(_ thread: inout pthread_t?) {
        guard thread == nil else { return }
        let me = Unmanaged.passRetained(self)
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let watcher = Unmanaged<FileWatcher>.fromOpaque(arg!).takeRetainedValue()
            watcher.loop()
            return nil
        }, me.toOpaque())
        if rc == 0 { thread = t } else { me.release() }
    }

    /// Stops the thread and waits for it.
    public func stop() {
        let t = state.withLock { s in
            defer { s.thread = nil }
            return s.thread
        }
        guard let t else { return }
        var one: UInt8 = 1
        _ = write(wakeup.1, &one, 1)
        if pthread_equal(t, pthread_self()) == 0 { pthread_join(t, nil) } else { pthread_detach(t) }
    }

    // MARK: the thread

    private func loop() {
        // path → time of its last event, and whether that event finished a write (close or
        // rename): IN_MODIFY and IN_CREATE mean a write is going on.
        var pending: [String: (last: Double, ready: Bool)] = [:]
        var fds = [pollfd(fd: inotify, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeup.0, events: Int16(POLLIN), revents: 0)]
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 64 * 1024, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            var timeout: Int32 = -1
            if let earliest = pending.values.filter(\.ready).map(\.last).min() {
                timeout = Int32(max(0, ((earliest + debounce) - Self.now()) * 1000).rounded(.up))
            }
            let n = poll(&fds, 2, timeout)
            if n < 0 && errno != EINTR { return }
            if fds[1].revents != 0 { return }
            // NOTE: drained whether or not poll saw it readable: when poll returns on its
            // timeout, a write may have started since, and its events must be seen before a
            // report (or a writer that resumed right after the debounce is reported half-way).
            do {
                while true {
                    let count = read(inotify, buffer, 64 * 1024)
                    guard count > 0 else { break }
                    var offset = 0
                    while offset + MemoryLayout<inotify_event>.size <= count {
                        let event = buffer.load(fromByteOffset: offset, as: inotify_event.self)
                        let nameStart = buffer + offset + MemoryLayout<inotify_event>.size
                        let name = event.len > 0 ? String(cString: nameStart.assumingMemoryBound(to: CChar.self)) : ""
                        offset += MemoryLayout<inotify_event>.size + Int(event.len)
                        let (directory, watched) = state.withLock { s in
                            let directory = s.directories[event.wd]
                            return (directory, directory.map { s.files[$0]?.contains(name) ?? false } ?? false)
                        }
                        if let directory, watched {
                            let path = directory + "/" + name
                            // Ready only when the latest event finished a write: a write that
                            // starts after another finished (truncate, then write) must close
                            // too, or a pause in it would report a half-written file.
                            let finished = event.mask & UInt32(IN_CLOSE_WRITE | IN_MOVED_TO) != 0
                            pending[path] = (Self.now(), finished)
                        }
                    }
                }
            }
            let now = Self.now()
            for (path, state) in pending where state.ready && now - state.last >= debounce {
                pending[path] = nil
                handler(path)
            }
        }
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }
}

/// Why a file watch could not be set up.
public struct FileWatcherError: Error, CustomStringConvertible {
    /// What failed, with the system's reason.
    public var description: String
    init(_ description: String) { self.description = description }
}
