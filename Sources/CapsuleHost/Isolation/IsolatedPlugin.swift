#if canImport(Glibc)
import Glibc
#endif
import CapsuleSystem
import CapsuleIsolation
import CapsuleSyntax
import CapsuleSDK

/// A plugin that runs in its own locked-down worker process (`capsule-worker`), bound into
/// one VM with the same module shape, argument checks and messages as in-process
/// (docs/security.md#isolated-plugins).
///
/// Lifecycle: `load` stages a private copy of the shared object (kept open for restarts),
/// starts the worker, checks the descriptor the worker sends exactly like an in-process one,
/// sends the call plans and has the worker run `init`. A worker that dies, overruns a
/// deadline or breaks the protocol is killed and reaped; the call fails with a catchable
/// error, and the next call starts a new worker from the same private copy. Handles belong
/// to the worker that made them: after a restart they are invalid.
final class IsolatedPlugin {
    let name: String
    /// The path the plugin was found at (for messages).
    let path: String
    let settings: IsolationSettings
    let workerExecutable: String
    /// The checked descriptor (function pointers are placeholders: the code is in the worker);
    /// a hot reload replaces it (`IsolatedPlugin+Reload.swift`).
    var manifest: PluginManifest
    let prepared: [PreparedExport]
    let context: CallContext
    var bindings: [ExportBinding] = []
    /// The private copy, kept open: a restart loads exactly the bytes the first start did
    /// (a hot reload replaces it with the new version's copy).
    var copy: Int32
    /// The libraries the worker loads before the plugin (`PluginLibraries`), readable only
    /// while it loads.
    var loadPaths: [String]
    /// The INIT payload: one call plan per export of `manifest`.
    var plans: [UInt8]
    /// For each binding (the exports of the version first loaded), its export's index in
    /// `manifest`: a reloaded version may order its exports differently.
    var exportIndices: [Int]
    /// The policy it was loaded under (a reloaded version's requirements are checked against it).
    let enforcer: CapabilityEnforcer

    /// The running worker; nil after a failure, until the next call restarts it.
    var worker: WorkerProcess?
    /// Counts workers started: a handle made by an earlier one is invalid.
    var generation = 1
    /// The generation a hot reload started (0 before any): older handles name the reload.
    var reloadedGeneration = 0
    /// Handle ids whose script handles were collected, sent with the next request.
    var pendingDestroys: [UInt64] = []
    /// True while a call is between sending and converting its results.
    var busy = false
    /// Fibers waiting for the worker while another fiber's call is in flight (woken, all,
    /// when it returns; each then runs its call again).
    var workerWaiters: [CompletionToken] = []
    /// Where waits for the worker run when the calling fiber can park (the host's pool);
    /// nil: on the VM's thread.
    var blockingPool: BlockingPool?
    /// Where str/bytes results are copied out of shared memory before they are converted.
    var scratch: UnsafeMutableRawPointer
    var scratchSize = 4096

    /// Placeholders for the C pointers of an isolated manifest: the worker calls the real
    /// ones. Never called in the host.
    static let remoteFunction: @convention(c) () -> Void = { fatalError("capsule: an isolated export was called in-process") }
    static let remoteInit: @convention(c) (UnsafePointer<capsule_host_api>?) -> Int32 = { _ in
        fatalError("capsule: an isolated plugin's init was called in-process")
    }

    private init(name: String, path: String, settings: IsolationSettings, workerExecutable: String,
                 manifest: PluginManifest, prepared: [PreparedExport], copy: Int32, loadPaths: [String],
                 plans: [UInt8], enforcer: CapabilityEnforcer, worker: WorkerProcess) {
        self.name = name
        self.path = path
        self.settings = settings
        self.workerExecutable = workerExecutable
        self.manifest = manifest
        self.prepared = prepared
        self.copy = copy
        self.loadPaths = loadPaths
        self.plans = plans
        self.enforcer = enforcer
        exportIndices = Array(manifest.exports.indices)
        self.worker = worker
        context = CallContext(pluginName: name)
        scratch = .allocate(byteCount: scratchSize, alignment: 16)
        bindings = prepared.map { p in
            ExportBinding(p, moduleName: name, context: context, handleName: { name + "." + $0 },
                          destructor: { _ in HandleProxy.release })
        }
    }

