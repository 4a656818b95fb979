@testable import CapsuleHost
import Foundation
import Testing

/// Isolation binds all of a plugin's code (docs/security.md#every-thread-is-confined): no
/// thread started while it loads survives into init, no code it left behind runs after init,
/// and after init no thread can add code or change its confinement.
@Suite struct IsolationConfinementTests {
    func isolated(_ source: String, _ settings: IsolationSettings = IsolationSettings()) -> String {
        run(source, pluginPaths: [Fixtures.directory], isolation: .all(settings))
    }

    /// The refusal the host reports when stage 2 of the worker's lockdown finds something.
    func refusal(_ name: String) -> String {
        "ERROR: error: cannot load plugin \(Fixtures.path(name)): worker for plugin \(name) failed to start: cannot lock down the worker: the plugin left "
    }

    @Test func aThreadAConstructorStartedStopsTheWorkerBeforeInit() {
        // Still running, or started by a thread that has exited since: either way init never
        // runs, so the thread never gets to try anything under the looser first stage.
        for name in ["thread_escape", "thread_escape_hop"] {
            let output = isolated("import \"\(name)\"\nprint(\(name).escape_report())")
            #expect(output.hasPrefix(refusal(name)), "\(output)")
            #expect(output.contains(" running after it was loaded (started by its constructors or its libraries'), which the final lockdown cannot bind; an isolated plugin may start threads from init on"), "\(output)")
        }
    }

    @Test func aConstructorThreadThatFinishedIsNoObstacle() {
        #expect(isolated("import \"thread_escape_joined\"\nprint(thread_escape_joined.escape_report())")
            == "the thread finished before init\n")
    }

    /// `probe`'s report when every attempt is refused.
    static let allRefused = "read -\(EACCES), mmap -\(EPERM), mprotect -\(EPERM), landlock_create_ruleset -\(EPERM), "
        + "landlock_restrict_self -\(EPERM), seccomp -\(EPERM), prctl_seccomp -\(EPERM), prctl_no_new_privs -\(EPERM), "
        + "prctl_dumpable -\(EPERM), setns -\(EPERM), unshare -\(EPERM)"

    @Test func afterInitNoThreadCanAddCodeOrChangeItsConfinement() {
        // The calling thread, a thread started by a call, and a thread init started.
        let output = isolated("""
            import "lockdown_probe"
            print(lockdown_probe.probe(0))
            print(lockdown_probe.probe(1))
            print(lockdown_probe.probe(2))
            """)
        #expect(output == [Self.allRefused, Self.allRefused, Self.allRefused, ""].joined(separator: "\n"))
    }

    @Test func whileLoadingOnlyTheNeededLibraryFilesAreReadable() {
        // /usr/lib/os-release is in a library directory the loader used to be given whole.
        #expect(isolated("import \"lockdown_probe\"\nprint(lockdown_probe.constructor_read())") == "-\(EACCES)\n")
    }

    @Test func constructorsGetNoExecutableMemoryButFromFiles() throws {
        // Anonymous code, mapped so or made so: refused while loading already.
        for name in ["code_leftover_writable", "code_leftover_anonymous"] {
            #expect(isolated("import \"\(name)\"\nprint(\(name).attempt())") == "-\(EPERM)\n", "\(name)")
        }
        // An object needing an executable stack does not load.
        let stack = isolated("import \"code_leftover_stack\"\nprint(code_leftover_stack.add(1, 2))")
        #expect(stack.hasPrefix("ERROR: error: cannot load plugin \(Fixtures.path("code_leftover_stack")): "), "\(stack)")
        #expect(stack.contains("cannot enable executable stack"), "\(stack)")
    }

    @Test func codeAConstructorLeftBehindStopsTheWorkerBeforeInit() throws {
        // A file it wrote and mapped executable: rewriting the file would change the code.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-code-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let settings = IsolationSettings(readablePaths: [dir], writablePaths: [dir], environment: ["CODE_DIR": dir])
        let output = isolated("import \"code_leftover_file\"\nprint(code_leftover_file.add(1, 2))", settings)
        #expect(output.hasPrefix(refusal("code_leftover_file") + "executable memory mapped from a file the loader was not given at "), "\(output)")
        #expect(output.contains(dir + "/code.bin"), "\(output)")
    }
}
