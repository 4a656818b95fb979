@testable import CapsuleHost
import Foundation
import Testing

/// The search path, naming, and the guide's example plugin.
@Suite struct PluginHostTests {
    @Test func searchOrderIsFlagsEnvironmentScriptDirectoryThenExecutable() {
        let host = PluginHost(pluginPaths: ["/p1", "/p2/"], environment: ["CAPSULE_PLUGIN_PATH": "/e1::/e2"])
        #expect(host.candidates(for: "zlib", importerDirectory: "/scripts") == [
            "/p1/libcapsule_zlib.so", "/p2/libcapsule_zlib.so", "/e1/libcapsule_zlib.so",
            "/e2/libcapsule_zlib.so", "/scripts/libcapsule_zlib.so",
            PluginHost.executableDirectory()! + "/libcapsule_zlib.so",
        ])
    }

    @Test func theImportingScriptsDirectoryIsSearched() throws {
        let dir = Fixtures.directory + "/script-dir"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = try? FileManager.default.copyItem(atPath: Fixtures.path("good"), toPath: dir + "/libcapsule_good.so")
        try #"import "good"\#nprint(good.triple(5))\#n"#.write(toFile: dir + "/main.cap", atomically: true, encoding: .utf8)
        let capture = OutputCapture()
        var configuration = Configuration()
        configuration.output = { capture.append($0) }
        let vm = VM(configuration: configuration)
        PluginHost(environment: [:]).install(on: vm)
        #expect(vm.runFile(path: dir + "/main.cap") == .ok(value: nil))
        #expect(capture.text == "15\n")
    }

    @Test func aPluginMustCarryTheNameItIsImportedBy() throws {
        let dir = Fixtures.directory + "/renamed"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = try? FileManager.default.copyItem(atPath: Fixtures.path("good"), toPath: dir + "/libcapsule_other.so")
        #expect(run(#"import "other""#, pluginPaths: [dir])
            == "ERROR: error: cannot load plugin \(dir)/libcapsule_other.so: the plugin is named 'good', not 'other'")
    }

    @Test func eachVMGetsItsOwnModuleButTheLibraryIsLoadedOnce() {
        let first = run(#"import "good"\#nprint(good.triple(1))"#, pluginPaths: [Fixtures.directory])
        let second = run(#"import "good"\#nprint(good.triple(2))"#, pluginPaths: [Fixtures.directory])
        #expect(first + second == "3\n6\n")
        #expect(PluginRegistry.shared.modules["good"]?.count == 1)
    }

    /// sdk/README.md's example plugin, built with the guide's own `cc` line, gives the
    /// output its comments promise.
    @Test func theGuidesExampleBuildsAndRuns() throws {
        let guide = try String(contentsOfFile: Paths.repository + "/sdk/README.md", encoding: .utf8)
        let source = try #require(Self.block(after: "`greet.c`:", in: guide, fence: "```c"))
        let script = try #require(Self.block(after: "Use it from `main.cap`", in: guide, fence: "```"))
        #expect(guide.contains("cc -shared -fPIC -fvisibility=hidden -I <capsule>/sdk/include -o libcapsule_greet.so greet.c"))
        let dir = Fixtures.directory + "/guide"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try source.write(toFile: dir + "/greet.c", atomically: true, encoding: .utf8)
        #expect(Fixtures.compile(source: dir + "/greet.c", output: dir + "/libcapsule_greet.so") == 0)
        let expected = script.split(separator: "\n").compactMap { line in
            line.range(of: "// ").map { String(line[$0.upperBound...]) }
        }.joined(separator: "\n") + "\n"
        #expect(run(script, pluginPaths: [dir]) == expected)
    }

    /// examples/events: the hub plugin built as its README says, the app printing what the
    /// README shows (handlers pinned by the plugin, called from later exports).
    @Test func theEventsExamplePrintsWhatItsReadmeShows() throws {
        let readme = try String(contentsOfFile: Paths.repository + "/examples/events/README.md", encoding: .utf8)
        let expected = try #require(Self.block(after: "It prints:", in: readme, fence: "```"))
        let dir = Fixtures.directory + "/events"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        #expect(Fixtures.compile(source: Paths.repository + "/examples/events/hub/hub.c", output: dir + "/libcapsule_hub.so") == 0)
        let app = try String(contentsOfFile: Paths.repository + "/examples/events/app.cap", encoding: .utf8)
        #expect(run(app, pluginPaths: [dir]) == expected)
        #expect(run(app, pluginPaths: [dir], gcStress: true) == expected)
    }

    /// The text of the first fenced block opening with `fence` after `marker`.
    static func block(after marker: String, in text: String, fence: String) -> String? {
        guard let m = text.range(of: marker),
              let open = text.range(of: fence + "\n", range: m.upperBound..<text.endIndex),
              let close = text.range(of: "\n```", range: open.upperBound..<text.endIndex) else { return nil }
        return String(text[open.upperBound..<close.lowerBound]) + "\n"
    }
}
