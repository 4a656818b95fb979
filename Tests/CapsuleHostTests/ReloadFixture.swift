@testable import CapsuleHost
import Foundation
import Testing

/// The `reloadable.c` fixture in a private directory, rebuilt during a test (compiled beside
/// the plugin file, then renamed over it, as build tools do), and VMs that import it.
final class ReloadFixture {
    let directory: String
    var file: String { directory + "/" + PluginHost.fileName(forModule: "reloadable") }

    init(_ flags: [String] = ["-DVERSION=1"]) {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-reload-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        build(flags)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Compiles the fixture with `flags` and renames it over the plugin file.
    func build(_ flags: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        let staging = directory + "/staging-\(UUID().uuidString).so"
        #expect(Fixtures.compile(source: Paths.fixtures + "/reloadable.c", output: staging, extraArguments: flags) == 0,
                sourceLocation: sourceLocation)
        #expect(rename(staging, file) == 0, sourceLocation: sourceLocation)
    }

    /// A VM with the plugin host installed, and a function evaluating script lines in it
    /// (what they print, then `ERROR: ` and the error's first line when they fail).
    func session(gcStress: Bool = false, registry: PluginRegistry = .shared,
                 isolation: IsolationPolicy = .none) -> (VM, PluginHost, @Sendable (String) -> String) {
        let capture = OutputCapture()
        var configuration = Configuration()
        configuration.output = { capture.append($0) }
        configuration.gcStress = gcStress
        let vm = VM(configuration: configuration)
        let host = PluginHost(pluginPaths: [directory], environment: [:], registry: registry, isolation: isolation)
        host.install(on: vm)
        return (vm, host, Self.evaluator(vm, output: capture))
    }

    /// Evaluates script lines in `vm`, whose output goes to `output`: what a line printed,
    /// then `ERROR: ` and the error's first line when it failed, without its position
    /// (`<repl>:1:7: error: M` reads `error: M`).
    static func evaluator(_ vm: VM, output: OutputCapture) -> @Sendable (String) -> String {
        { line in
            let before = output.text.count
            let outcome = vm.evaluateREPL(line)
            let printed = String(output.text.dropFirst(before))
            if case .ok = outcome { return printed }
            return printed + "ERROR: " + firstErrorLine(outcome)
        }
    }

    /// The private copy a loaded version was mapped from: the /proc/self/maps line whose
    /// range holds one of its exports.
    static func copyPath(of plugin: LoadedPlugin) -> String? {
        guard let export = plugin.manifest.exports.first else { return nil }
        let address = UInt(bitPattern: unsafeBitCast(export.function, to: UnsafeRawPointer.self))
        for line in Resources.read("/proc/self/maps").split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            let range = fields[0].split(separator: "-").compactMap { UInt($0, radix: 16) }
            guard range.count == 2, range[0] <= address, address < range[1], fields.count >= 6 else { continue }
            return String(fields[5])
        }
        return nil
    }

    /// Whether `path` is still mapped into this process.
    static func isMapped(_ path: String) -> Bool {
        Resources.read("/proc/self/maps").contains(path)
    }

    /// Open descriptors on this fixture's files: its directory, or one of `copies` (private
    /// copies of versions it loaded). Other suites running at the same time cannot change it.
    func descriptors(onCopies copies: [String]) -> Int { Self.descriptors(under: directory, onCopies: copies) }

    static func descriptors(under directory: String, onCopies copies: [String]) -> Int {
        let wanted = Set(copies)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return entries.filter { entry in
            guard var target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + entry) else { return false }
            if target.hasSuffix(" (deleted)") { target.removeLast(" (deleted)".count) }
            return target.hasPrefix(directory) || wanted.contains(target)
        }.count
    }
}
