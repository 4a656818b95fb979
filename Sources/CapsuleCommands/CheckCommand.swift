import ArgumentParser
import CapsuleHost
import CapsuleSyntax
import Glibc

/// `capsule check FILE…`: compiles without running, following the scripts' static imports.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Compile scripts without running them and report every error.",
        discussion: """
            Prints nothing and exits with 0 when every script compiles. Otherwise prints each \
            diagnostic as `file:line:col: error: message` with the source line and a caret, \
            and exits with 65 (74 if a file cannot be read).

            The script modules a file imports at its top level with a relative path \
            (`import "lib/util"` finds lib/util.cap beside the importing file) are checked \
            too, and their errors name the module's file as `capsule run` would. Imports \
            that leave the checked script's directory, built-in and plugin modules are not \
            followed.

            Examples:
              capsule check hello.cap
              capsule check main.cap tools/*.cap
            """
    )

    @Argument(help: "The scripts to check.")
    var files: [String]

    func run() throws {
        let result = Self.check(files)
        if let unreadable = result.unreadable {
            // The others were checked: their diagnostics first, then the I/O error (74).
            if !result.diagnostics.isEmpty { Console.standard.err(result.diagnostics) }
            return try finish(.ioError(message: unreadable), console: .standard)
        }
        try finish(result.diagnostics.isEmpty ? .ok(value: nil) : .compileError(diagnostics: result.diagnostics), console: .standard)
    }

    /// What checking some files found.
    struct Result {
        /// Every diagnostic, rendered, file after file ("" when all compile).
        var diagnostics = ""
        /// The first named file that could not be read (`cannot read PATH: REASON`).
        var unreadable: String? = nil
        /// The names of the files checked, in order (imports as `capsule run` names them).
        var checked: [String] = []
    }

    /// Checks `files`, then the modules each imports statically (breadth first, each file
    /// once, a named file under its own name).
    static func check(_ files: [String]) -> Result {
        let vm = makeVirtualMachine()
        var result = Result()
        var seen = Set(files.compactMap(realPath))
        for file in files {
            let text: String
            do { text = try readTextFile(atPath: file) } catch {
                if result.unreadable == nil { result.unreadable = error.message }
                continue
            }
            // The directory imports may not leave: the named script's own (its real path).
            let root = realPath(directoryOf(file)) ?? directoryOf(file)
            var queue: [(name: String, path: String, text: String)] = [(file, file, text)]
            while !queue.isEmpty {
                let next = queue.removeFirst()
                result.checked.append(next.name)
                let source = Source(name: next.name, text: next.text)
                let diagnostics = vm.check(source: next.text, name: next.name)
                if !diagnostics.isEmpty { result.diagnostics += Diagnostic.render(diagnostics, source: source) }
                for module in staticImports(of: source, named: next.name, at: next.path, root: root) where !seen.contains(module.real) {
                    seen.insert(module.real)
                    guard case .success(let moduleText) = readSourceFile(atPath: module.path) else { continue }
                    queue.append((module.name, module.path, moduleText))
                }
            }
        }
        return result
    }

    /// `.ok` for no diagnostics, else a compile error holding each rendering plus "\n".
    static func outcome(_ diagnostics: [Diagnostic], source: Source) -> RunOutcome {
        if diagnostics.isEmpty { return .ok(value: nil) }
        let rendered = Diagnostic.render(diagnostics, source: source)
        return .compileError(diagnostics: rendered)
    }

    /// The `.cap` files that `source` (shown as `name`, read from `path`) imports at its top
    /// level by a relative path, that exist, and whose real path lies under `root`: each
    /// with the name `capsule run` would show for it, its path and its real path.
    static func staticImports(of source: Source, named name: String, at path: String, root: String)
        -> [(name: String, path: String, real: String)] {
        var modules: [(name: String, path: String, real: String)] = []
        for statement in Parser.parse(source).program.statements {
            guard case .importModule(let written, _) = statement.kind, !written.hasPrefix("/") else { continue }
            let file = written.hasSuffix(".cap") ? written : written + ".cap"
            let modulePath = joinPath(directoryOf(path), file)
            guard let real = realPath(modulePath), real == root || real.hasPrefix(root.hasSuffix("/") ? root : root + "/") else { continue }
            let directory = directoryOf(name)
            let shown = directory == "." && !name.hasPrefix("./") ? file : joinPath(directory, file)
            modules.append((shown, modulePath, real))
        }
        return modules
    }

    static func directoryOf(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    static func joinPath(_ directory: String, _ file: String) -> String {
        if directory.isEmpty || file.hasPrefix("/") { return file }
        return directory.hasSuffix("/") ? directory + file : directory + "/" + file
    }

    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}
