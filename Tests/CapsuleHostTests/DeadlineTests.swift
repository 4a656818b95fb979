@testable import CapsuleHost
import CapsuleCore
import Foundation
import Testing

/// `--timeout` bounds every wait (docs/limits.md, "Timeout"): a sleep, an isolated plugin's
/// call (the earlier of its own deadline and the VM's), a worker's start-up and a plugin's
/// init all end at the VM's deadline with the uncatchable `timeout of D exceeded`.
@Suite struct DeadlineTests {
    /// Runs `source` with `timeout`; returns the output plus the error's first line, and the
    /// seconds it took.
    func run(_ source: String, timeout: Duration, policy: Policy = .none, isolation: IsolationPolicy = .none,
             pluginPaths: [String] = []) -> (output: String, seconds: Double) {
        let capture = OutputCapture()
        var configuration = Configuration()
        configuration.policy = policy
        configuration.timeout = timeout
        configuration.output = { capture.append($0) }
        let vm = VM(configuration: configuration)
        PluginHost(pluginPaths: pluginPaths, environment: [:], isolation: isolation).install(on: vm)
        let start = Date()
        let outcome = vm.run(source: source, name: "test.cap")
        let seconds = Date().timeIntervalSince(start)
        if case .ok = outcome { return (capture.text, seconds) }
        return (capture.text + "ERROR: " + firstErrorLine(outcome), seconds)
    }

    static let clock = Policy(grants: [Capability(.clock)])

    @Test(arguments: ["time.sleep(8)", "time.sleep(1e300)", "try { time.sleep(8) } catch e { print(\"caught\") }"])
    func aSleepEndsAtTheDeadline(_ call: String) {
        let (output, seconds) = run("import \"time\"\nprint(\"before\")\n\(call)\nprint(\"after\")", timeout: .seconds(1), policy: Self.clock)
        #expect(output == "before\nERROR: error: timeout of 1s exceeded")
        #expect(seconds >= 0.9 && seconds < 4, "took \(seconds) s")
    }

    @Test func aSleepShorterThanTheDeadlineSleepsAndGoesOn() {
        let (output, seconds) = run("import \"time\"\ntime.sleep(0.2)\nprint(\"after\")", timeout: .seconds(5), policy: Self.clock)
        #expect(output == "after\n")
        #expect(seconds >= 0.19 && seconds < 4)
    }

    @Test(arguments: ["nan", "-1", "(1.0 / 0.0)", "(-1.0 / 0.0)", "\"1\""])
    func aSleepOfNoFiniteDurationIsAnError(_ argument: String) {
        let (output, _) = run("import \"time\"\ntry { time.sleep(\(argument == "nan" ? "0.0 / 0.0" : argument)) } catch e { print(e.message) }",
                              timeout: .seconds(5), policy: Self.clock)
        #expect(output.hasPrefix("time.sleep: argument 1: expected a finite number of seconds >= 0, got "), "\(output)")
    }

    /// The worker's own deadline is 10 s; the VM's 2 s comes first.
    @Test func anIsolatedCallThatSpinsEndsAtTheVMsDeadline() {
        let (output, seconds) = run("""
            import "unruly"
            print("loaded")
            try { unruly.spin() } catch e { print("caught", e.message) }
            print("after")
            """, timeout: .seconds(2), isolation: .plugins(["unruly"]), pluginPaths: [Fixtures.directory])
        #expect(output == "loaded\nERROR: error: timeout of 2s exceeded")
        #expect(seconds < 6, "took \(seconds) s")
    }

    /// An isolated call that ends before the deadline is unaffected, and one whose own
    /// deadline comes first still gets the catchable worker error.
    @Test func theIsolatedCallsOwnDeadlineStillHoldsWhenItIsEarlier() {
        let settings = IsolationSettings(callDeadline: 0.5)
        let (output, seconds) = run("""
            import "unruly"
            try { unruly.spin() } catch e { print("caught") }
            print(unruly.add(1, 2))
            """, timeout: .seconds(20), isolation: .plugins(["unruly"], settings: settings), pluginPaths: [Fixtures.directory])
        #expect(output == "caught\n3\n")
        #expect(seconds < 10)
    }

    /// Plugins whose init, or whose constructor, sleeps 30 s: loading them in a worker ends
    /// at the deadline.
    @Test(arguments: ["INIT", "CONSTRUCTOR"])
    func loadingAnIsolatedPluginEndsAtTheDeadline(_ phase: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-slowinit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.slowPlugin.write(toFile: dir + "/slow.c", atomically: true, encoding: .utf8)
        #expect(Fixtures.compile(source: dir + "/slow.c", output: dir + "/" + PluginHost.fileName(forModule: "slow"),
                                 extraArguments: ["-DSLOW_\(phase)"]) == 0)
        let (output, seconds) = run("""
            print("before")
            try { import "slow" } catch e { print("caught", e.message) }
            print("after")
            """, timeout: .seconds(1), isolation: .plugins(["slow"]), pluginPaths: [dir])
        #expect(output == "before\nERROR: error: timeout of 1s exceeded")
        #expect(seconds < 5, "took \(seconds) s")
    }

    /// A plugin that sleeps 30 s in its init (-DSLOW_INIT) or in a constructor (-DSLOW_CONSTRUCTOR).
    static let slowPlugin = """
        #include <unistd.h>
        #include "capsule.h"
        #ifdef SLOW_CONSTRUCTOR
        __attribute__((constructor)) static void slow_start(void) { sleep(30); }
        #endif
        static int init(const capsule_host_api *api) {
        #ifdef SLOW_INIT
            sleep(30);
        #endif
            (void)api;
            return 0;
        }
        static int64_t one(void) { return 1; }
        static const capsule_export exports[] = {
            {"one", "() -> i64", (void (*)(void))one, 0, "1"},
        };
        static const capsule_plugin plugin = {
            .abi_version = CAPSULE_ABI_VERSION,
            .struct_size = sizeof(capsule_plugin),
            .name = "slow",
            .version = "1.0.0",
            .description = "sleeps while loading",
            .exports = exports,
            .export_count = 1,
            .init = init,
        };
        CAPSULE_PLUGIN(plugin)
        """
}
