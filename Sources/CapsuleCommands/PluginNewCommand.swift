import ArgumentParser
import CapsuleHost
#if canImport(Glibc)
import Glibc
#endif

/// `capsule plugin new NAME`: scaffolds a plugin that builds and loads on the first try.
struct PluginNewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Create a plugin directory: C source, build script and an example script.",
        discussion: """
            Writes NAME/NAME.c (a plugin with two exports), NAME/build.sh (the one `cc` line \
            that builds libcapsule_NAME.so against the SDK header), NAME/example.cap and \
            NAME/README.md. Then:

              cd NAME && sh build.sh && capsule run example.cap

            The SDK header is found next to the capsule executable's source tree; pass \
            --sdk DIR (the directory holding capsule.h) when it is somewhere else.
            """
    )

    @Argument(help: "The plugin's name: lowercase letters, digits and _, starting with a letter.")
    var name: String

    @Option(help: "Where to create the NAME directory.")
    var directory: String = "."

    @Option(help: "The directory holding capsule.h (default: found from the capsule executable).")
    var sdk: String?

    func run() throws {
        let status = Self.execute(name: name, directory: directory, sdk: sdk, console: .standard)
        if status != 0 { throw ExitCode(status) }
    }

    /// Creates the scaffold; returns the exit status (0, 64 bad name, 74 I/O).
    static func execute(name: String, directory: String, sdk: String?, console: Console) -> Int32 {
        guard isValidName(name) else {
            console.err("error: plugin name '\(name)' must be lowercase letters, digits and _, starting with a letter\n")
            return 64
        }
        guard let include = sdk ?? findSDKInclude() else {
            console.err("error: cannot find sdk/include/capsule.h; pass --sdk DIR\n")
            return 74
        }
        guard access(include + "/capsule.h", R_OK) == 0 else {
            console.err("error: no capsule.h in \(include)\n")
            return 74
        }
        let dir = directory.hasSuffix("/") ? directory + name : directory + "/" + name
        guard mkdir(dir, 0o755) == 0 else {
            console.err("error: cannot create \(dir): \(String(cString: strerror(errno)))\n")
            return 74
        }
        let files: [(String, String)] = [
            ("\(name).c", source(name)),
            ("build.sh", buildScript(name, include: include)),
            ("example.cap", example(name)),
            ("README.md", readme(name)),
        ]
        for (file, text) in files {
            do { try writeTextFile(text, atPath: dir + "/" + file) } catch {
                console.err("error: \(error)\n")
                return 74
            }
        }
        console.out("created \(dir): \(files.map(\.0).joined(separator: ", "))\n")
        console.out("next: capsule plugin build \(dir) && capsule run \(dir)/example.cap\n")
        return 0
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    /// `sdk/include` found by walking up from the running executable (a checkout's
    /// `.build/<config>/capsule`).
    static func findSDKInclude() -> String? {
        guard var dir = PluginHost.executableDirectory() else { return nil }
        while dir.count > 1 {
            let candidate = dir + "/sdk/include"
            if access(candidate + "/capsule.h", R_OK) == 0 { return candidate }
            guard let slash = dir.lastIndex(of: "/") else { break }
            dir = String(dir[..<slash])
            if dir.isEmpty { break }
        }
        return nil
    }

    static func source(_ name: String) -> String {
        """
        /* \(name).c: a Capsule plugin. Build with build.sh; see README.md. */
        #include <stdint.h>
        #include "capsule.h"

        static const capsule_host_api *host;

        static int \(name)_init(const capsule_host_api *api) {
            host = api;
            return 0;
        }

        /* (i64, i64) -> i64 */
        static int64_t add(int64_t a, int64_t b) { return a + b; }

        /* (i64, i64) -> i64: errors go through host->raise */
        static int64_t divide(int64_t a, int64_t b) {
            if (b == 0) { host->raise("division by zero"); return 0; }
            return a / b;
        }

        static const capsule_export exports[] = {
            {"add", "(i64, i64) -> i64", (void (*)(void))add, 0, "a + b"},
            {"divide", "(i64, i64) -> i64", (void (*)(void))divide, 0, "a / b; raises on zero"},
        };

        static const capsule_plugin plugin = {
            .abi_version = CAPSULE_ABI_VERSION,
            .struct_size = sizeof(capsule_plugin),
            .name = "\(name)",
            .version = "0.1.0",
            .description = "The \(name) plugin",
            .exports = exports,
            .export_count = sizeof exports / sizeof exports[0],
            .init = \(name)_init,
        };

        CAPSULE_PLUGIN(plugin)

        """
    }

    static func buildScript(_ name: String, include: String) -> String {
        """
        #!/bin/sh
        # Builds libcapsule_\(name).so next to this script.
        set -e
        cd "$(dirname "$0")"
        cc -shared -fPIC -fvisibility=hidden -I '\(include)' -o libcapsule_\(name).so \(name).c

        """
    }

    static func example(_ name: String) -> String {
        """
        // Runs with: capsule run example.cap (the script's directory is on the plugin path).
        import "\(name)"
        print(\(name).add(40, 2))
        try { \(name).divide(1, 0) } catch e { print(e.message) }

        """
    }

    static func readme(_ name: String) -> String {
        """
        # \(name)

        A Capsule plugin. Build it and run the example:

        ```
        capsule plugin build .
        capsule run example.cap
        ```

        `build.sh` holds the same build as one `cc` line, for machines without `capsule`.

        `capsule plugin inspect libcapsule_\(name).so` shows what it exports. The plugin
        author's guide is sdk/README.md in the Capsule repository.

        """
    }
}
