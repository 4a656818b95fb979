import ArgumentParser
import CapsuleHost
import FoundationEssentials

/// `capsule plugin inspect PATH`: prints what a plugin's descriptor declares.
struct PluginInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print a plugin's name, version, ABI, exports, handle types and capabilities.",
        discussion: """
            Opens the shared object, calls its entry function and checks the descriptor the \
            way `import` does, but runs no other plugin code: the plugin's init is not \
            called and no script runs.

            Examples:
              capsule plugin inspect .build/debug/libcapsule_cmath.so

            Exits with 0 when the plugin would load, 65 when the host refuses it and 74 if \
            the file cannot be read.
            """
    )

    @Argument(help: "The plugin's shared object (libcapsule_NAME.so).")
    var path: String

    func run() throws {
        let status = Self.execute(path: path, console: .standard)
        if status != 0 { throw ExitCode(status) }
    }

    /// Inspects `path`, writes the report or the refusal to `console`, returns the exit status.
    static func execute(path: String, console: Console) -> Int32 {
        guard FileManager.default.isReadableFile(atPath: path) else {
            console.err("error: cannot read \(path)\n")
            return 74
        }
        // A path without a slash would make dlopen search the library path instead.
        let loadPath = path.contains("/") ? path : "./" + path
        switch PluginLoader.inspect(path: loadPath) {
        case .success(let manifest):
            console.out(report(manifest))
            return 0
        case .failure(let error):
            console.err("error: \(error)\n")
            return 65
        }
    }

    /// The report: one `field: value` line each, then the exports with signatures and docs.
    static func report(_ m: PluginManifest) -> String {
        var lines = [
            "name: \(m.name)",
            "version: \(m.version)",
            "abi: \(m.abiVersion)",
            "description: \(m.description)",
            "capabilities: \(m.capabilities.isEmpty ? "none" : m.capabilities.joined(separator: ", "))",
            "handle types: \(m.handleTypes.isEmpty ? "none" : m.handleTypes.map(\.name).joined(separator: ", "))",
            "exports:",
        ]
        let width = m.exports.map { $0.name.count + $0.signature.description.count + 1 }.max() ?? 0
        for e in m.exports {
            var line = "  \(e.name) \(e.signature)"
            if let doc = e.doc, !doc.isEmpty {
                line += String(repeating: " ", count: width - e.name.count - e.signature.description.count - 1) + "  " + doc
            }
            if e.closesHandle { line += " (closes its handle)" }
            lines.append(line)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
