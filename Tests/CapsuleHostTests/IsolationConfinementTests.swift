@testable import CapsuleHost
import Foundation
import Testing

/// Isolation binds all of a plugin's code (docs/security.md#every-thread-is-confined): no
/// thread started while it loads survives into init, executable mappings while loading are
/// the host's decision (listed files, one thread), and after init no thread can add code or
/// change its confinement.
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

    @Test func constructorsAlreadyCannotChangeTheirConfinement() {
        // The first stage refuses everything the second did but the loader's mappings (which
        // the host decides): a constructor that subverts the worker and skips the second
        // stage gains no seccomp, Landlock or prctl change by it.
        #expect(isolated("import \"lockdown_probe\"\nprint(lockdown_probe.constructor_probe())") == Self.allRefused + "\n")
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

    @Test func aConstructorCannotMapAFileItWroteExecutable() throws {
        // A file it wrote under a write grant: the host's supervisor refuses the mapping (the
        // file is not one it listed), so there is no code to rewrite after init.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-code-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let settings = IsolationSettings(readablePaths: [dir], writablePaths: [dir], environment: ["CODE_DIR": dir])
        let output = isolated("import \"code_leftover_file\"\nprint(code_leftover_file.attempt())\nprint(code_leftover_file.add(1, 2))", settings)
        #expect(output == "-\(EPERM)\n3\n")
        // It did write the file: the refusal is the mapping's.
        #expect(FileManager.default.fileExists(atPath: dir + "/code.bin"))
    }

    // The host decides executable mappings (capsule_supervisor.h): only while loading, only
    // with one thread, only the files it listed. `exec_mapping`'s constructor and calls map
    // its own private copy (a listed file) and a granted data file.

    @Test func whileLoadingOnlyListedFilesMapExecutableAndOnlyWithOneThread() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-data-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/data.bin"
        try Data(repeating: 0xc3, count: 8192).write(to: URL(fileURLWithPath: file))
        let settings = IsolationSettings(readablePaths: [dir], environment: ["EXEC_DATA": file])
        // Its copy maps (the loader's case); not while a second thread lives, and again once
        // that thread is gone; the granted file reads but never maps executable.
        #expect(isolated("import \"exec_mapping\"\nprint(exec_mapping.constructor_report())", settings)
            == "copy 0, copy with a thread -\(EPERM), copy after it 0, data read 0, data exec -\(EPERM)\n")
    }

    @Test func afterInitNotEvenTheLoadedCopyMapsExecutable() {
        // The same descriptor and file the constructor mapped, from the calling thread and a
        // new one: loading ended when the host sent INIT, whatever the worker did since.
        #expect(isolated("""
            import "exec_mapping"
            print(exec_mapping.after_init(0))
            print(exec_mapping.after_init(1))
            """) == "-\(EPERM)\n-\(EPERM)\n")
    }

    @Test func thePrivateCopyIsReadOnly() {
        // Mode 0400 (and no chmod in the worker): under a write grant covering the staging
        // directory, a worker not running as root cannot rewrite the code it mapped.
        #expect(isolated("import \"exec_mapping\"\nprint(exec_mapping.copy_mode())") == "\(0o400)\n")
    }

    @Test func codeRunningAfterINITBeforeStage2MapsNothing() {
        // A plugin that took over its worker: its signal handler holds the worker's only
        // thread after LOADED, so stage 2 has not run (the worker is still dumpable), and
        // maps its copy once the host has sent INIT. The host refuses what it allowed the
        // constructor: the end of loading is the host's, whatever runs in the worker.
        #expect(isolated("import \"takeover\"\nprint(takeover.report())")
            == "while loading 0, after INIT before stage 2 -\(EPERM), dumpable then 1\n")
    }

    /// `fake_worker.c` built as a program (with `flags`), standing in for capsule-worker.
    func fakeWorker(_ flags: [String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-fake-worker-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["cc", "-o", dir + "/capsule-worker", Paths.fixtures + "/fake_worker.c",
                             "-I", Paths.repository + "/Sources/CapsuleIsolation/include"] + flags
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return dir + "/capsule-worker"
    }

    @Test func aWorkerThatLoadsWithoutHandingOverItsListenerIsRefused() throws {
        // It answers LOADED but never sent its listener: its mappings would be unsupervised.
        let worker = try fakeWorker([])
        defer { try? FileManager.default.removeItem(atPath: (worker as NSString).deletingLastPathComponent) }
        let output = isolated("import \"good\"", IsolationSettings(startDeadline: 1, workerPath: worker))
        #expect(output == "ERROR: error: cannot load plugin \(Fixtures.path("good")): worker for plugin good loaded without handing its executable mappings to the host and was killed", "\(output)")
    }

    @Test func aWorkerWhoseFirstMessageIsNotItsListenerIsKilled() throws {
        let worker = try fakeWorker(["-DWRONG_BYTE"])
        defer { try? FileManager.default.removeItem(atPath: (worker as NSString).deletingLastPathComponent) }
        let output = isolated("import \"good\"", IsolationSettings(startDeadline: 1, workerPath: worker))
        #expect(output == "ERROR: error: cannot load plugin \(Fixtures.path("good")): worker for plugin good broke the protocol while loading (its first message was not its seccomp listener) and was killed", "\(output)")
    }

    @Test func aWorkerFloodingTheSupervisorIsRefusedAndTheHostCarriesOn() {
        // Every one refused; the host's VM thread never waits for the supervisor, and the
        // worker still answers afterwards.
        #expect(isolated("""
            import "exec_mapping"
            print(exec_mapping.flood(20000))
            print(exec_mapping.after_init(0))
            """) == "20000\n-\(EPERM)\n")
    }
}
