@testable import CapsuleHost
import Foundation
import XCTest

/// Hot reload through the embedding API (`PluginHost.reload(module:)`), with the fixture
/// `reloadable.c` rebuilt into the watched file during the test (compiled beside it, then
/// renamed over it, as build tools do).
final class HotReloadTests: XCTestCase {
    var directory = ""
    var file: String { directory + "/" + PluginHost.fileName(forModule: "reloadable") }

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-reload-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        build(["-DVERSION=1"])
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    /// Compiles the fixture with `flags` and renames it over the plugin file.
    func build(_ flags: [String]) {
        let staging = directory + "/staging.so"
        XCTAssertEqual(Fixtures.compile(source: Paths.fixtures + "/reloadable.c", output: staging, extraArguments: flags), 0)
        XCTAssertEqual(rename(staging, file), 0)
    }

    /// A VM with the fixture imported, and a function evaluating script lines in it.
    func session() -> (PluginHost, (String) -> String) {
        let capture = OutputCapture()
        var configuration = Configuration()
        configuration.output = { capture.append($0) }
        let vm = VM(configuration: configuration)
        let host = PluginHost(pluginPaths: [directory], environment: [:])
        host.install(on: vm)
        let evaluate = { (line: String) -> String in
            let before = capture.text.count
            let outcome = vm.evaluateREPL(line)
            let printed = String(capture.text.dropFirst(before))
            if case .ok = outcome { return printed }
            return printed + "ERROR: " + (outcome.errorText.split(separator: "\n").first.map(String.init) ?? "")
        }
        XCTAssertEqual(evaluate("import \"reloadable\"\nlet v = reloadable.value\nprint(v())"), "101\n")
        return (host, evaluate)
    }

    func testReloadSwapsCodeKeepsStateAndFunctionValues() {
        let (host, evaluate) = session()
        XCTAssertEqual(evaluate("print(reloadable.value())"), "102\n")
        build(["-DVERSION=2"])
        guard case .success(let reload) = host.reload(module: "reloadable") else { return XCTFail("refused") }
        XCTAssertEqual(reload.old.manifest.version, "1.0.0")
        XCTAssertEqual(reload.new.manifest.version, "2.0.0")
        // The counter carried over (2 calls), the module and a function value taken from it
        // before the reload both call the new code.
        XCTAssertEqual(evaluate("print(reloadable.value())"), "203\n")
        XCTAssertEqual(evaluate("print(v())"), "204\n")
        XCTAssertEqual(evaluate("print(reloadable.version())"), "2\n")
    }

    func testRefusalsKeepTheOldVersionServing() {
        let (host, evaluate) = session()
        let cases: [([String], String)] = [
            (["-DVERSION=2", "-DCHANGE_SIGNATURE"], "changes the signature of 'value' from () -> i64 to (i64) -> i64"),
            (["-DVERSION=2", "-DDROP_VALUE"], "removes export 'value', which is in use"),
            (["-DVERSION=2", "-DWRONG_ABI"], "ABI version 99"),
            (["-DVERSION=2", "-DINIT_FAILS"], "init failed with status 1"),
            (["-DVERSION=2", "-DRESTORE_FAILS"], "restore_state failed with status 1"),
            (["-DVERSION=2", "-DNEEDS_CAPABILITY"], "requires capability fs.read:/, which is not granted"),
        ]
        var expected = 101
        for (flags, message) in cases {
            build(flags)
            switch host.reload(module: "reloadable") {
            case .success: XCTFail("\(flags) was accepted")
            case .failure(let error): XCTAssertTrue(error.reason.contains(message), "\(flags): \(error.reason)")
            }
            expected += 1
            XCTAssertEqual(evaluate("print(reloadable.value())"), "\(expected)\n", "\(flags)")
        }
        // A file written half-way: the first 4 KiB of a good build.
        build(["-DVERSION=2"])
        let whole = FileManager.default.contents(atPath: file)!
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: whole.prefix(4096)))
        if case .success = host.reload(module: "reloadable") { XCTFail("a truncated file was accepted") }
        XCTAssertEqual(evaluate("print(reloadable.value())"), "\(expected + 1)\n")
        // And garbage.
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data(repeating: 0x7f, count: 10000)))
        if case .success = host.reload(module: "reloadable") { XCTFail("a corrupt file was accepted") }
        XCTAssertEqual(evaluate("print(reloadable.value())"), "\(expected + 2)\n")
        // A good build still goes through afterwards.
        build(["-DVERSION=2"])
        guard case .success = host.reload(module: "reloadable") else { return XCTFail("refused") }
        XCTAssertEqual(evaluate("print(v())"), "\(200 + expected - 100 + 3)\n")
    }

    func testReloadOfAModuleNotImported() {
        let host = PluginHost(pluginPaths: [directory], environment: [:])
        guard case .failure(let error) = host.reload(module: "reloadable") else { return XCTFail() }
        XCTAssertTrue(error.reason.contains("is not imported"))
    }
}