    deinit {
        worker?.terminate()
        close(copy)
        scratch.deallocate()
    }

    /// The worker executable: the setting, else `$CAPSULE_WORKER`, else `capsule-worker` in
    /// the running executable's directory.
    static func workerExecutable(_ settings: IsolationSettings) -> String {
        if let path = settings.workerPath { return path }
        if let variable = getenv("CAPSULE_WORKER"), variable.pointee != 0 { return String(cString: variable) }
        return (PluginHost.executableDirectory() ?? ".") + "/capsule-worker"
    }

    /// What `load` did.
    enum Loaded {
        /// The plugin runs in its worker.
        case isolated(IsolatedPlugin)
        /// `keep` said the plugin need not be isolated: the worker was stopped before the
        /// plugin's init; load it in-process.
        case inProcess
        /// Isolation is unavailable here (no worker executable, no Landlock, no spawn);
        /// none of the plugin's code ran. The error says why.
        case unavailable(PluginLoadError)
    }

    /// Loads the plugin at `realPath` (found as `path`) into a new worker started with
    /// `settings`. The descriptor the worker sends is checked like an in-process one; `keep`
    /// decides whether the plugin stays isolated, and then the capabilities it requires are
    /// checked against `enforcer`'s policy. `hint` ends refusals of exports that cannot run
    /// isolated (why the plugin is isolated, how to run it in-process).
    static func load(path: String, realPath: String, name: String, settings: IsolationSettings, enforcer: CapabilityEnforcer,
                     keep: (PluginManifest) -> Bool = { _ in true },
                     hint: (PluginManifest) -> String? = { _ in nil }) -> Result<Loaded, PluginLoadError> {
        func refuse(_ reason: String) -> Result<Loaded, PluginLoadError> {
            .failure(PluginLoadError(path: path, reason: reason))
        }
        let executable = workerExecutable(settings)
        guard access(executable, X_OK) == 0 else {
            return .success(.unavailable(PluginLoadError(path: path, reason: "cannot isolate plugin \(name): no worker executable at \(executable) (swift build builds capsule-worker; CAPSULE_WORKER overrides the path)")))
        }
        let worker: WorkerProcess, fields: DescriptorFields, copy: Int32, loadPaths: [String]
        switch launch(realPath: realPath, executable: executable, settings: settings, name: name) {
        case .failure(let e):
            return e.unavailable ? .success(.unavailable(PluginLoadError(path: path, reason: e.message))) : refuse(e.message)
        case .success(let l): (worker, fields, copy, loadPaths) = (l.worker, l.fields, l.copy, l.loadPaths)
        }
        func stop(_ result: Result<Loaded, PluginLoadError>) -> Result<Loaded, PluginLoadError> {
            worker.terminate()
            close(copy)
            return result
        }
        let manifest: PluginManifest
        switch PluginManifest.check(fields, path: path) {
        case .failure(let e): return stop(.failure(e))
        case .success(let m): manifest = m
        }
        guard manifest.name == name else { return stop(refuse("the plugin is named '\(manifest.name)', not '\(name)'")) }
        // (Before the requirements are checked: an in-process load checks them itself.)
        guard keep(manifest) else { return stop(.success(.inProcess)) }
        if let refusal = PluginLoader.admissionRefusal(manifest, enforcer: enforcer) {
            return stop(.failure(PluginLoadError(path: path, reason: refusal, byPolicy: true)))
        }
        let why = hint(manifest).map { "; " + $0 } ?? ""
        var prepared: [PreparedExport] = []
        for export in manifest.exports {
            // Structs, callbacks, `...` and `!errno` need the in-process bridge (a callback would
            // have to call back across the process boundary): such an export is bound to an
            // error (`IsolatedPlugin.inProcessOnly`), the plugin's other exports work.
            guard let p = PreparedExport(export), p.cArgumentCount + export.signature.parameters.count(where: { $0.isOut }) <= maximumSlots else {
                return stop(refuse("export '\(export.name)' of plugin \(name) has too many parameters to run isolated\(why)"))
            }
            prepared.append(p)
        }
        let plugin = IsolatedPlugin(name: name, path: path, settings: settings, workerExecutable: executable,
                                    manifest: manifest, prepared: prepared, copy: copy, loadPaths: loadPaths,
                                    plans: plans(manifest), enforcer: enforcer, worker: worker)
        if let error = plugin.initialize(worker) {
            plugin.worker = nil
            return refuse(error.message)
        }
        return .success(.isolated(plugin))
    }

