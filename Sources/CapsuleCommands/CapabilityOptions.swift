import ArgumentParser
import CapsuleHost
#if canImport(Glibc)
import Glibc
#endif

/// The capability flags of the commands that run code (`run`, `repl`): what the script and
/// its plugins may do, the policy manifest and the audit log (docs/security.md).
///
/// The `--allow-KIND` flags take their value after `=` only; written bare they grant
/// every resource of the kind (`--allow-read` alone: every path). Values are
/// comma-separated, except for `--allow-ffi` (repeat it per library, since `,` separates
/// symbols). Paths resolve against the current directory.
struct CapabilityOptions: ParsableArguments {
    @Option(name: .customLong("allow-read"), help: ArgumentHelp("--allow-read=PATH,…: grant reading PATH (a file, or a directory and everything under it); bare: every path.", valueName: "path,…"))
    var allowRead: [String] = []

    @Option(name: .customLong("allow-write"), help: ArgumentHelp("--allow-write=PATH,…: grant writing, creating, renaming and removing under PATH; bare: every path.", valueName: "path,…"))
    var allowWrite: [String] = []

    @Option(name: .customLong("allow-net"), help: ArgumentHelp("--allow-net=HOST[:PORT],…: grant connecting to HOST (and listening on [HOST:]PORT); bare: all of the network.", valueName: "host[:port],…"))
    var allowNet: [String] = []

    @Option(name: .customLong("allow-env"), help: ArgumentHelp("--allow-env=NAME,…: grant reading and setting environment variable NAME (`*` matches any run of characters); bare: all.", valueName: "name,…"))
    var allowEnv: [String] = []

    @Option(name: .customLong("allow-run"), help: ArgumentHelp("--allow-run=PROGRAM,…: grant running PROGRAM: a bare name (as found on PATH) or a path (made absolute); bare: any program.", valueName: "program,…"))
    var allowRun: [String] = []

    @Option(
        name: .customLong("allow-ffi"),
        help: ArgumentHelp(
            "--allow-ffi=LIBRARY[:SYMBOL,…]: grant raw FFI (`import \"ffi\"`) on LIBRARY, optionally only the SYMBOLs; bare: every library (repeatable).",
            discussion: "Scripts with raw FFI can do anything the capsule process can: no other capability holds against them.",
            valueName: "library[:symbol,…]"))
    var allowFFI: [String] = []

    @Flag(name: .customLong("allow-clock"), help: "Grant the wall clock and sleeping (`time.now`, `time.sleep`).")
    var allowClock = false

    @Flag(name: .customLong("allow-random"), help: "Grant randomness.")
    var allowRandom = false

    @Option(name: .customLong("allow-plugin"), help: ArgumentHelp("Grant CAPABILITY (e.g. fs.read:./data) to plugin NAME only (repeatable).", valueName: "name=capability"))
    var allowPlugin: [String] = []

    @Flag(name: .customLong("allow-all"), help: "Grant everything to the script and every plugin.")
    var allowAll = false

    @Option(
        name: .customLong("isolate"),
        help: ArgumentHelp(
            "Run plugin NAME in a locked-down worker process, whatever it declares (repeatable, or NAME,…).",
            discussion: "The plugin's code then runs under Landlock and seccomp with only its own grants; a crash, a hang or a blocked system call becomes a catchable error and the worker restarts on the next call. Plugins declaring capabilities beyond clock and random are isolated without it. See docs/security.md.",
            valueName: "name"))
    var isolate: [String] = []

    @Option(
        name: .customLong("trust"),
        help: ArgumentHelp(
            "Run plugin NAME in the capsule process although it declares capabilities that would isolate it (repeatable, or NAME,…).",
            discussion: "Trust adds no grants: the host still checks what it does for the plugin, but the plugin's own native code is not confined. See docs/security.md.",
            valueName: "name"))
    var trust: [String] = []

    @Option(name: .customLong("manifest"), help: ArgumentHelp("Apply the policy manifest FILE (grants in JSON; docs/security.md#the-manifest).", valueName: "file"))
    var manifest: String?

    @Flag(
        name: [.customShort("P"), .customLong("use-manifest")],
        help: ArgumentHelp(
            "Apply capsule.json next to the script.",
            discussion: "A manifest grants capabilities only when asked for with -P or --manifest; one found next to the script without them is not applied, and a line on stderr says so."))
    var useManifest = false

    @Option(name: .customLong("audit"), help: ArgumentHelp("Append every capability use, allowed or denied, to FILE as JSON lines.", valueName: "file"))
    var audit: String?

    /// The flags that are grants when written bare.
    static let bareGrantFlags: Set<String> = ["--allow-read", "--allow-write", "--allow-net", "--allow-env", "--allow-run", "--allow-ffi"]

