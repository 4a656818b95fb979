@testable import CapsuleHost
@testable import CapsuleSystem
import Foundation
import Testing

/// Loader and runtime injection variables (`InjectionVariables`) reach a program only when
/// granted by exact name: `proc.run`'s `env` and `inherit_env`, a plugin's
/// `host->run_program`, and an isolated plugin's worker.
@Suite(.serialized) struct InjectionVariableTests {
    let prelude = "fn t(f) { try { print(f()) } catch e { print(e.message) } }\nimport \"proc\"\n"

    /// A directory the script may write, with a shared object whose constructor creates
    /// `marker` when a program loads it (what a script with a write grant could build).
    static let payload: (dir: String, object: String, marker: String) = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-inject-\(UUID().uuidString)").path
        // NOTE: `try!` on the test's own fresh directory under the temporary directory (a
        // UUID name, written by nobody else): it fails only on a machine whose temporary
        // directory is unwritable, where no test of this suite could run.
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let marker = dir + "/ran"
        try! """
            #include <fcntl.h>
            #include <unistd.h>
            __attribute__((constructor)) static void payload(void) {
                int fd = open("\(marker)", O_WRONLY | O_CREAT, 0600);
                if (fd >= 0) close(fd);
            }
            """.write(toFile: dir + "/payload.c", atomically: true, encoding: .utf8)
        precondition(Fixtures.compile(source: dir + "/payload.c", output: dir + "/payload.so") == 0)
        return (dir, dir + "/payload.so", marker)
    }()

    func payloadRan() -> Bool {
        defer { try? FileManager.default.removeItem(atPath: Self.payload.marker) }
        return FileManager.default.fileExists(atPath: Self.payload.marker)
    }

    /// The attack of the issue: a granted harmless program made to load the script's shared
    /// object through LD_PRELOAD. Refused, under every grant short of the exact name.
    @Test func ldPreloadIsRefusedUnlessGrantedByName() {
        let (dir, object, _) = Self.payload
        let source = prelude + """
            t(fn() { return proc.run("/bin/true", [], {"env": {"LD_PRELOAD": "\(object)"}})["code"] })
            """
        let base = [Capability(.run, "/bin/true"), Capability(.fsWrite, dir), Capability(.fsRead, dir)]
        for extra in [[], [Capability(.env)], [Capability(.env, "LD_*")], [Capability(.env, "LD_PRELOADX")]] {
            let out = run(source, policy: Policy(grants: base + extra))
            #expect(out.hasPrefix("denied: env LD_PRELOAD (in the environment of /bin/true, a LD_* variable can make it run code"), "\(extra): \(out)")
            #expect(out.hasSuffix("pass it only with a grant of exactly this name: grant with --allow-env=LD_PRELOAD)\n"), "\(out)")
            #expect(!payloadRan(), "\(extra)")
        }
        // Granted by its exact name, it passes (and the payload runs: the test can tell).
        #expect(run(source, policy: Policy(grants: base + [Capability(.env, "LD_PRELOAD")])) == "0\n")
        #expect(payloadRan())
        #expect(run(source, policy: .all) == "0\n")
        #expect(payloadRan())
    }

    /// Other classes of the list, each through a program that would honour it.
    @Test func shellPathAndInterpreterVariablesAreRefused() throws {
        let (dir, _, marker) = Self.payload
        // A "harmless" granted shell script that runs `date` by name: PATH would make it run
        // the script's own `date`.
        let tool = dir + "/tool.sh"
        try "#!/bin/sh\ndate >/dev/null\n".write(toFile: tool, atomically: true, encoding: .utf8)
        try "#!/bin/sh\n: > \(marker)\n".write(toFile: dir + "/date", atomically: true, encoding: .utf8)
        chmod(tool, 0o755)
        chmod(dir + "/date", 0o755)
        let grants = [Capability(.run, tool), Capability(.run, "/usr/bin/env")]
        let cases: [(String, String)] = [
            ("PATH", dir), ("BASH_ENV", dir + "/x"), ("BASH_FUNC_date%%", "() { :; }"), ("PYTHONPATH", dir),
            ("PYTHONSTARTUP", dir + "/x"), ("PERL5OPT", "-Mx"), ("RUBYOPT", "-rx"), ("NODE_OPTIONS", "--require x"),
            ("GIT_SSH_COMMAND", "x"), ("GIT_CONFIG_COUNT", "1"), ("GCONV_PATH", dir), ("GLIBC_TUNABLES", "x"),
            ("MALLOC_TRACE", dir + "/t"), ("HOME", dir), ("XDG_CONFIG_HOME", dir), ("LANGUAGE", "../../\(dir)"),
            ("LC_ALL", dir), ("OPENSSL_CONF", dir + "/c"), ("ENV", dir + "/x"), ("IFS", "x"), ("PS4", "$(x)"),
        ]
        for (name, value) in cases {
            let out = run(prelude + "t(fn() { return proc.run(\"\(tool)\", [], {\"env\": {\"\(name)\": \"\(value)\"}})[\"code\"] })",
                          policy: Policy(grants: grants + [Capability(.env)]))
            #expect(out.hasPrefix("denied: env \(Capability.sanitized(name)) (in the environment of \(tool), "), "\(name): \(out)")
        }
        #expect(!FileManager.default.fileExists(atPath: marker))
        // The PATH attack works when granted by name, so the refusal above is what stops it.
        #expect(run(prelude + "print(proc.run(\"\(tool)\", [], {\"env\": {\"PATH\": \"\(dir)\"}})[\"code\"])",
                    policy: Policy(grants: grants + [Capability(.env, "PATH")])) == "0\n")
        #expect(payloadRan())
        // Harmless variables and locale names without a path pass.
        let fine = run(prelude + """
            print(proc.run("/usr/bin/env", [], {"env": {"A": "1", "LANG": "C.UTF-8", "LC_ALL": "C", "TZ": "UTC"}})["stdout"])
            """, policy: Policy(grants: grants))
        #expect(fine == "A=1\nLANG=C.UTF-8\nLC_ALL=C\nTZ=UTC\n\n")
    }

    /// Inheriting: `inherit_env: true` leaves listed variables out unless granted by name;
    /// naming one in `inherit_env` is a denial. The script sets them in the host with
    /// `env.set` first, as an attacker with a bare env grant could.
    @Test func inheritedVariablesFollowTheSameRule() {
        let source = prelude + """
            import "env"
            env.set("PYTHONCAPSULETEST", "/tmp/x")
            env.set("CAPSULE_INJECTION_TEST", "plain")
            let out = proc.run("/usr/bin/env", [], {"inherit_env": true})["stdout"]
            print(out.contains("PYTHONCAPSULETEST"), out.contains("CAPSULE_INJECTION_TEST=plain"))
            t(fn() { return proc.run("/usr/bin/env", [], {"inherit_env": ["PYTHONCAPSULETEST"]})["stdout"] })
            """
        let run_ = Capability(.run, "/usr/bin/env")
        #expect(run(source, policy: Policy(grants: [run_, Capability(.env)])) == """
            false true
            denied: env PYTHONCAPSULETEST (in the environment of /usr/bin/env, a PYTHON* variable can make it run code or read configuration chosen by whoever sets it: Python imports modules and runs startup files from it (PYTHONPATH, PYTHONSTARTUP, PYTHONHOME); pass it only with a grant of exactly this name: grant with --allow-env=PYTHONCAPSULETEST)\n
            """)
        let named = run(source, policy: Policy(grants: [run_, Capability(.env), Capability(.env, "PYTHONCAPSULETEST")]))
        #expect(named == "true true\nPYTHONCAPSULETEST=/tmp/x\n\n")
    }

    /// A plugin's `host->run_program` under the plugin's own grants.
    @Test func runProgramForPluginsFollowsTheSameRule() {
        let (_, object, _) = Self.payload
        let source = "fn t(f) { try { print(f()) } catch e { print(e.message) } }\nimport \"host_services\"\n"
            + "t(fn() { return host_services.run_env(\"/bin/true\", \"LD_PRELOAD=\(object)\") })\n"
            + "t(fn() { return host_services.run_env(\"/usr/bin/env\", \"A=1\") })\n"
        let grants = [Capability(.run, "/bin/true"), Capability(.run, "/usr/bin/env")]
        // The script's exact grant does not count for the plugin; nor does a bare env grant.
        let refused = run(source, pluginPaths: [Fixtures.directory],
                          policy: Policy(grants: [Capability(.env, "LD_PRELOAD")], plugins: ["host_services": grants + [Capability(.env)]]))
        #expect(refused.hasPrefix("host_services.run_env: plugin:host_services: denied: env LD_PRELOAD (in the environment of /bin/true, "), "\(refused)")
        #expect(refused.contains("grant with --allow-plugin=host_services=env:LD_PRELOAD or under \"plugins\" in capsule.json)\n0|A=1\n\n"))
        #expect(!payloadRan())
        let granted = run(source, pluginPaths: [Fixtures.directory],
                          policy: Policy(plugins: ["host_services": grants + [Capability(.env, "LD_PRELOAD")]]))
        #expect(granted == "0|\n0|A=1\n\n")
        #expect(payloadRan())
    }

    /// An isolated plugin's worker is started with the variables its env grants name; the
    /// loader would read LD_PRELOAD before the worker locks itself down.
    @Test func theWorkerEnvironmentTakesListedVariablesOnlyByName() {
        let host = ["LD_PRELOAD": "/tmp/x.so", "GCONV_PATH": "/tmp", "APP_MODE": "fast"]
        let bare = IsolationSettings().granting(Policy(plugins: ["p": [Capability(.env)]]), to: "p", environment: host)
        #expect(bare.environment == ["APP_MODE": "fast"])
        let pattern = IsolationSettings().granting(Policy(plugins: ["p": [Capability(.env, "LD_*")]]), to: "p", environment: host)
        #expect(pattern.environment == [:])
        let exact = IsolationSettings().granting(Policy(plugins: ["p": [Capability(.env, "LD_PRELOAD")]]), to: "p", environment: host)
        #expect(exact.environment == ["LD_PRELOAD": "/tmp/x.so"])
    }

    /// The list holds glibc's unsecvars.h (the variables its loader drops for setuid
    /// programs) and the loader's own.
    @Test func theListCoversGlibcsUnsecureVariables() {
        let unsecvars = ["GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LD_AUDIT", "LD_DEBUG",
                         "LD_DEBUG_OUTPUT", "LD_DYNAMIC_WEAK", "LD_HWCAP_MASK", "LD_LIBRARY_PATH", "LD_ORIGIN_PATH",
                         "LD_PRELOAD", "LD_PROFILE", "LD_SHOW_AUXV", "LD_USE_LOAD_BIAS", "LOCALDOMAIN", "LOCPATH",
                         "MALLOC_TRACE", "MALLOC_CHECK_", "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS",
                         "TMPDIR", "TZDIR", "LD_BIND_NOW", "LD_ASSUME_KERNEL"]
        for name in unsecvars { #expect(InjectionVariables.entry(name: name, value: "x") != nil, "\(name)") }
        #expect(InjectionVariables.entry(name: "LANG", value: "en_US.UTF-8") == nil)
        #expect(InjectionVariables.entry(name: "LANG", value: "/tmp/locale") != nil)
        #expect(InjectionVariables.entry(name: "ld_preload", value: "x") == nil)  // names are case-sensitive, as for the loader
        #expect(InjectionVariables.entry(name: "TERM", value: "xterm") == nil)
    }
}