    /// C argument slots plus out slots an isolated export may use (capsule_isolation.h's
    /// CAPSULE_ISO_MAX_SLOTS, less room for a bytes result's hidden argument).
    static let maximumSlots = 60

    /// A worker started on a new private copy of a plugin file, with the descriptor it sent:
    /// how a first load and a hot reload both begin.
    struct Launch {
        let worker: WorkerProcess
        let fields: DescriptorFields
        /// The private copy, open (the staged file itself is already removed).
        let copy: Int32
        /// The libraries the worker loads before the plugin (`PluginLibraries`).
        let loadPaths: [String]
    }

    /// Stages a private copy of the file at `realPath`, keeps it open and starts a worker on
    /// it. On failure the copy is closed again; only a worker that could not be spawned at
    /// all (`start`) makes the error `unavailable`.
    static func launch(realPath: String, executable: String, settings: IsolationSettings,
                       name: String, describeOnly: Bool = false) -> Result<Launch, IsolationError> {
        let staged: PrivateCopy.Staged
        switch PrivateCopy.stage(realPath) {
        case .success(let s): staged = s
        case .failure(let e): return .failure(IsolationError(e.reason))
        }
        let copy = open(staged.path, O_RDONLY | O_CLOEXEC)
        guard copy >= 0 else {
            PrivateCopy.discard(staged)
            return .failure(IsolationError("cannot open the private copy: \(WorkerProcess.errorText())"))
        }
        let loadPaths: [String]
        switch PluginLibraries.resolve(staged.image, pluginPath: realPath) {
        case .failure(let refusal):
            PrivateCopy.discard(staged)
            close(copy)
            return .failure(IsolationError("plugin \(name) cannot run isolated: \(refusal.message); to run it in the capsule process, trust it with --trust=\(name) or \"trusted\": true for it under \"plugins\" in capsule.json"))
        case .success(let libraries): loadPaths = libraries
        }
        let started = start(executable: executable, copyPath: staged.path, settings: settings, loadPaths: loadPaths, name: name,
                            describeOnly: describeOnly)
        PrivateCopy.discard(staged)
        switch started {
        case .failure(let e):
            close(copy)
            return .failure(e)
        case .success(let (worker, fields)):
            return .success(Launch(worker: worker, fields: fields, copy: copy, loadPaths: loadPaths))
        }
    }

