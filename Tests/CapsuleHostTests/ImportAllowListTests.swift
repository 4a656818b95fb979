@testable import CapsuleHost
import Foundation
import Testing

/// The import audit as an allow-list (`ImportAudit`): glibc's real exports, the hostile
/// fixture refused in-process with each symbol named and isolated by default, trust and grants.
@Suite struct ImportAllowListTests {
    /// The system libraries the audit knows, as this machine's loader finds them: soname → exports.
    static let libraries: [String: [String]] = {
        var result: [String: [String]] = [:]
        for soname in ImportAudit.systemLibraries {
            guard let handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL) else { continue }
            defer { dlclose(handle) }
            guard let object = DynamicLibrary.object(of: handle), object.file.hasPrefix("/"),
                  case .success(let image) = ELFImage.read(path: object.file) else { continue }
            result[soname] = image.exports
        }
        return result
    }()

    /// Every symbol libc exports is harmless, in a power list, or refused by default: an
    /// in-process plugin without grants importing it is refused unless the audit lists it
    /// as harmless (or as clock or random, which are reported, not refused).
    @Test func everyGlibcExportIsClassifiedOrRefusedByDefault() throws {
        let libc = try #require(Self.libraries["libc.so.6"], "libc.so.6 not found")
        #expect(libc.count > 1500, "\(libc.count) exports")
        var counts: [String: Int] = [:]
        for name in libc {
            let image = ELFImage(imports: [name], uniqueSymbols: [], needed: ["libc.so.6"], hasTLS: false, noDelete: false)
            let refused = !ImportAudit.findings(image) { _ in false }.isEmpty
            let classification = ImportAudit.classify(name)
            switch classification {
            case .harmless, .power(.clock), .power(.random): #expect(!refused, "\(name)")
            case .power, .unclassified: #expect(refused, "\(name)")
            }
            counts["\(classification)", default: 0] += 1
        }
        // Most of libc is neither harmless nor a known power: refused by default.
        #expect((counts["unclassified"] ?? 0) > 1000, "\(counts)")
        // Powerful functions that are on no list are refused as unclassified.
        for name in ["ioctl", "sigaction", "signal", "setlocale", "personality", "reboot", "setrlimit", "chroot",
                     "capset", "bpf", "unshare", "fchdir", "sched_setaffinity", "mlockall", "ptrace", "pkey_alloc"] {
            #expect(ImportAudit.classify(name) != .harmless, "\(name)")
        }
        #expect(ImportAudit.classify("capsule_no_such_function") == .unclassified)
        #expect(ImportAudit.classify("__libc_system") == .unclassified)
    }

    /// The lists name only symbols that exist: each is exported, as written or with glibc's
    /// decorations folded, by a system library the audit knows.
    @Test func theListsNameOnlyRealSymbols() throws {
        #expect(Self.libraries["libc.so.6"] != nil && Self.libraries["libm.so.6"] != nil)
        var known: Set<String> = []
        for exports in Self.libraries.values { for name in exports { known.insert(name); known.insert(ImportAudit.fold(name)) } }
        // Symbols the toolchain's startup files reference (weakly) in every shared object.
        let toolchain: Set<String> = ["_ITM_deregisterTMCloneTable", "_ITM_registerTMCloneTable", "_Jv_RegisterClasses", "gmon_start__"]
        var listed = ImportAudit.harmless
        for names in ImportAudit.powerSymbols.values { listed.formUnion(names) }
        let missing = listed.subtracting(known).subtracting(toolchain).sorted()
        #expect(missing == [], "\(missing)")
        // No symbol is in two classes.
        var seen: [String: String] = [:]
        for (power, names) in ImportAudit.powerSymbols {
            for name in names {
                #expect(seen[name] == nil, "\(name) in \(power) and \(seen[name] ?? "")")
                seen[name] = power.rawValue
                #expect(!ImportAudit.harmless.contains(name), "\(name) is harmless and \(power)")
            }
        }
    }

    @Test func foldingFindsTheFunctionBehindGlibcsVariants() {
        #expect(ImportAudit.classify("__isoc99_sscanf") == .harmless)
        #expect(ImportAudit.classify("__memcpy_chk") == .harmless)
        #expect(ImportAudit.classify("__errno_location") == .harmless)
        #expect(ImportAudit.classify("__open64_2") == .power(.fs))
        #expect(ImportAudit.classify("__openat64_2") == .power(.fs))
        #expect(ImportAudit.classify("mmap64") == .power(.ffi))
        #expect(ImportAudit.classify("nanosleep") == .power(.clock))
        #expect(ImportAudit.classify("getrandom") == .power(.random))
        #expect(ImportAudit.classify("pthread_create") == .harmless)
        #expect(ImportAudit.classify("_ZNSt8ios_base4InitC1Ev") == .unclassified)   // iostreams: not the C++ core
        #expect(ImportAudit.classify("_Znwm") == .harmless)
    }

    /// The fixture imports system, execl, open, creat, kill, dlopen, syscall, mprotect,
    /// sigaction and ioctl: each is named in the refusal.
    @Test func theHostileFixtureIsRefusedInProcessWithEachSymbolNamed() {
        let path = Fixtures.path("hostile")
        guard case .failure(let error) = PluginLoader.load(path: path, policy: Policy()) else {
            Issue.record("hostile loaded in-process"); return
        }
        #expect(error.description == "cannot load plugin \(path): plugin hostile imports 'creat' (fs) without an fs.read or fs.write grant; "
            + "imports 'dlopen' (ffi) without an ffi grant; imports 'execl' (run) without a run grant; "
            + "imports 'ioctl', which no list of the audit classifies; imports 'kill' (run) without a run grant; "
            + "imports 'mprotect' (ffi) without an ffi grant; imports 'open' (fs) without an fs.read or fs.write grant; "
            + "imports 'sigaction', which no list of the audit classifies; imports 'syscall' (ffi) without an ffi grant; "
            + "imports 'system' (run) without a run grant (the import audit; grant the capability to the plugin, "
            + "run it isolated with --isolate=hostile, or trust its code with --trust=hostile)")
        // Granted every power it imports, the unclassified ones still refuse it, until trusted.
        let powers = [Capability(.fsRead, "/tmp"), Capability(.run, "/bin/true"), Capability(.ffi)]
        guard case .failure(let granted) = PluginLoader.load(path: path, policy: Policy(plugins: ["hostile": powers])) else {
            Issue.record("hostile loaded with grants only"); return
        }
        #expect(granted.reason == "plugin hostile imports 'ioctl', which no list of the audit classifies; imports 'sigaction', which no list of the audit classifies (the import audit; grant the capability to the plugin, run it isolated with --isolate=hostile, or trust its code with --trust=hostile)")
        // Trusted: powers still need their grants; unclassified imports are its own business.
        guard case .failure(let trusted) = PluginLoader.load(path: path, policy: Policy(trusted: ["hostile"])) else {
            Issue.record("hostile loaded trusted without grants"); return
        }
        #expect(!trusted.reason.contains("ioctl") && trusted.reason.contains("imports 'system' (run) without a run grant"))
        guard case .success(let plugin) = PluginLoader.load(path: path, policy: Policy(plugins: ["hostile": powers], trusted: ["hostile"])) else {
            Issue.record("hostile refused trusted and granted"); return
        }
        #expect(plugin.manifest.name == "hostile")
    }

    /// By default the plugin runs isolated (the audit would refuse it in-process), where the
    /// kernel stops each call and the host goes on.
    @Test func aPluginTheAuditRefusesRunsIsolatedByDefault() throws {
        let dir = try IsolationPolicyTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = """
            import "hostile"
            print(hostile.add(2, 3))
            print(hostile.read_file("/etc/passwd"), hostile.create_file("\(dir)/x"), hostile.signal_process(1))
            print(hostile.raw_getpid() == \(getpid()))
            try { print(hostile.shell("true") != 0) } catch e { print(e.message) }
            try { print(hostile.make_executable()) } catch e { print(e.message) }
            print(hostile.add(40, 2))
            """
        let result = IsolationPolicyTests().placed(source)
        #expect(result.isolated == ["hostile"] && result.inProcess.isEmpty)
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "5" && lines.dropFirst().first == "-13 -13 -1" && lines.dropFirst(2).first == "false", "\(result.output)")
        #expect(result.output.hasSuffix("42\n"), "\(result.output)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/x"))
        // Without isolation it is refused, saying why and how to run it in-process.
        let unavailable = IsolationPolicy(defaults: IsolationSettings(workerPath: "/nonexistent/capsule-worker"))
        let refused = IsolationPolicyTests().placed("import \"hostile\"", isolation: unavailable)
        #expect(refused.output.hasPrefix("ERROR: error: cannot load plugin \(Fixtures.path("hostile")): plugin hostile must run isolated, but isolation is unavailable here: "), "\(refused.output)")
        #expect(refused.output.contains("; plugin hostile runs isolated by default because the import audit refuses it in-process: imports 'creat' (fs) without an fs.read or fs.write grant;"))
        #expect(refused.output.hasSuffix("to run it in the capsule process, grant what it imports or trust it with --trust=hostile or \"trusted\": true for it under \"plugins\" in capsule.json"))
        #expect(refused.inProcess.isEmpty)
    }

    /// The bundled plugins and the benign fixtures still load in-process by default.
    @Test func benignPluginsStayInProcess() throws {
        for path in [Paths.cmath, Paths.buildDirectory + "/libcapsule_zlib.so", Fixtures.path("host_services"), Fixtures.path("good")] {
            guard case .success(let image) = ELFImage.read(path: path) else { Issue.record("cannot read \(path)"); continue }
            #expect(ImportAudit.findings(image) { _ in false } == [], "\(path)")
        }
        let result = IsolationPolicyTests().placed("import \"cmath\"\nimport \"good\"\nprint(cmath.add(1, 2))")
        #expect(result.output == "3\n" && result.inProcess == ["cmath", "good"] && result.isolated.isEmpty)
        // sqlite's imports (the sqlite3_* API, libsqlite3) are on no list: it runs isolated
        // (it declares fs anyway) or trusted.
        let sqlite = try #require(try? ELFImage.read(path: Paths.buildDirectory + "/libcapsule_sqlite.so").get())
        #expect(ImportAudit.unclassified(sqlite).libraries == ["libsqlite3.so.0"])
        #expect(ImportAudit.findings(sqlite, trusted: true) { _ in false } == [])
    }
}
