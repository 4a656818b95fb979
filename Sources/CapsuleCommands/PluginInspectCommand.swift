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
            // The ELF's symbol and library names are the file's text: terminal-safe too.
            console.out(manifest.report(runs: manifest.defaultPlacement) + TerminalText.safe(report(ELFImage.read(path: loadPath)), multiline: true))
            return 0
        case .failure(let error):
            console.err("error: \(error)\n")
            return 65
        }
    }

    /// What the shared object's dynamic section says: the imports that reach host powers
    /// (which the load-time audit checks against grants) and what keeps it from unloading.
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
            return "imports reaching host powers: \(imports.isEmpty ? "none" : imports.joined(separator: "; "))\n"
                + "unloadable: \(blockers.isEmpty ? "yes" : "no, " + blockers.joined(separator: "; "))\n"
        }
    }

}
