/// How an isolated plugin's worker is confined and limited (docs/security.md#isolated-plugins).
///
/// The grants are what the kernel enforces in the worker: Landlock allows exactly these
/// paths and TCP ports, seccomp allows sockets only when some network access is granted.
/// Everything not granted is denied. The plugin host adds the plugin's own grants from the
/// VM's `Policy` to these (`granting(_:to:environment:)`).
public struct IsolationSettings: Sendable, Equatable {
    /// TCP ports a worker may connect to or bind.
    public enum Ports: Sendable, Equatable {
        /// None (the default).
        case none
        /// These ports only (Landlock restricts ports, not hosts or addresses).
        case only([UInt16])
        /// Any port.
        case any
    }

    /// Files and directories the plugin may read (a directory: everything beneath it).
    /// Each must exist when the worker starts; Landlock attaches rules to existing files.
    public var readablePaths: [String]
    /// Files and directories the plugin may write: change, create, rename and remove files
    /// and directories beneath them (not read: grant that separately).
    public var writablePaths: [String]
    /// TCP ports the plugin may connect to.
    public var connectPorts: Ports
    /// TCP ports the plugin may listen on.
    public var bindPorts: Ports
    /// Environment variables the worker starts with (its environment is otherwise empty).
    public var environment: [String: String]

    /// How long one call may run before the worker is killed, in seconds.
    public var callDeadline: Double
    /// How long starting the worker (loading the plugin) and its init may take, in seconds.
    public var startDeadline: Double
    /// The worker's address-space limit (RLIMIT_AS), in bytes.
    public var memoryLimit: Int
    /// The worker's descriptor limit (RLIMIT_NOFILE).
    public var openFilesLimit: Int
    /// The largest file the worker may write (RLIMIT_FSIZE), in bytes.
    public var fileSizeLimit: Int
    /// The size of the shared buffer carrying str/bytes/buf arguments and results (one
    /// call's arguments and results together); a call whose payload does not fit fails with
    /// a clear error. Pages are only allocated when touched.
    public var bufferSize: Int
    /// The worker executable; nil: `$CAPSULE_WORKER`, else `capsule-worker` next to the
    /// running executable (where `swift build` puts it).
    public var workerPath: String?

    /// Nothing granted, default limits.
    public init(readablePaths: [String] = [], writablePaths: [String] = [],
                connectPorts: Ports = .none, bindPorts: Ports = .none, environment: [String: String] = [:],
                callDeadline: Double = 10, startDeadline: Double = 10,
                memoryLimit: Int = 1 << 30, openFilesLimit: Int = 64, fileSizeLimit: Int = 1 << 30,
                bufferSize: Int = 16 << 20, workerPath: String? = nil) {
        self.readablePaths = readablePaths
        self.writablePaths = writablePaths
        self.connectPorts = connectPorts
        self.bindPorts = bindPorts
        self.environment = environment
        self.callDeadline = callDeadline
        self.startDeadline = startDeadline
        self.memoryLimit = memoryLimit
        self.openFilesLimit = openFilesLimit
        self.fileSizeLimit = fileSizeLimit
        self.bufferSize = bufferSize
        self.workerPath = workerPath
    }

    /// Whether the worker may create TCP sockets at all.
    public var allowsSockets: Bool { connectPorts != .none || bindPorts != .none }
}

/// How a `PluginHost` isolates plugins beyond what the VM's `Policy` says: plugins the
/// embedder isolates explicitly (with their own settings), and the settings (limits,
/// deadlines, worker path) of plugins the policy isolates (`Policy.isolated`, or by default
/// because they declare capabilities beyond `clock` and `random`). Either way the plugin's
/// grants in the policy are added to the settings.
public struct IsolationPolicy: Sendable {
    /// The settings for plugin `name` when the embedder isolates it whatever the policy
    /// says, or nil to let the policy decide.
    public var settings: @Sendable (_ name: String) -> IsolationSettings?
    /// The settings of plugins the policy isolates.
    public var defaults: IsolationSettings

    /// A policy isolating the plugins for which `settings` gives settings; `defaults` for
    /// the plugins the VM's policy isolates.
    public init(defaults: IsolationSettings = IsolationSettings(),
                _ settings: @escaping @Sendable (_ name: String) -> IsolationSettings? = { _ in nil }) {
        self.settings = settings
        self.defaults = defaults
    }

    /// Nothing beyond the VM's policy, with default settings.
    public static let none = IsolationPolicy()

    /// The plugins in `names` isolated with `settings`; the others as the policy says.
    public static func plugins(_ names: Set<String>, settings: IsolationSettings = IsolationSettings()) -> IsolationPolicy {
        IsolationPolicy(defaults: settings) { names.contains($0) ? settings : nil }
    }

    /// Every plugin isolated with `settings`.
    public static func all(_ settings: IsolationSettings = IsolationSettings()) -> IsolationPolicy {
        IsolationPolicy(defaults: settings) { _ in settings }
    }
}

/// Why an isolated plugin's worker could not be started or used: a message for the script.
struct IsolationError: Error, CustomStringConvertible {
    var message: String
    /// True when isolation is unavailable here (no worker executable, no Landlock, spawn
    /// failed), before any of the plugin's code ran.
    var unavailable = false
    init(_ message: String, unavailable: Bool = false) { self.message = message; self.unavailable = unavailable }
    var description: String { message }
}
