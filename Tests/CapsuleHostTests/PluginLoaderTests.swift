@testable import CapsuleHost
import Testing

/// Every refusal the loader makes, with its exact message, and a good plugin loading after it.
@Suite struct PluginLoaderTests {
    static let refusals: [(String, String)] = [
        ("no_entry", "no 'capsule_plugin_entry' symbol (declare the descriptor with CAPSULE_PLUGIN(...) and build with -fvisibility=hidden)"),
        ("wrong_abi", "the plugin was built for ABI version 2, but this host wants ABI version 1"),
        ("wrong_size", "the plugin's descriptor is \(PluginManifest.hostStructSize - 8) bytes, but this host wants \(PluginManifest.hostStructSize) (sizeof(capsule_plugin)); rebuild it against this host's capsule.h"),
        ("bad_signature", "malformed signature '(i64, ) -> i64' for export 'add': expected a type at column 7"),
        ("duplicate_export", "plugin duplicate_export exports 'twice' twice"),
        ("null_function", "export 'missing' of plugin null_function has a NULL function pointer"),
        ("init_fails", "plugin init_fails's init failed with status 3: no configuration found"),
        ("needs_capability", "plugin needs_capability requires capability fs.read:./data, which is not granted (grant with --allow-plugin=needs_capability=fs.read:./data or under \"plugins\" in capsule.json)"),
        ("bad_export_name", "plugin bad_export_name: export 1 has name '2fast', which is not an identifier ([A-Za-z_][A-Za-z0-9_]*)"),
        ("undeclared_handle", "export 'use' of plugin undeclared_handle uses handle<Socket>, which the plugin does not declare"),
        ("bad_struct_field_type", "plugin bad_struct_field_type: malformed fields '{f64 x, f65 y}' for struct type 'point': unknown type 'f65' at column 9"),
        ("bad_struct_duplicate_field", "plugin bad_struct_duplicate_field: malformed fields '{f64 x, f64 x}' for struct type 'point': field 'x' is declared twice at column 13"),
        ("bad_struct_unknown_name", "malformed signature '(point, pointt) -> void' for export 'use': unknown type 'pointt' at column 9"),
        ("bad_struct_duplicate_name", "plugin bad_struct_duplicate_name declares struct type 'point' twice"),
    ]

    @Test(arguments: refusals)
    func refusesWithAClearMessage(_ name: String, _ reason: String) {
        let path = Fixtures.path(name)
        switch PluginLoader.load(path: path) {
        case .success: Issue.record("\(name) was loaded")
        case .failure(let error): #expect(error.description == "cannot load plugin \(path): \(reason)")
        }
        // The host keeps working: a good plugin loads afterwards.
        #expect((try? PluginLoader.load(path: Fixtures.path("good")).get())?.manifest.name == "good")
    }

    @Test(arguments: refusals)
    func importOfARefusedPluginIsAScriptError(_ name: String, _ reason: String) {
        let path = Fixtures.path(name)
        let output = run("""
            try { import "\(name)" } catch e { print(e.message) }
            import "good"
            print(good.triple(14))
            """, pluginPaths: [Fixtures.directory])
        #expect(output == "cannot load plugin \(path): \(reason)\n42\n")
    }

    @Test func missingFileListsEveryPathTried() {
        let output = run(#"import "nowhere""#, pluginPaths: ["/nonexistent/a", "/nonexistent/b/"])
        #expect(output.hasPrefix("ERROR: error: module 'nowhere' not found (looked in: nowhere.cap, /nonexistent/a/libcapsule_nowhere.so, /nonexistent/b/libcapsule_nowhere.so, "))
    }

    @Test func aFileThatIsNotASharedObjectIsRefused() {
        let path = Paths.fixtures + "/README.md"
        guard case .failure(let error) = PluginLoader.load(path: path) else {
            Issue.record("README.md loaded")
            return
        }
        #expect(error.description.hasPrefix("cannot load plugin \(path): "))
    }

    @Test func inspectReadsTheManifestWithoutInit() throws {
        // init_fails would be refused by load; inspect does not call init.
        let manifest = try PluginLoader.inspect(path: Fixtures.path("init_fails")).get()
        #expect(manifest.name == "init_fails")
        let good = try PluginLoader.inspect(path: Fixtures.path("good")).get()
        #expect(good.version == "2.1.0")
        #expect(good.description == "A valid fixture")
        #expect(good.exports.map { "\($0.name) \($0.signature)" } == ["triple (i64) -> i64", "read_secret () -> i64", "host_abi () -> i64"])
    }

    @Test func deniedHostServicesFailTheCall() {
        let output = run("""
            import "good"
            print(good.host_abi())
            try { good.read_secret() } catch e { print(e.message) }
            """, pluginPaths: [Fixtures.directory])
        #expect(output == "1\ngood.read_secret: plugin:good: denied: fs.read /etc/passwd (grant with --allow-plugin=good=fs.read:/etc/passwd or under \"plugins\" in capsule.json)\n")
    }

    @Test func registryKnowsLoadedVersions() {
        _ = run(#"import "good""#, pluginPaths: [Fixtures.directory])
        let versions = PluginRegistry.shared.modules["good"]
        #expect(versions?["2.1.0"]?.manifest.exports.count == 3)
    }
}
