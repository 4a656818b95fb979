import CapsuleCore
import Testing

/// Capability parsing and matching, policies, and the JSON manifest with its error positions.
@Suite struct PolicyTests {
    func cap(_ text: String, base: String = "/work") -> Capability {
        try! Capability.parse(text, baseDirectory: base).get()
    }

    @Test func parsesEveryKind() {
        #expect(cap("fs.read:./data/../x/.//y") == Capability(.fsRead, "/work/x/y"))
        #expect(cap("fs.write:/abs") == Capability(.fsWrite, "/abs"))
        #expect(cap("fs.read") == Capability(.fsRead))
        #expect(cap("net.connect:example.com") == Capability(.netConnect, "example.com"))
        #expect(cap("net.connect:example.com:443") == Capability(.netConnect, "example.com:443"))
        #expect(cap("net.connect:[::1]:80") == Capability(.netConnect, "[::1]:80"))
        #expect(cap("net.listen:8080") == Capability(.netListen, "8080"))
        #expect(cap("net.listen:127.0.0.1:8080") == Capability(.netListen, "127.0.0.1:8080"))
        #expect(cap("env:HOME") == Capability(.env, "HOME"))
        #expect(cap("env:AWS_*") == Capability(.env, "AWS_*"))
        #expect(cap("run:git") == Capability(.run, "git"))
        #expect(cap("ffi:libm.so.6") == Capability(.ffi, "libm.so.6"))
        #expect(cap("ffi:/usr/lib/libz.so:crc32,adler32") == Capability(.ffi, "/usr/lib/libz.so:crc32,adler32"))
        #expect(cap("clock") == Capability(.clock))
        #expect(cap("random").description == "random")
        #expect(cap("fs.read:rel", base: "/m").description == "fs.read:/m/rel")
    }

    @Test(arguments: [
        ("disk.read:/x", "unknown capability kind 'disk.read' (known: fs.read, fs.write, net.connect, net.listen, env, run, ffi, clock, random)"),
        ("clock:wall", "capability clock takes no resource (write just 'clock')"),
        ("net.listen:host", "net.listen: expected PORT or HOST:PORT, got 'host'"),
        ("net.connect:host:99999", "net.connect: expected HOST or HOST:PORT, got 'host:99999'"),
        ("ffi:libm.so:", "ffi: expected LIBRARY or LIBRARY:SYMBOL,SYMBOL…, got 'libm.so:'"),
        ("env:A\u{1b}B", "capability env: the resource contains a control character"),
        ("fs.read:", "capability fs.read: the resource is empty (to grant every resource, give the kind alone)"),
        ("run:", "capability run: the resource is empty (to grant every resource, give the kind alone)"),
        ("bad\u{1b}[2J:x", "unknown capability kind 'bad?[2J' (known: fs.read, fs.write, net.connect, net.listen, env, run, ffi, clock, random)"),
    ])
    func refusesMalformedCapabilities(_ text: String, _ message: String) {
        #expect(Capability.parse(text, baseDirectory: "/").map(\.description) == .failure(CapabilityError(message)))
    }

    @Test func fsGrantsCoverTheirTreeByComponents() {
        let g = Capability(.fsRead, "/srv/data")
        #expect(g.covers(Capability(.fsRead, "/srv/data")))
        #expect(g.covers(Capability(.fsRead, "/srv/data/a/b")))
        #expect(!g.covers(Capability(.fsRead, "/srv/database")))
        #expect(!g.covers(Capability(.fsRead, "/srv")))
        #expect(!g.covers(Capability(.fsWrite, "/srv/data/a")))
        #expect(Capability(.fsRead, "/").covers(Capability(.fsRead, "/etc/passwd")))
        #expect(Capability(.fsRead).covers(Capability(.fsRead, "/anything")))
        // `..` in a request is left for the confinement: textually it is still "under".
        #expect(Capability.normalizedPath("a/../b", relativeTo: "/w", applyingParent: false) == "/w/a/../b")
        #expect(Capability.normalizedPath("a/../b", relativeTo: "/w", applyingParent: true) == "/w/b")
    }

