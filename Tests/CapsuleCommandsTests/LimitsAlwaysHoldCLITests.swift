import CapsuleHost
import Foundation
import Testing

/// Limits that always hold, through the real `capsule` executable (docs/limits.md):
/// `--timeout` ends every wait with exit 70 and flushed output, in process and isolated;
/// `--max-heap` counts the text `str`/`join`/`format` build; running out of memory without
/// `--max-heap` (under `ulimit -v`) is the catchable `out of memory`; no script input traps.
@Suite struct LimitsAlwaysHoldCLITests {
    /// Runs `capsule ARGUMENTS` in `directory` through `bash -c` (to set `ulimit -v` first
    /// when `addressSpaceKiB` is given); returns the status, output, error and seconds taken.
    func timed(_ arguments: [String], in directory: String, addressSpaceKiB: Int? = nil) throws
        -> (status: Int32, out: String, err: String, seconds: Double) {
        let start = Date()
        let result: (status: Int32, out: String, err: String)
        if let kib = addressSpaceKiB {
            let binary = try #require(PluginHost.executableDirectory()).appending("/capsule")
            let quoted = ([binary] + arguments).map { "'" + $0 + "'" }.joined(separator: " ")
            result = try run("/bin/bash", ["-c", "ulimit -v \(kib); exec \(quoted)"], in: directory)
        } else {
            result = try capsule(arguments, in: directory)
        }
        return (result.status, result.out, result.err, Date().timeIntervalSince(start))
    }

    func run(_ executable: String, _ arguments: [String], in directory: String) throws -> (status: Int32, out: String, err: String) {
        try runProgram(executable, arguments, in: directory)
    }

    /// Compiles Tests/PluginFixtures/NAME.c into `directory` as the plugin `name`.
    func compileFixture(_ name: String, into directory: String) throws {
        let source = IsolationCLITests.repository + "/Tests/PluginFixtures/\(name).c"
        let output = directory + "/" + PluginHost.fileName(forModule: name)
        let r = try run("/usr/bin/env", ["cc", "-shared", "-fPIC", "-fvisibility=hidden", "-I", IsolationCLITests.repository + "/sdk/include",
                                         "-o", output, source], in: directory)
        #expect(r.status == 0, "\(r.err)")
    }

    // MARK: D13 --timeout bounds every wait

    @Test(arguments: [
        (["--allow-clock"], "import \"time\"\ntime.sleep(8)"),
        (["--allow-clock"], "import \"time\"\ntry { time.sleep(1e300) } catch e { print(\"caught\") }"),
        (["--allow-run=/bin/sleep"], "import \"proc\"\nproc.run(\"/bin/sleep\", [\"30\"])"),
        (["--allow-net=127.0.0.1:0"], "import \"net\"\nlet s = net.listen(\"127.0.0.1\", 0)\nnet.set_timeout(s, nil)\nnet.accept(s)"),
    ])
    func aWaitEndsAtTheTimeoutWithExit70(_ flags: [String], _ body: String) throws {
        let dir = try ScratchDirectory()
        try dir.write("wait.cap", "print(\"before\")\n" + body + "\nprint(\"after\")\n")
        let r = try timed(["run", "--timeout", "1s"] + flags + ["wait.cap"], in: dir.path)
        #expect(r.status == 70)
        #expect(r.out == "before\n")
        #expect(r.err.hasPrefix("error: timeout of 1s exceeded\n"), "\(r.err)")
        #expect(r.seconds < 4, "took \(r.seconds) s")
    }

    /// A plugin export that loops forever: isolated, the worker is killed at the VM's
    /// deadline (its own is 10 s); in process, nothing can interrupt it, and the watchdog
    /// ends the process one second after the deadline, flushing what was printed.
    @Test(arguments: [false, true])
    func aSpinningPluginCallEndsAtTheTimeout(isolated: Bool) throws {
        let dir = try ScratchDirectory()
        try compileFixture("unruly", into: dir.path)
        try dir.write("spin.cap", "import \"unruly\"\nprint(\"before\")\nunruly.spin()\nprint(\"after\")\n")
        let placement = isolated ? "--isolate=unruly" : "--allow-all"  // in process, with the grants its imports need
        let r = try timed(["run", "--timeout", "1s", "--plugin-path", dir.path, placement, "spin.cap"], in: dir.path)
        #expect(r.status == 70)
        #expect(r.out == "before\n")
        #expect(r.err.hasPrefix("error: timeout of 1s exceeded"), "\(r.err)")
        #expect(r.seconds < 5, "took \(r.seconds) s")
    }

