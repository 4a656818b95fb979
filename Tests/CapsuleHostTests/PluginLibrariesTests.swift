@testable import CapsuleHost
import Foundation
import Testing

/// An isolated plugin's libraries come from the trusted directories only, resolved by the
/// host; nothing in the plugin file widens what its worker can read
/// (docs/security.md#libraries-of-an-isolated-plugin).
@Suite struct PluginLibrariesTests {
    /// A fresh directory, removed by the caller.
    func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-libs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Builds `good.c` into `dir` as libcapsule_good.so with `flags`, and imports it isolated.
    func importGood(in dir: String, _ flags: [String]) -> String {
        let library = dir + "/libcapsule_good.so"
        #expect(Fixtures.compile(source: Paths.fixtures + "/good.c", output: library, extraArguments: flags) == 0)
        return run("import \"good\"\nprint(good.triple(5))", pluginPaths: [dir], isolation: .all(IsolationSettings()))
    }

    func refusal(_ dir: String, _ why: String) -> String {
        "ERROR: error: cannot load plugin \(dir)/libcapsule_good.so: plugin good cannot run isolated: \(why); "
            + "to run it in the capsule process, trust it with --trust=good or \"trusted\": true for it under \"plugins\" in capsule.json"
    }

    var trusted: String { PluginLibraries.trustedDirectories.joined(separator: ", ") }

    @Test func aSearchPathOutsideTheTrustedDirectoriesIsRefusedByName() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cases: [([String], String)] = [
            (["-Wl,-rpath,/"], "'/'"),
            (["-Wl,-rpath,$ORIGIN"], "'$ORIGIN' (\(dir))"),
            (["-Wl,-rpath,$ORIGIN/../lib"], "'$ORIGIN/../lib' (\(dir))"),
            (["-Wl,--disable-new-dtags,-rpath,/tmp"], "'/tmp'"),  // DT_RPATH
            (["-Wl,-rpath,/usr/lib:"], "''"),                      // an empty entry: the current directory
            (["-Wl,-rpath,$LIB"], "'$LIB'"),
        ]
        for (flags, entry) in cases {
            let output = importGood(in: dir, flags)
            #expect(output == refusal(dir, "its library search path (DT_RUNPATH/DT_RPATH) names \(entry), which is not a trusted library directory (\(trusted))"),
                    "\(flags)")
        }
        // A trusted directory in the search path is fine.
        #expect(importGood(in: dir, ["-Wl,-rpath,\(PluginLibraries.systemDirectories[1])"]) == "15\n")
    }

    @Test func aNeededLibraryOutsideTheTrustedDirectoriesIsRefusedByName() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let dependency = dir + "/libdep.so"
        try "int dep_value(void) { return 7; }\n".write(toFile: dir + "/dep.c", atomically: true, encoding: .utf8)
        #expect(Fixtures.compile(source: dir + "/dep.c", output: dependency) == 0)
        // Linked by path (no SONAME): DT_NEEDED is the path. (--no-as-needed: good.c calls
        // nothing in it, and the linker would leave it out.)
        #expect(importGood(in: dir, ["-Wl,--no-as-needed", dependency]) == refusal(dir, "the plugin needs '\(dependency)' (DT_NEEDED), a path outside the trusted library directories (\(trusted))"))
        // Linked by name: found in no trusted directory.
        #expect(importGood(in: dir, ["-Wl,--no-as-needed", "-L", dir, "-ldep"]) == refusal(dir, "the plugin needs 'libdep.so' (DT_NEEDED), which is in no trusted library directory (\(trusted))"))
    }

    @Test func theWorkerIsGivenExactlyTheLibraryFilesItLoads() throws {
        let sqlite = Paths.buildDirectory + "/libcapsule_sqlite.so"
        let image = try ELFImage.read(path: sqlite).get()
        let libraries = try PluginLibraries.resolve(image, pluginPath: sqlite).get()
        #expect(libraries.contains { $0.hasSuffix("/libsqlite3.so.0") || $0.contains("/libsqlite3.so.0.") })
        for library in libraries {
            var info = stat()
            #expect(stat(library, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG, "\(library) is a file")
            #expect(PluginLibraries.trustedDirectories.contains(PluginLibraries.directory(of: library)), "\(library)")
        }
        // Dependencies first: libc (needed by everything) before libsqlite3.
        let libc = try #require(libraries.firstIndex { $0.hasSuffix("/libc.so.6") })
        let libsqlite = try #require(libraries.firstIndex { $0.contains("/libsqlite3.so") })
        #expect(libc < libsqlite)
        // And the bundled sqlite plugin still runs isolated on them.
        #expect(run("import \"sqlite\"\nlet db = sqlite.open(\":memory:\")\nprint(sqlite.query_lists(db, \"select 1 + 1\", nil))",
                    pluginPaths: [Paths.buildDirectory], isolation: .all(IsolationSettings())) == "[[2]]\n")
    }
}