    @Test func otherKindsMatch() {
        #expect(Capability(.env, "AWS_*").covers(Capability(.env, "AWS_KEY")))
        #expect(!Capability(.env, "AWS_*").covers(Capability(.env, "HOME")))
        #expect(Capability(.env, "*_TOKEN").covers(Capability(.env, "GH_TOKEN")))
        #expect(!Capability(.env, "HOME").covers(Capability(.env, "HOMEX")))
        #expect(Capability(.run, "git").covers(Capability(.run, "git")))
        #expect(!Capability(.run, "git").covers(Capability(.run, "/tmp/git")))
        #expect(Capability(.netConnect, "example.com").covers(Capability(.netConnect, "EXAMPLE.com:443")))
        #expect(Capability(.netConnect, "example.com:443").covers(Capability(.netConnect, "example.com:443")))
        #expect(!Capability(.netConnect, "example.com:443").covers(Capability(.netConnect, "example.com:80")))
        #expect(!Capability(.netConnect, "example.com").covers(Capability(.netConnect, "evil.com:443")))
        #expect(Capability(.netListen, "8080").covers(Capability(.netListen, "0.0.0.0:8080")))
        #expect(!Capability(.netListen, "127.0.0.1:8080").covers(Capability(.netListen, "0.0.0.0:8080")))
        #expect(!Capability(.netListen, "8080").covers(Capability(.netListen, "8081")))
        #expect(!Capability(.netListen, "8080").covers(Capability(.netConnect, "localhost:8080")))
        // FFI: a library grant covers every symbol; a symbol grant covers opening and those symbols.
        #expect(Capability(.ffi, "libm.so.6").covers(Capability(.ffi, "libm.so.6:sin")))
        #expect(Capability(.ffi, "libm.so.6:sin,cos").covers(Capability(.ffi, "libm.so.6")))
        #expect(Capability(.ffi, "libm.so.6:sin,cos").covers(Capability(.ffi, "libm.so.6:cos")))
        #expect(!Capability(.ffi, "libm.so.6:sin,cos").covers(Capability(.ffi, "libm.so.6:tan")))
        #expect(!Capability(.ffi, "libm.so.6").covers(Capability(.ffi, "libc.so.6:system")))
        #expect(Capability(.clock).covers(Capability(.clock)))
        #expect(!Capability(.clock).covers(Capability(.random)))
    }

    @Test func policiesArePerPrincipalAndDenyByDefault() {
        let policy = Policy(grants: [Capability(.fsRead, "/a"), Capability(.fsRead, "/a/b")],
                            plugins: ["sqlite": [Capability(.fsWrite, "/data")]])
        #expect(policy.grant(for: Capability(.fsRead, "/a/b/c"), by: .script) == Capability(.fsRead, "/a/b"))
        #expect(!policy.allows(Capability(.fsWrite, "/data/x"), by: .script))
        #expect(policy.allows(Capability(.fsWrite, "/data/x"), by: .plugin("sqlite")))
        #expect(!policy.allows(Capability(.fsRead, "/a/x"), by: .plugin("sqlite")))
        #expect(!policy.allows(Capability(.fsWrite, "/data/x"), by: .plugin("other")))
        #expect(!Policy().allows(Capability(.clock), by: .script))
        #expect(Policy.all.allows(Capability(.run, "rm"), by: .plugin("x")))
        let merged = policy.merging(Policy(grants: [Capability(.clock)], plugins: ["sqlite": [Capability(.clock)]]))
        #expect(merged.grants.count == 3 && merged.plugins["sqlite"]?.count == 2)
    }

