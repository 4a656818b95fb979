#if canImport(Glibc)
import Glibc
#endif

/// The state of one `PluginHost`'s hot reloads: the file watcher (plugins' files and, with
/// them, imported script modules') and its thread's half of each plugin reload, the queue
/// handing prepared versions to the VM's thread, the event observers and the scripts'
/// handlers. `PluginHost+Watch.swift` does the VM thread's half.
///
/// Threads: the watcher's thread runs `fileChanged` (the expensive half: copy, audit, dlopen,
/// handshake, init, export comparison) and queues the result under `mutex`; everything else
/// runs on the VM's thread.
///
/// NOTE: `@unchecked Sendable` because it has two owners, as said above: the fields under
/// `mutex` are shared with the watcher's thread, which reaches the coordinator only through
/// `fileChanged` (by a weak reference) and touches nothing else; the rest belong to the VM's
/// thread.
final class ReloadCoordinator: @unchecked Sendable {
    /// A reload the watcher's thread prepared (or refused), waiting for a safe point.
    struct Ready {
        let module: String
        /// `monotonicNanoseconds()` when the watcher reported the file.
        let started: UInt64
        /// The prepared in-process version or its refusal; nil for an isolated plugin, whose
        /// reload (a new worker, state moved over the protocol) runs whole at the safe point,
        /// and for a script module, which the VM reloads there.
        let result: Result<PluginRegistry.PreparedReload, PluginLoadError>?
        /// The real path of a script module's file; nil for a plugin.
        var scriptPath: String? = nil
    }

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    // Guarded by `mutex`:
    /// Real path of each imported plugin's file → its module name.
    private var modulesByPath: [String: String] = [:]
    /// The real paths of plugins that run isolated.
    private var isolatedPaths: Set<String> = []
    /// Real path of each imported script module → its name in messages.
    private var scriptsByPath: [String: String] = [:]
    /// The identity each watched file had when its last change was reported: a second event
    /// for the same version (an editor that renames its file into place and only then closes
    /// it sends both a rename and a close-after-write) is not a new version.
    private var reportedIdentities: [String: FileIdentity] = [:]
    private var ready: [Ready] = []
    /// Whether the host's `PluginHost` is still there (the watcher thread may outlive it).
    private var prepare: (@Sendable (String) -> Result<PluginRegistry.PreparedReload, PluginLoadError>)?
    private var trigger: SafePointTrigger?

    // The VM's thread only:
    /// The VM the host is installed on (it keeps the host alive).
    weak var vm: VM?
    var watcher: FileWatcher?
    /// Whether the VM's safe-point handler is installed.
    var handlesSafePoints = false
    var observers: [(ReloadEvent) -> Void] = []
    /// The scripts' `plugins.on_reload` and `plugins.on_reload_failed` functions.
    var reloadHandlers: [Value] = []
    var failureHandlers: [Value] = []
    /// Events the scripts' handlers have not seen yet.
    var undelivered: [ReloadEvent] = []
    /// Where errors raised by the scripts' handlers go (standard error unless set).
    var reportHandlerError: (String) -> Void = { message in
        // Unbuffered, like stdio's stderr (which Swift 6 will not read as a global).
        var line = "capsule: \(message)\n"
        line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    init() { pthread_mutex_init(mutex, nil) }

    deinit {
        watcher?.stop()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Starts watching: `prepare` runs the expensive half of a reload of a real path on the
    /// watcher's thread; `trigger` asks the VM for a safe point.
    func start(debounce: Double, trigger: SafePointTrigger,
               prepare: @escaping @Sendable (String) -> Result<PluginRegistry.PreparedReload, PluginLoadError>) throws(FileWatcherError) {
        guard watcher == nil else { return }
        let watcher = try FileWatcher(debounce: debounce) { [weak self] path in self?.fileChanged(path) }
        pthread_mutex_lock(mutex)
        self.prepare = prepare
        self.trigger = trigger
        let paths = Array(modulesByPath.keys) + Array(scriptsByPath.keys)
        pthread_mutex_unlock(mutex)
        for path in paths { try watcher.watch(path) }
        watcher.start()
        self.watcher = watcher
    }

    /// Stops watching (prepared reloads already queued are still applied).
    func stop() {
        watcher?.stop()
        watcher = nil
        pthread_mutex_lock(mutex)
        prepare = nil
        pthread_mutex_unlock(mutex)
    }

    /// A plugin was imported from `realPath` (`identity` before loading): watch it too when
    /// watching. A file replaced between the load and the watch (its events went unseen) is
    /// reloaded now. Returns the watch error, if any (the plugin works, unwatched).
    func imported(module: String, realPath: String, identity: FileIdentity?, isolated: Bool = false) -> FileWatcherError? {
        pthread_mutex_lock(mutex)
        modulesByPath[realPath] = module
        if isolated { isolatedPaths.insert(realPath) } else { isolatedPaths.remove(realPath) }
        pthread_mutex_unlock(mutex)
        guard let watcher else { return nil }
        do { try watcher.watch(realPath) } catch { return error }
        if FileIdentity(realPath) != identity { fileChanged(realPath) }
        return nil
    }

    /// A script module is about to be read from `realPath`: watch it too when watching.
    /// (The watch starts before the read, so no change is missed and no identity compared.)
    /// Returns the watch error, if any.
    func importingScript(name: String, realPath: String) -> FileWatcherError? {
        pthread_mutex_lock(mutex)
        scriptsByPath[realPath] = name
        pthread_mutex_unlock(mutex)
        do { try watcher?.watch(realPath) } catch { return error }
        return nil
    }

    /// Puts back a reload the VM could not do yet (a script module still running its first
    /// top level) and asks for another safe point.
    func retry(_ reload: Ready) {
        pthread_mutex_lock(mutex)
        ready.append(reload)
        let trigger = self.trigger
        pthread_mutex_unlock(mutex)
        trigger?.request()
    }

    /// On the watcher's thread: `path` was replaced and its writer is done.
    private func fileChanged(_ path: String) {
        let started = Self.monotonicNanoseconds()
        let identity = FileIdentity(path)
        pthread_mutex_lock(mutex)
        if let identity {
            if reportedIdentities[path] == identity { pthread_mutex_unlock(mutex); return }
            reportedIdentities[path] = identity
        }
        let module = modulesByPath[path], script = scriptsByPath[path], prepare = self.prepare, trigger = self.trigger
        let isolated = isolatedPaths.contains(path)
        if let script, prepare != nil, let trigger {
            // A script module is read, compiled and run by its VM, at the safe point.
            ready.append(Ready(module: script, started: started, result: nil, scriptPath: path))
            pthread_mutex_unlock(mutex)
            trigger.request()
            return
        }
        pthread_mutex_unlock(mutex)
        guard let module, let prepare, let trigger else { return }
        let result = isolated ? nil : prepare(path)
        pthread_mutex_lock(mutex)
        ready.append(Ready(module: module, started: started, result: result))
        pthread_mutex_unlock(mutex)
        trigger.request()
    }

    /// Takes the reloads waiting for the VM, oldest first.
    func takeReady() -> [Ready] {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        let taken = ready
        ready.removeAll()
        return taken
    }

    static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// What tells one version of a file from the next: device, inode, size and modification
/// time (a rename-over changes the inode, a rewrite in place the size or time).
struct FileIdentity: Equatable {
    let device: UInt64, inode: UInt64, size: Int64, seconds: Int, nanoseconds: Int

    /// The identity of the file at `path`; nil when it cannot be read.
    init?(_ path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        seconds = info.st_mtim.tv_sec
        nanoseconds = info.st_mtim.tv_nsec
    }
}
