@testable import CapsuleHost
@testable import CapsuleSystem
import Foundation

/// Paths of the repository, the SDK header and the built plugins.
enum Paths {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let fixtures = repository + "/Tests/PluginFixtures"
    static let sdkInclude = repository + "/sdk/include"
    /// Where SwiftPM put the test binary and the bundled plugins (libcapsule_cmath.so).
    static let buildDirectory = PluginHost.executableDirectory() ?? "."
    static let cmath = buildDirectory + "/libcapsule_cmath.so"
}

/// The fixture plugins, each compiled once per test run with `cc` into a temporary
/// directory as `libcapsule_NAME.so` (the directory is in `Fixtures.directory`).
enum Fixtures {
    /// Fixtures built from `NAME.c` as it is.
    static let names = ["no_entry", "wrong_abi", "wrong_size", "bad_signature", "duplicate_export",
                        "null_function", "init_fails", "needs_capability", "bad_export_name",
                        "undeclared_handle", "good", "values", "host_services", "sneaky", "unruly",
                        "structs", "old_descriptor", "thread_escape", "lockdown_probe", "hostile", "exec_mapping",
                        "blocking"]
    /// Fixtures built from one shared source with -D flags: module name, source, flags.
    static let variants: [(name: String, source: String, flags: [String])] = [
        ("bad_struct_field_type", "bad_struct", ["-DFIELD_TYPE"]),
        ("bad_struct_duplicate_field", "bad_struct", ["-DDUPLICATE_FIELD"]),
        ("bad_struct_unknown_name", "bad_struct", ["-DUNKNOWN_NAME"]),
        ("bad_struct_duplicate_name", "bad_struct", ["-DDUPLICATE_NAME"]),
        ("thread_escape_hop", "thread_escape", ["-DHOP"]),
        ("thread_escape_joined", "thread_escape", ["-DJOINED"]),
        ("code_leftover_writable", "code_leftover", ["-DWRITABLE"]),
        ("code_leftover_anonymous", "code_leftover", ["-DANONYMOUS"]),
        ("code_leftover_file", "code_leftover", ["-DFILE_CASE"]),
        ("code_leftover_stack", "code_leftover", ["-DSTACK", "-Wl,-z,execstack"]),
        // Reads the worker's shared memory, so it needs the protocol header.
        ("takeover", "takeover", ["-I", Paths.repository + "/Sources/CapsuleIsolation/include"]),
        ("blocking_bad", "blocking", ["-DBAD_VALUE"]),
    ]

    /// The directory holding the compiled fixtures (compiled on first use).
    static let directory: String = {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("capsule-fixtures-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, source, flags) in names.map({ ($0, $0, [String]()) }) + variants {
            let status = compile(source: "\(Paths.fixtures)/\(source).c", output: "\(dir)/\(PluginHost.fileName(forModule: name))",
                                 extraArguments: flags)
            precondition(status == 0, "cc failed for fixture \(name)")
        }
        return dir
    }()

    /// The path of fixture `name`'s shared object.
    static func path(_ name: String) -> String { directory + "/" + PluginHost.fileName(forModule: name) }

    /// Compiles a plugin the way sdk/README.md tells authors to.
    static func compile(source: String, output: String, extraArguments: [String] = []) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["cc", "-shared", "-fPIC", "-fvisibility=hidden", "-I", Paths.sdkInclude, "-o", output, source] + extraArguments
        try! process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// Collects what scripts print.
/// NOTE: `@unchecked Sendable` because every field is read and written with `lock` held.
final class OutputCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = ""
    var text: String { lock.lock(); defer { lock.unlock() }; return buffer }
    func append(_ s: String) { lock.lock(); buffer += s; lock.unlock() }
}

/// Runs `source` in a fresh VM with a plugin host searching `pluginPaths` (and the build
/// directory, where libcapsule_cmath.so is). Returns what it printed, then "ERROR: " and
/// the error report's first line (`firstErrorLine`) when it failed.
/// `environment` is the host's environment as the plugin host sees it (`env:` grants of
/// isolated plugins copy from it); `maxHeap` is `Configuration.maxHeapBytes`.
func run(_ source: String, pluginPaths: [String] = [], gcStress: Bool = false,
         policy: Policy = .none, audit: AuditLog? = nil, isolation: IsolationPolicy = .none,
         environment: [String: String] = [:], maxHeap: Int? = nil, host: ((PluginHost) -> Void)? = nil) -> String {
    let capture = OutputCapture()
    var configuration = Configuration()
    configuration.gcStress = gcStress
    configuration.policy = policy
    configuration.maxHeapBytes = maxHeap
    configuration.output = { capture.append($0) }
    let vm = VM(configuration: configuration)
    let pluginHost = PluginHost(pluginPaths: pluginPaths, environment: environment, audit: audit, isolation: isolation)
    pluginHost.install(on: vm)
    defer { host?(pluginHost) }
    let outcome = vm.run(source: source, name: "test.cap")
    if case .ok = outcome { return capture.text }
    return capture.text + "ERROR: " + firstErrorLine(outcome)
}

/// The first line of an outcome's error text; a runtime error's without its position
/// (`test.cap:2:1: error: M` reads `error: M`, as a report without a position does), a
/// compile error's as it is.
func firstErrorLine(_ outcome: RunOutcome) -> String {
    let first = outcome.errorText.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
    guard case .runtimeError = outcome else { return first }
    if !first.hasPrefix("error: "), let marker = first.firstRange(of: ": error: ") {
        return "error: " + first[marker.upperBound...]
    }
    return first
}