    /// Starts a worker on the private copy at `copyPath` and reads the descriptor it sends.
    /// With `describeOnly` (`inspect`), a descriptor declaring struct types is not refused.
    static func start(executable: String, copyPath: String, settings: IsolationSettings,
                      loadPaths: [String], name: String, describeOnly: Bool = false) -> Result<(WorkerProcess, DescriptorFields), IsolationError> {
        let spawned = WorkerProcess.spawn(executable: executable, bufferSize: settings.bufferSize, environment: settings.environment) { shared, data, size in
            configure(shared, data: data, size: size, copyPath: copyPath, settings: settings, loadPaths: loadPaths)
        }
        let worker: WorkerProcess
        switch spawned {
        case .failure(let e): return .failure(IsolationError("cannot start the worker for plugin \(name): \(e.message)", unavailable: true))
        case .success(let w): worker = w
        }
        // The worker's executable mappings are decided here, by the host: only the copy and
        // the libraries resolved for it, and only until INIT.
        if case .brokeProtocol(let reason) = worker.superviseLoading(files: [copyPath] + loadPaths, deadline: settings.startDeadline) {
            return .failure(IsolationError("worker for plugin \(name) broke the protocol while loading (\(reason)) and was killed"))
        }
        if let failure = worker.wait(deadline: settings.startDeadline) {
            return .failure(IsolationError(describe(failure, plugin: name, during: "loading")))
        }
        let status = worker.shared.pointee.status
        guard let payload = worker.responsePayload(start: 0) else {
            worker.terminate()
            return .failure(IsolationError("worker for plugin \(name) broke the protocol while loading (a payload outside the shared buffer) and was killed"))
        }
        switch status {
        case UInt32(CAPSULE_ISO_LOADED) where !worker.isSupervised:
            worker.terminate()
            return .failure(IsolationError("worker for plugin \(name) loaded without handing its executable mappings to the host and was killed"))
        case UInt32(CAPSULE_ISO_LOADED):
            switch IsolatedDescriptor.decode(payload) {
            case .failure(let e):
                worker.terminate()
                return .failure(IsolationError("worker for plugin \(name) sent a malformed descriptor (\(e.message)) and was killed"))
            case .success(let d):
                if let reason = PluginManifest.headRefusal(abi: d.abi, size: d.size) {
                    worker.terminate()
                    return .failure(IsolationError(reason))
                }
                guard let fields = d.fields else {
                    worker.terminate()
                    return .failure(IsolationError("worker for plugin \(name) sent a malformed descriptor and was killed"))
                }
                // Struct values do not cross the worker protocol: placement then decides from
                // the descriptor whether the plugin may run in-process.
                if fields.structTypeCount > 0 && !describeOnly {
                    worker.terminate()
                    return .failure(IsolationError(Self.structTypesRefusal + ", which an isolated plugin cannot use (struct values do not cross the worker protocol)", unavailable: true))
                }
                return .success((worker, fields))
            }
        case UInt32(CAPSULE_ISO_FAILED):
            worker.terminate()
            // The loader's message names the copy; name the user's file instead. A lockdown
            // failure comes before dlopen: isolation is unavailable on this machine.
            let message = TerminalText.safe(String(decoding: payload, as: UTF8.self).replacing(copyPath, with: "the plugin"))
            let unavailable = message.hasPrefix("cannot lock down the worker")
            return .failure(IsolationError(message, unavailable: unavailable))
        default:
            worker.terminate()
            return .failure(IsolationError("worker for plugin \(name) broke the protocol while loading (status \(status)) and was killed"))
        }
    }