    /// Options of the capsule commands that take a separate value (to find where the
    /// command's own options end).
    static let valuedOptions: Set<String> = ["--module-path", "--plugin-path", "--manifest", "--audit", "--allow-plugin", "--isolate", "--trust",
                                             "--filter", "--output", "-o"]

    /// The value a bare `--allow-KIND` is rewritten to: every resource. (ArgumentParser
    /// takes the next word as the value of `--opt=`, so the value cannot be empty.)
    static let everything = "\u{1}all"

    /// The value `--allow-KIND=` (empty after `=`) is rewritten to, so that it is the usage
    /// error an empty resource is (ArgumentParser would otherwise take the NEXT word as its
    /// value: `--allow-read= /etc/hostname` granted /etc/hostname, `--allow-env= x.cap`
    /// swallowed the script).
    static let emptyValue = "\u{1}empty"

    /// Rewrites bare `--allow-KIND` into `--allow-KIND=` + `everything`, and `--allow-KIND=`
    /// into `--allow-KIND=` + `emptyValue`, before the command's positional arguments only,
    /// so a script's own arguments are passed through untouched.
    static func normalize(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var commandWords = 0
        var expectsSubcommand = false
        var index = 0
        while index < arguments.count {
            let a = arguments[index]
            index += 1
            if a == "--" { result.append(a); break }
            if bareGrantFlags.contains(a) { result.append(a + "=" + everything); continue }
            if a.hasSuffix("="), bareGrantFlags.contains(String(a.dropLast())) { result.append(a + emptyValue); continue }
            result.append(a)
            if valuedOptions.contains(a), index < arguments.count { result.append(arguments[index]); index += 1; continue }
            if a.hasPrefix("-") { continue }
            // Positional: the subcommand (and the one after `plugin`/`policy`), then the file.
            if commandWords == 0 { commandWords = 1; expectsSubcommand = a == "plugin" || a == "policy"; continue }
            if expectsSubcommand { expectsSubcommand = false; continue }
            break
        }
        result.append(contentsOf: arguments[index...])
        return result
    }

    /// Malformed grants are usage errors (exit 64), reported before anything runs.
    func validate() throws {
        _ = try flagPolicy(directory: "/")
    }

    /// The grants the flags give, with relative paths resolved against `directory`.
    func flagPolicy(directory: String) throws(ValidationError) -> Policy {
        var policy = Policy(allowsAll: allowAll)
        func add(_ kind: Capability.Kind, _ values: [String], split: Bool = true) throws(ValidationError) {
            for value in values {
                let items = split ? value.split(separator: ",", omittingEmptySubsequences: false).map(String.init) : [value]
                for written in items {
                    let item = written == Self.emptyValue ? "" : written
                    if item == Self.everything { policy.grants.append(Capability(kind)); continue }
                    // Capability.parse refuses an empty item ('a,,b', '--allow-read='), as in a manifest.
                    switch Capability.parse(kind.rawValue + ":" + item, baseDirectory: directory) {
                    case .failure(let e): throw ValidationError("\(kind.flag): \(e.message)")
                    case .success(let c): if !policy.grants.contains(c) { policy.grants.append(c) }
                    }
                }
            }
        }
        try add(.fsRead, allowRead)
        try add(.fsWrite, allowWrite)
        try add(.netConnect, allowNet)
        // --allow-net=VALUE also grants listening where VALUE is a port or HOST:PORT.
        for value in allowNet {
            for item in value.split(separator: ",").map(String.init) where Capability.parse("net.listen:" + item, baseDirectory: directory).isSuccess {
                try add(.netListen, [item])
            }
            if value == Self.everything { try add(.netListen, [value]) }
        }
        try add(.env, allowEnv)
        try add(.run, allowRun)
        try add(.ffi, allowFFI, split: false)
        if allowClock { policy.grants.append(Capability(.clock)) }
        if allowRandom { policy.grants.append(Capability(.random)) }
        for value in allowPlugin {
            guard let eq = value.firstIndex(of: "="), case let name = String(value[..<eq]), !name.isEmpty else {
                throw ValidationError("--allow-plugin: expected NAME=CAPABILITY, got '\(Capability.sanitized(value))'")
            }
            guard Policy.isPluginName(name) else {
                throw ValidationError("--allow-plugin: '\(Capability.sanitized(name))' is not a plugin name ([A-Za-z_][A-Za-z0-9_]*)")
            }
            switch Capability.parse(String(value[value.index(after: eq)...]), baseDirectory: directory) {
            case .failure(let e): throw ValidationError("--allow-plugin: \(e.message)")
            case .success(let c): policy.plugins[name, default: []].append(c)
            }
        }
        policy.isolated = try Self.pluginNames(isolate, flag: "--isolate")
        policy.trusted = try Self.pluginNames(trust, flag: "--trust")
        if let both = policy.isolated.intersection(policy.trusted).sorted().first {
            throw ValidationError("plugin \(both) cannot be both isolated (--isolate) and trusted (--trust)")
        }
        return policy
    }

