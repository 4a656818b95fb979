import ArgumentParser
import CapsuleHost
#if canImport(Glibc)
import Glibc
#endif

/// `capsule plugin build DIR`: compiles a plugin directory's C files into
/// `libcapsule_NAME.so` with the SDK include path, then checks the result the way `import`
/// does (without running its init).
struct PluginBuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Compile a plugin directory's C files into libcapsule_NAME.so and check it.",
        discussion: """
            Runs, and prints, one compiler command:

              cc -shared -fPIC -fvisibility=hidden -O2 -Wall -I SDK -o DIR/libcapsule_NAME.so DIR/*.c [-lLIB…] [-- FLAGS…]

            NAME is the directory's name (or --name). The compiler is --cc, else $CC, else cc. \
            Arguments after `--` go to the compiler as they are (for example `-- -DDEBUG`). \
            The built plugin is then checked like `capsule plugin inspect` does: a plugin the \
            host would refuse fails the build.

            Examples:
              capsule plugin new hello && capsule plugin build hello && capsule run hello/example.cap
              capsule plugin build Plugins/zlib --name zlib -l z

            Exits with 0 on success, 64 for bad arguments, 65 when the compiler fails or the \
            host would refuse the plugin, 74 when the directory or compiler cannot be used.
            """
    )

    @Argument(help: "The plugin directory (default: the current directory).")
    var directory: String = "."

    @Option(help: "The plugin's name (default: the directory's name).")
    var name: String?

    @Option(help: "The directory holding capsule.h (default: found from the capsule executable).")
    var sdk: String?

    @Option(help: "The C compiler (default: $CC, else cc).")
    var cc: String?

    @Option(name: .shortAndLong, help: "The output file (default: DIR/libcapsule_NAME.so).")
    var output: String?

    @Option(name: .customShort("l"), help: "A library to link, as with cc -l (repeatable).")
    var libraries: [String] = []

    @Argument(parsing: .postTerminator, help: "Extra compiler arguments, after `--`.")
    var extra: [String] = []

    func run() throws {
        let request = Request(directory: directory, name: name, sdk: sdk,
                              compiler: cc ?? environmentVariables("CC")["CC"] ?? "cc",
                              output: output, libraries: libraries, extra: extra)
        let status = Self.execute(request, console: .standard)
        if status != 0 { throw ExitCode(status) }
    }

    /// What to build, as the command line gave it.
    struct Request {
        var directory: String
        var name: String?
        var sdk: String?
        var compiler: String
        var output: String?
        var libraries: [String] = []
        var extra: [String] = []
    }

    /// Builds and checks the plugin; returns the exit status.
    static func execute(_ request: Request, console: Console) -> Int32 {
        let dir = request.directory.count > 1 && request.directory.hasSuffix("/")
            ? String(request.directory.dropLast()) : request.directory
        guard isDirectory(atPath: dir) == true else {
            console.err("error: \(dir) is not a directory\n")
            return 74
        }
        let name = request.name ?? directoryName(dir)
        guard PluginNewCommand.isValidName(name) else {
            console.err("error: plugin name '\(name)' must be lowercase letters, digits and _, starting with a letter (pass --name)\n")
            return 64
        }
        let sources = directoryEntries(atPath: dir).filter { $0.hasSuffix(".c") }.sorted()
        guard !sources.isEmpty else {
            console.err("error: no .c files in \(dir)\n")
            return 74
        }
        guard let include = request.sdk ?? PluginNewCommand.findSDKInclude() else {
            console.err("error: cannot find sdk/include/capsule.h; pass --sdk DIR\n")
            return 74
        }
        guard access(include + "/capsule.h", R_OK) == 0 else {
            console.err("error: no capsule.h in \(include)\n")
            return 74
        }
        let output = request.output ?? dir + "/" + PluginHost.fileName(forModule: name)
        let arguments = [request.compiler, "-shared", "-fPIC", "-fvisibility=hidden", "-O2", "-Wall",
                         "-I", include, "-o", output]
            + sources.map { dir + "/" + $0 }
            + request.libraries.map { "-l" + $0 }
            + request.extra
        console.out(arguments.map(shellQuoted).joined(separator: " ") + "\n")
        switch spawnAndWait(arguments) {
        case .failure(let message):
            console.err("error: cannot run \(request.compiler): \(message)\n")
            return 74
        case .success(let status) where status != 0:
            console.err("error: \(request.compiler) failed (\(status == -1 ? "killed by a signal" : "exit status \(status)"))\n")
            return 65
        case .success:
            break
        }
        let loadPath = output.contains("/") ? output : "./" + output
        switch PluginLoader.inspect(path: loadPath) {
        case .failure(let error):
            console.err("error: built \(output), but the host would refuse it: \(error)\n")
            return 65
        case .success(let manifest):
            guard manifest.name == name else {
                console.err("error: built \(output), but the plugin calls itself '\(manifest.name)'; `import \"\(name)\"` would refuse it (pass --name \(manifest.name))\n")
                return 65
            }
            let count = manifest.exports.count
            console.out("built \(output): \(manifest.name) \(manifest.version), \(count) export\(count == 1 ? "" : "s")\n")
            return 0
        }
    }

    /// The last path component of `path` (`.` becomes the working directory's name).
    static func directoryName(_ path: String) -> String {
        var full = path
        if path == "." || path == "./" || path.hasSuffix("/.") || path.hasSuffix("/..") || path == ".." {
            if let real = realpath(path, nil) { full = String(cString: real); free(real) }
        }
        return full.split(separator: "/").last.map(String.init) ?? full
    }

    /// `text` as a shell word: unchanged when it needs no quoting.
    static func shellQuoted(_ text: String) -> String {
        let plain = !text.isEmpty && text.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "-_./=+:,@".unicodeScalars.contains($0)
        }
        return plain ? text : "'" + text.replacing("'", with: "'\\''") + "'"
    }

    /// Runs `arguments` (the program found on PATH) and waits: its exit status (-1 when a
    /// signal ended it), or why it could not start.
    static func spawnAndWait(_ arguments: [String]) -> Result<Int32, SpawnError> {
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let status = posix_spawnp(&pid, arguments[0], nil, nil, argv, environ)
        guard status == 0 else { return .failure(SpawnError(String(cString: strerror(status)))) }
        var waitStatus: Int32 = 0
        while waitpid(pid, &waitStatus, 0) < 0 {
            if errno != EINTR { return .failure(SpawnError(String(cString: strerror(errno)))) }
        }
        // WIFEXITED / WEXITSTATUS, which Swift does not import (they are macros).
        if waitStatus & 0x7f == 0 { return .success((waitStatus >> 8) & 0xff) }
        return .success(-1)
    }

    /// Why a program could not be started.
    struct SpawnError: Error, Equatable, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