    /// Sends the call plans and runs the plugin's init in `worker`. Returns nil, or why the
    /// worker cannot serve calls (it is then killed).
    func initialize(_ worker: WorkerProcess) -> IsolationError? {
        guard plans.count <= worker.dataSize else { return IsolationError("the call plans do not fit in the shared buffer") }
        plans.withUnsafeBytes { worker.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        worker.shared.pointee.op = UInt32(CAPSULE_ISO_OP_INIT)
        worker.shared.pointee.destroy_count = 0
        let responseStart = (plans.count + 15) & ~15
        worker.shared.pointee.response_offset = UInt32(responseStart)
        worker.send()
        if let failure = worker.wait(deadline: settings.startDeadline) {
            return IsolationError(Self.describe(failure, plugin: name, during: "init"))
        }
        let status = worker.shared.pointee.status
        let initStatus = Int32(truncatingIfNeeded: worker.shared.pointee.result.a)
        guard let payload = worker.responsePayload(start: responseStart) else {
            worker.terminate()
            return IsolationError("worker for plugin \(name) broke the protocol during init and was killed")
        }
        let message = TerminalText.safe(bytes: payload)
        switch status {
        case UInt32(CAPSULE_ISO_OK) where initStatus == 0:
            return nil
        case UInt32(CAPSULE_ISO_OK):
            worker.terminate()
            return IsolationError("plugin \(name)'s init failed with status \(initStatus)\(message.isEmpty ? "" : ": " + message)")
        case UInt32(CAPSULE_ISO_FAILED):
            worker.terminate()
            return IsolationError("worker for plugin \(name) failed to start: \(message)")
        default:
            worker.terminate()
            return IsolationError("worker for plugin \(name) broke the protocol during init (status \(status)) and was killed")
        }
    }

    /// Starts a new worker after the last one failed: from the same private copy, checked to
    /// describe the same plugin. Handles of the old worker become invalid.
    func restart() -> IsolationError? {
        worker = nil
        pendingDestroys.removeAll()
        generation += 1
        let staged: PrivateCopy.Staged
        switch PrivateCopy.stage("/proc/self/fd/\(copy)") {
        case .success(let s): staged = s
        case .failure(let e): return IsolationError("cannot restart the worker for plugin \(name): \(e.reason)")
        }
        let started = Self.start(executable: workerExecutable, copyPath: staged.path, settings: settings, loadPaths: loadPaths, name: name)
        PrivateCopy.discard(staged)
        switch started {
        case .failure(let e): return e
        case .success(let (w, fields)):
            switch PluginManifest.check(fields, path: path) {
            case .success(let m) where m.name == manifest.name && m.exports.map(\.signature) == manifest.exports.map(\.signature)
                && m.exports.map(\.name) == manifest.exports.map(\.name) && m.handleTypes.map(\.name) == manifest.handleTypes.map(\.name):
                break
            default:
                w.terminate()
                return IsolationError("the restarted worker for plugin \(name) describes a different plugin")
            }
            if let error = initialize(w) { return error }
            worker = w
            return nil
        }
    }

    /// The message for a failed worker: `worker for plugin P died with SIGSEGV (segmentation
    /// fault) during f`.
    static func describe(_ failure: WorkerProcess.Failure, plugin: String, during what: String) -> String {
        switch failure {
        case .died(let status):
            return "worker for plugin \(plugin) \(WorkerProcess.describe(status: status)) during \(what)"
        case .deadline(let seconds):
            return "worker for plugin \(plugin) exceeded its deadline of \(formatSeconds(seconds)) during \(what) and was killed"
        case .vmDeadline:
            return "worker for plugin \(plugin) was killed at the run's timeout during \(what)"
        case .brokeProtocol(let reason):
            return "worker for plugin \(plugin) broke the protocol during \(what) (\(reason)) and was killed"
        }
    }

    /// How the host refuses to isolate a plugin that declares struct types (`start`).
    static let structTypesRefusal = "the plugin declares struct types"

    static func formatSeconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
    }
}

/// The host's side of a handle made by an isolated plugin: the worker's id for it and the
/// worker generation that made it. The script handle's pointer is this object (retained);
/// its destructor queues the id for destruction in the worker, or does nothing when that
/// worker is gone.
final class HandleProxy {
    let id: UInt64
    let generation: Int
    weak var owner: IsolatedPlugin?
    /// Set when the worker already destroyed it (an export flagged CLOSES_HANDLE).
    var destroyedInWorker = false

    init(id: UInt64, generation: Int, owner: IsolatedPlugin) {
        self.id = id
        self.generation = generation
        self.owner = owner
    }

    /// The destructor of every isolated handle type.
    static let release: @convention(c) (UnsafeMutableRawPointer?) -> Void = { pointer in
        guard let pointer else { return }
        let proxy = Unmanaged<HandleProxy>.fromOpaque(pointer).takeRetainedValue()
        if !proxy.destroyedInWorker, let owner = proxy.owner { owner.queueDestroy(proxy) }
    }
}