    /// The plugin names of a repeatable, comma-separated flag.
    static func pluginNames(_ values: [String], flag: String) throws(ValidationError) -> Set<String> {
        var names: Set<String> = []
        for value in values {
            for name in value.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
                guard Policy.isPluginName(name) else {
                    throw ValidationError("\(flag): '\(Capability.sanitized(name))' is not a plugin name ([A-Za-z_][A-Za-z0-9_]*)")
                }
                names.insert(name)
            }
        }
        return names
    }

    /// `capsule.json` next to `script`, when there is one.
    static func manifestBeside(script: String?) -> String? {
        guard let script else { return nil }
        let directory = script.lastIndex(of: "/").map { String(script[..<$0]) } ?? "."
        let candidate = (directory.isEmpty ? "" : directory) + "/" + PolicyManifest.fileName
        return access(candidate, F_OK) == 0 ? candidate : nil
    }

    /// The manifest to apply: `--manifest FILE`, or with `-P` `capsule.json` next to the
    /// script. Never one the user did not ask for: a `capsule.json` shipped beside a
    /// downloaded script is reported on stderr and ignored. Usage errors (exit 64) for `-P`
    /// with `--manifest`, or without a script; I/O error (74) for `-P` without the file.
    func manifestPath(script: String?, console: Console) throws -> String? {
        if useManifest {
            if manifest != nil {
                console.err("error: -P applies the capsule.json next to the script; give either -P or --manifest, not both\n")
                throw ExitCode(64)
            }
            guard let script else {
                console.err("error: -P applies the capsule.json next to a script, and there is none\n")
                throw ExitCode(64)
            }
            guard let found = Self.manifestBeside(script: script) else {
                let directory = script.lastIndex(of: "/").map { String(script[..<$0]) } ?? "."
                console.err("error: -P: there is no \(PolicyManifest.fileName) in \(Capability.sanitized(directory.isEmpty ? "/" : directory))\n")
                throw ExitCode(74)
            }
            return found
        }
        if let manifest { return manifest }
        if let found = Self.manifestBeside(script: script) {
            let shown = Capability.sanitized(found)
            console.err("capsule: note: \(shown) was not applied: a manifest grants nothing unless asked (apply it with -P, or --manifest \(shown))\n")
        }
        return nil
    }

    /// The policy of the flags on top of the manifest. Prints manifest errors
    /// (`FILE:LINE:COL: error: …`) and throws exit 65, or 74 when it cannot be read.
    func policy(script: String?, console: Console) throws -> Policy {
        let cwd = currentDirectory()
        var policy = Policy()
        if let path = try manifestPath(script: script, console: console) {
            let bytes: [UInt8]
            switch readSourceBytes(atPath: path) {
            case .failure(let error):
                console.err("error: \(Capability.sanitized(error.message)) (the policy manifest)\n")
                throw ExitCode(74)
            case .success(let b): bytes = b
            }
            let absolute = Capability.normalizedPath(path, relativeTo: cwd, applyingParent: true)
            let directory = absolute.lastIndex(of: "/").map { String(absolute[..<$0]) } ?? ""
            switch PolicyManifest.parse(bytes: bytes, fileName: Capability.sanitized(path), baseDirectory: directory.isEmpty ? "/" : directory) {
            case .failure(let error):
                console.err(error.description + "\n")
                throw ExitCode(65)
            case .success(let p): policy = p
            }
        }
        let flags = try flagPolicy(directory: cwd)
        // The manifest and the flags must not disagree about where a plugin runs.
        for (name, isolated) in policy.isolated.intersection(flags.trusted).map({ ($0, true) })
            + policy.trusted.intersection(flags.isolated).map({ ($0, false) }) {
            let (manifestSays, flagSays) = isolated ? ("\"isolate\": true", "--trust") : ("\"trusted\": true", "--isolate")
            console.err("error: plugin \(name) is \(isolated ? "isolated" : "trusted") by the manifest (\(manifestSays)) and \(isolated ? "trusted" : "isolated") by \(flagSays)\n")
            throw ExitCode(64)
        }
        return policy.merging(flags)
    }

    /// The audit log `--audit` names, if any (exit 74 when it cannot be opened).
    func auditLog(console: Console) throws -> AuditLog? {
        guard let audit else { return nil }
        do { return try AuditLog(path: audit) } catch {
            console.err("error: \(error)\n")
            throw ExitCode(74)
        }
    }

    private func currentDirectory() -> String {
        guard let p = getcwd(nil, 0) else { return "/" }
        defer { free(p) }
        return String(cString: p)
    }
}

extension Result {
    var isSuccess: Bool { if case .success = self { true } else { false } }
}