    // MARK: D14 --max-heap counts the text built for the script

    @Test(arguments: [
        "let l = []\nfor i in 0..200 { l.push(big) }\nlet s = str(l)",
        "let l = []\nfor i in 0..200 { l.push(big) }\nlet s = \"${l}\"",
        "let l = []\nfor i in 0..200 { l.push(big) }\nlet s = \",\".join(l)",
        "let s = \"{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}\".format(big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big)",
        "let s = \"{}\".format([big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big])",
        "let m = {}\nfor i in 0..200 { m[i] = big }\nlet s = str(m)",
    ])
    func textBuiltForTheScriptIsCheckedAgainstTheHeapLimit(_ body: String) throws {
        let dir = try ScratchDirectory()
        try dir.write("text.cap", "let big = \"x\" * 1000000\ntry {\n\(body)\nprint(len(s))\n} catch e { print(e.message) }\nprint(\"recovered\")\n")
        // /usr/bin/time -f %M: the peak resident set in KiB, on the last line of stderr.
        let binary = try #require(PluginHost.executableDirectory()).appending("/capsule")
        let r = try run("/usr/bin/time", ["-f", "%M", binary, "run", "--max-heap", "16M", "text.cap"], in: dir.path)
        #expect(r.out == "out of memory (heap limit 16 MiB)\nrecovered\n")
        #expect(r.status == 0)
        let peak = try #require(Int(r.err.split(separator: "\n").last ?? ""))
        // 200 copies of 1 MB would be 200 MB of text; the limit is 16 MiB.
        #expect(peak < 100_000, "peak RSS \(peak) KiB")
    }

    // MARK: D15 out of memory without --max-heap

    /// Growth one element at a time (lists, maps: the growth path) and by doubling (strings,
    /// bytes, repetition, `bytes(n)`, `str`: checked before allocating).
    @Test(arguments: [
        ("list", "let l = []\nwhile true { l.push(l) }"),
        ("map", "let m = {}\nvar i = 0\nwhile true { m[i] = i\ni = i + 1 }"),
        ("string", "var s = \"x\"\nwhile true { s = s + s }"),
        ("bytes", "var b = bytes(1)\nwhile true { b = b + b }"),
        ("extend", "var l = [1]\nwhile true { l.extend(l) }"),
        ("repeat", "let s = \"xy\" * 1000000000"),
        ("bytes(n)", "let b = bytes(1000000000)"),
        ("str", "let l = []\nlet big = \"x\" * 10000000\nfor i in 0..100 { l.push(big) }\nlet s = str(l)"),
    ])
    func runningOutOfMemoryIsACatchableError(_ kind: String, _ body: String) throws {
        let dir = try ScratchDirectory()
        try dir.write("grow.cap", "print(\"start\")\ntry {\n\(body)\n} catch e { print(e.message) }\nprint(\"recovered\")\n")
        // Enough address space for the runtime to start (it needs ~150 MB), little more.
        let r = try timed(["run", "grow.cap"], in: dir.path, addressSpaceKiB: 220_000)
        #expect(r.out == "start\nout of memory\nrecovered\n", "\(kind): \(r.err)")
        #expect(r.status == 0, "\(kind): \(r.err)")
    }

    @Test func runningOutOfMemoryUncaughtIsExit70() throws {
        let dir = try ScratchDirectory()
        try dir.write("grow.cap", "print(\"start\")\nvar s = \"x\"\nwhile true { s = s + s }\n")
        let r = try timed(["run", "grow.cap"], in: dir.path, addressSpaceKiB: 220_000)
        #expect(r.status == 70)
        #expect(r.out == "start\n")
        #expect(r.err.hasPrefix("error: out of memory"), "\(r.err)")
    }
}
