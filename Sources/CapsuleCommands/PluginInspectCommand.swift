import ArgumentParser
import CapsuleHost
import CapsuleSyntax
import FoundationEssentials

/// `capsule plugin inspect PATH`: prints what a plugin's descriptor declares.
struct PluginInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print a plugin's name, version, ABI, exports, handle types and capabilities.",
        discussion: """
            Checks the descriptor the way `import` does without running any of the plugin's \
            code in this process: the plugin is loaded only in a locked-down worker with no \
            grants, which sends the descriptor and is stopped before the plugin's init. \
            Whatever its constructors do (write files, start threads, crash) stays there.

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
            let elf = ELFImage.read(path: loadPath)
            var runs = manifest.defaultPlacement
            if case .success(let image) = elf, !Policy().runsIsolated(plugin: manifest.name, declaring: manifest.declaredKinds),
               let reason = PluginLoader.importAuditReason(image, name: manifest.name, policy: Policy(), trusted: false) {
                runs = "isolated by default (the import audit refuses it in-process without grants: \(reason); --trust=\(manifest.name) runs it in-process)"
            }
            // The ELF's symbol and library names are the file's text: terminal-safe too.
            console.out(manifest.report(runs: runs) + TerminalText.safe(report(elf), multiline: true))
            return 0
        case .failure(let error):
            console.err("error: \(error)\n")
            return 65
        }
    }

    /// What the shared object's dynamic section says: the imports that reach host powers
    /// (which the load-time audit checks against grants), the imports and libraries it
    /// refuses in-process unless trusted, and what keeps the object from unloading.
    static func report(_ elf: Result<ELFImage, ELFError>) -> String {
        switch elf {
        case .failure(let error):
            return "imports: unreadable (\(error))\n"
        case .success(let image):
            let powers = ImportAudit.powers(image)
            let imports = ImportAudit.Power.allCases.compactMap { power in
                powers[power].map { "\(power.rawValue) (\($0.joined(separator: ", ")))" }
            }
            let blockers = image.unloadBlockers
            let unclassified = ImportAudit.unclassified(image)
            func list(_ names: [String]) -> String { names.isEmpty ? "none" : names.map(Capability.sanitized).joined(separator: ", ") }
            return "imports reaching host powers: \(imports.isEmpty ? "none" : imports.joined(separator: "; "))\n"
                + "imports no list classifies (refused in-process unless trusted): \(list(unclassified.symbols))\n"
                + "libraries beyond the system ones (refused in-process unless trusted): \(list(unclassified.libraries))\n"
                + "unloadable: \(blockers.isEmpty ? "yes" : "no, " + blockers.joined(separator: "; "))\n"
        }
    }

}