    @Test func denialMessagesNameTheCapabilityAndResourceAndHowToGrant() {
        #expect(Policy.denial(Capability(.fsRead, "/etc/passwd"), by: .script)
            == "denied: fs.read /etc/passwd (grant with --allow-read=/etc/passwd)")
        #expect(Policy.denial(Capability(.clock), by: .script) == "denied: clock (grant with --allow-clock)")
        #expect(Policy.denial(Capability(.netConnect, "example.com:443"), by: .script)
            == "denied: net.connect example.com:443 (grant with --allow-net=example.com:443)")
        #expect(Policy.denial(Capability(.run, "rm"), by: .script) == "denied: run rm (grant with --allow-run=rm)")
        #expect(Policy.denial(Capability(.fsWrite, "/d"), by: .plugin("sqlite"))
            == "plugin:sqlite: denied: fs.write /d (grant with --allow-plugin=sqlite=fs.write:/d or under \"plugins\" in capsule.json)")
        // Control characters are not echoed; a flag with shell characters is quoted.
        #expect(Policy.denial(Capability(.fsRead, "/x\u{1b}[2J\u{7}"), by: .script)
            == "denied: fs.read /x?[2J? (grant with '--allow-read=/x?[2J?')")
        #expect(Policy.denial(Capability(.fsRead, "/my data/it's"), by: .script)
            == "denied: fs.read /my data/it's (grant with '--allow-read=/my data/it'\\''s')")
        // A comma separates a flag's values: such a path is advised for the manifest.
        #expect(Policy.denial(Capability(.fsRead, "/a,b"), by: .script)
            == "denied: fs.read /a,b (grant with \"fs.read:/a,b\" under \"allow\" in capsule.json)")
    }

    @Test func manifestGrantsTheScriptAndEachPlugin() throws {
        let text = """
            {
              "allow": ["fs.read:./data", "env:HOME", "clock"],
              "plugins": {
                "sqlite": ["fs.write:./data"]
              }
            }
            """
        let policy = try PolicyManifest.parse(text, fileName: "capsule.json", baseDirectory: "/proj").get()
        #expect(policy.grants == [Capability(.fsRead, "/proj/data"), Capability(.env, "HOME"), Capability(.clock)])
        #expect(policy.plugins == ["sqlite": [Capability(.fsWrite, "/proj/data")]])
        #expect(!policy.allowsAll)
        // What `policy suggest` prints parses back to the same policy.
        let rendered = PolicyManifest.render(policy)
        #expect(try PolicyManifest.parse(rendered, fileName: "x", baseDirectory: "/elsewhere").get() == policy)
        #expect(try PolicyManifest.parse(#"{"allow-all": true}"#, fileName: "x", baseDirectory: "/").get() == Policy.all)
        #expect(try PolicyManifest.parse("{}", fileName: "x", baseDirectory: "/").get() == Policy())
    }

    @Test func manifestPluginsMayBeIsolatedOrTrusted() throws {
        let text = """
            {
              "plugins": {
                "sqlite": {"allow": ["fs.read:./data", "fs.write:./data"], "isolate": true},
                "fast": {"trusted": true, "isolate": false},
                "zlib": {"isolate": false},
                "cmath": []
              }
            }
            """
        let policy = try PolicyManifest.parse(text, fileName: "capsule.json", baseDirectory: "/proj").get()
        #expect(policy.plugins == ["sqlite": [Capability(.fsRead, "/proj/data"), Capability(.fsWrite, "/proj/data")],
                                   "fast": [], "zlib": [], "cmath": []])
        #expect(policy.isolated == ["sqlite"] && policy.trusted == ["fast"])
        let rendered = PolicyManifest.render(policy)
        #expect(rendered.contains("\"isolate\": true") && rendered.contains("\"trusted\": true"))
        #expect(try PolicyManifest.parse(rendered, fileName: "x", baseDirectory: "/elsewhere").get() == policy)
        #expect(Policy(plugins: ["a": []], trusted: ["b"]).merging(Policy(isolated: ["c"], trusted: ["d"]))
            == Policy(plugins: ["a": []], isolated: ["c"], trusted: ["b", "d"]))
    }

    @Test func pluginsDeclaringMoreThanClockAndRandomRunIsolatedUnlessTrusted() {
        let none = Policy()
        #expect(!none.runsIsolated(plugin: "p", declaring: []))
        #expect(!none.runsIsolated(plugin: "p", declaring: [.clock, .random]))
        for kind in Capability.Kind.allCases where kind != .clock && kind != .random {
            #expect(none.runsIsolated(plugin: "p", declaring: [.clock, kind]), "\(kind)")
        }
        #expect(!Policy(trusted: ["p"]).runsIsolated(plugin: "p", declaring: [.fsRead]))
        #expect(Policy(trusted: ["q"]).runsIsolated(plugin: "p", declaring: [.fsRead]))
        #expect(!Policy.all.runsIsolated(plugin: "p", declaring: [.fsRead]))
        #expect(Policy(isolated: ["p"]).runsIsolated(plugin: "p", declaring: []))
        // Isolation wins over trust and over --allow-all.
        #expect(Policy(allowsAll: true, isolated: ["p"], trusted: ["p"]).runsIsolated(plugin: "p", declaring: []))
    }

    @Test(arguments: [
        ("{\n  \"allow\": [\"fs.read:x\"],\n  \"alow\": []\n}", "capsule.json:3:3: error: unknown key \"alow\" (known: \"allow\", \"allow-all\", \"plugins\")"),
        ("{\n  \"allow\": [\n    \"fs.red:x\"\n  ]\n}", "capsule.json:3:5: error: unknown capability kind 'fs.red' (known: fs.read, fs.write, net.connect, net.listen, env, run, ffi, clock, random)"),
        ("{\n  \"allow\": [\"clock\",]\n}", "capsule.json:2:21: error: expected a value"),
        ("{\n  \"allow\": \"clock\"\n}", "capsule.json:2:12: error: \"allow\" must be an array of capability strings, not a string"),
        ("{\"allow\": [1]}", "capsule.json:1:12: error: expected a capability string, not a number"),
        ("{\"plugins\": {\"sql-ite\": []}}", "capsule.json:1:14: error: \"sql-ite\" is not a plugin name ([A-Za-z_][A-Za-z0-9_]*)"),
        ("{\"plugins\": {\"s\": 5}}", "capsule.json:1:19: error: plugin \"s\" must be an array of capability strings or an object with \"allow\", \"isolate\", \"trusted\", not a number"),
        ("{\"plugins\": {\"s\": {\n  \"isolate\": \"yes\"}}}", "capsule.json:2:14: error: \"isolate\" of plugin \"s\" must be true or false, not a string"),
        ("{\"plugins\": {\"s\": {\"trusted\": 1}}}", "capsule.json:1:31: error: \"trusted\" of plugin \"s\" must be true or false, not a number"),
        ("{\"plugins\": {\"s\": {\"allow\": \"clock\"}}}", "capsule.json:1:29: error: \"allow\" of plugin \"s\" must be an array of capability strings, not a string"),
        ("{\"plugins\": {\"s\": {\"allow\": [\"fs.red\"]}}}", "capsule.json:1:30: error: unknown capability kind 'fs.red' (known: fs.read, fs.write, net.connect, net.listen, env, run, ffi, clock, random)"),
        ("{\"plugins\": {\"s\": {\"isolated\": true}}}", "capsule.json:1:20: error: unknown key \"isolated\" in plugin \"s\" (known: \"allow\", \"isolate\", \"trusted\")"),
        ("{\"plugins\": {\"s\": {\"trusted\": true, \"trusted\": true}}}", "capsule.json:1:37: error: duplicate key \"trusted\" in plugin \"s\""),
        ("{\"plugins\": {\"s\": {\"isolate\": true,\n  \"trusted\": true}}}", "capsule.json:2:14: error: plugin \"s\" cannot be both \"isolate\" and \"trusted\""),
        ("{\"allow\": [], \"allow\": []}", "capsule.json:1:15: error: duplicate key \"allow\""),
        ("[]", "capsule.json:1:1: error: the manifest must be a JSON object, not an array"),
        ("{\"allow\": [\"fs.read:x\"", "capsule.json:1:23: error: unexpected end of input, expected ',' or ']'"),
        ("", "capsule.json:1:1: error: unexpected end of input, expected a value"),
    ])
    func manifestErrorsHaveLineAndColumn(_ text: String, _ message: String) {
        switch PolicyManifest.parse(text, fileName: "capsule.json", baseDirectory: "/") {
        case .success: Issue.record("accepted \(text)")
        case .failure(let error): #expect(error.description == message)
        }
    }

    /// Manifests with an empty resource, invalid UTF-8, lone surrogates, a NUL escape.
    static let manifestCases: [([UInt8], String)] = {
        func empty(_ kind: String) -> String { "error: capability \(kind): the resource is empty (to grant every resource, give the kind alone)" }
        var cases: [([UInt8], String)] = []
        func add(_ bytes: [UInt8], _ message: String) { cases.append((bytes, message)) }
        func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }
        add(utf8(#"{"allow": ["fs.read:"]}"#), "capsule.json:1:12: " + empty("fs.read"))
        add(utf8(#"{"plugins": {"p": ["fs.write:"]}}"#), "capsule.json:1:20: " + empty("fs.write"))
        add(utf8("{\"allow\": [\n  \"fs.read:/a") + [0xFF] + utf8("b\"]}"), "capsule.json:2:14: error: invalid UTF-8 (byte 0xFF)")
        add(utf8(#"{"allow": ["fs.read:/"#) + [0xED, 0xA0, 0x80] + utf8(#""]}"#), "capsule.json:1:22: error: invalid UTF-8 (byte 0xED)")
        add(utf8(#"{"allow": ["fs.read:/"#) + [0xC0, 0xAF] + utf8(#""]}"#), "capsule.json:1:22: error: invalid UTF-8 (byte 0xC0)")
        add(utf8(#"{"allow": ["fs.read:/x\uD800"]}"#), #"capsule.json:1:23: error: lone surrogate \uD800 (a high surrogate must be followed by a low one)"#)
        add(utf8(#"{"allow": ["fs.read:/x\uDC00"]}"#), #"capsule.json:1:23: error: lone surrogate \uDC00 (a low surrogate without a high one)"#)
        add(utf8(#"{"allow": ["fs.read:/x\uD800\u0041"]}"#), #"capsule.json:1:23: error: lone surrogate \uD800 (followed by \u41, not a low surrogate)"#)
        add(utf8(#"{"allow": ["env:A\u0000"]}"#), "capsule.json:1:12: error: capability env: the resource contains a control character")
        return cases
    }()

    /// A manifest is validated as the flags are (`Capability.parse` for both): an empty
    /// resource is an error, never every resource; invalid UTF-8 and lone surrogates are
    /// errors at their line and column.
    @Test(arguments: PolicyTests.manifestCases)
    func manifestIsValidatedLikeTheFlags(_ bytes: [UInt8], _ message: String) {
        switch PolicyManifest.parse(bytes: bytes, fileName: "capsule.json", baseDirectory: "/") {
        case .success(let p): Issue.record("accepted \(p)")
        case .failure(let error): #expect(error.description == message)
        }
    }

    /// A valid surrogate pair is one character.
    @Test func surrogatePairsDecode() throws {
        let policy = try PolicyManifest.parse(bytes: Array(#"{"allow": ["env:A\uD83D\uDE00"]}"#.utf8), fileName: "m", baseDirectory: "/").get()
        #expect(policy.grants == [Capability(.env, "A\u{1F600}")])
    }

    /// Parsing is linear in the manifest's size: 300k distinct grants (and as many
    /// duplicates) parse in seconds, where the old duplicate check took minutes.
    @Test func largeManifestsParseInLinearTime() throws {
        var text = "{\"allow\": ["
        for i in 0..<300_000 { text += "\"env:V\(i)\",\"env:V\(i)\"," }
        text += "\"clock\"]}"
        let clock = ContinuousClock()
        let start = clock.now
        let policy = try PolicyManifest.parse(text, fileName: "m", baseDirectory: "/").get()
        let elapsed = clock.now - start
        #expect(policy.grants.count == 300_001)
        #expect(elapsed < .seconds(30), "took \(elapsed)")
        // Merging flags on top stays linear too.
        let merged = policy.merging(Policy(grants: [Capability(.env, "V1"), Capability(.random)]))
        #expect(merged.grants.count == 300_002)
        #expect(clock.now - start < .seconds(40))
    }
}
