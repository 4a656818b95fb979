import ArgumentParser
@testable import CapsuleCommands
import Foundation
import Testing

/// Fibers against the run's limits, through the real `capsule` executable: the instruction
/// limit and the timeout still end a program whose fibers all spin or all sleep (the timeout
/// then fires while the scheduler itself sleeps), the heap limit counts fibers and their
/// saved stacks, 100,000 parked fibers fit in a modest resident size, and the refusals
/// (a huge channel buffer, a select of too many cases, a deadlock) have their exit codes.
/// The golden cases in Tests/Scripts/concurrency cover the semantics.
@Suite struct FiberCLITests {
    /// Runs `capsule run FLAGS script.cap` on `source` in a scratch directory; returns the
    /// status, output, error and the seconds it took.
    func run(_ flags: [String], _ source: String) throws -> (status: Int32, out: String, err: String, seconds: Double) {
        let dir = try ScratchDirectory()
        try dir.write("script.cap", source)
        let start = Date()
        let r = try capsule(["run"] + flags + ["script.cap"], in: dir.path)
        return (r.status, r.out, r.err, Date().timeIntervalSince(start))
    }

    /// Four fibers that never wait, and a main script that spins or joins them.
    static let spinners = [
        "print(\"start\")\nfor i in 0..4 { spawn fn() { while true { } }() }\nwhile true { }\n",
        "print(\"start\")\nlet ts = []\nfor i in 0..4 { ts.push(spawn fn() { var n = 0; while true { n += 1 } }()) }\nfor t in ts { t.join() }\n",
    ]

    @Test(arguments: spinners)
    func theInstructionLimitEndsSpinningFibers(_ source: String) throws {
        let r = try run(["--max-instructions", "5000000"], source)
        #expect(r.status == 70)
        #expect(r.out == "start\n")
        #expect(r.err.hasPrefix("error: instruction limit of 5000000 exceeded\n  at "), "\(r.err)")
    }

    @Test(arguments: spinners)
    func theTimeoutEndsSpinningFibers(_ source: String) throws {
        let r = try run(["--timeout", "1s"], source)
        #expect(r.status == 70)
        #expect(r.out == "start\n")
        #expect(r.err.hasPrefix("error: timeout of 1s exceeded\n"), "\(r.err)")
        #expect(r.seconds < 4, "took \(r.seconds) s")
    }

    /// Every fiber waits on a timer far past the deadline: nothing runs, the scheduler
    /// sleeps, and the timeout must still end the run on time.
    @Test(arguments: [
        "import \"time\"\nprint(\"start\")\nlet ts = []\nfor i in 0..4 { ts.push(spawn fn() { time.sleep(30) }()) }\nfor t in ts { t.join() }\nprint(\"never\")\n",
        "import \"time\"\nprint(\"start\")\nlet never = chan()\nfor i in 0..4 { spawn fn() { select { case never.recv() { } case time.after(30) { } } }() }\nselect {\ncase never.recv() { }\ncase time.after(60) { }\n}\nprint(\"never\")\n",
        "import \"time\"\nprint(\"start\")\nlet wg = waitgroup()\nwg.add(1)\nspawn fn() { time.sleep(30); wg.done() }()\nwg.wait()\nprint(\"never\")\n",
    ])
    func theTimeoutFiresWhileAllFibersSleep(_ source: String) throws {
        let r = try run(["--allow-clock", "--timeout", "1s"], source)
        #expect(r.status == 70)
        #expect(r.out == "start\n")
        #expect(r.err.hasPrefix("error: timeout of 1s exceeded\n"), "\(r.err)")
        #expect(r.seconds < 4, "took \(r.seconds) s")
    }

    /// Fibers parked forever, spawned without end (shallow ones, and ones parked 200 calls
    /// deep, whose saved stacks are what grows): the heap limit ends the run.
    @Test(arguments: [
        "print(\"start\")\nlet ch = chan()\nvar n = 0\nwhile true {\n    spawn fn() { ch.recv() }()\n    n += 1\n    if n % 1000 == 0 { let y = chan(); spawn fn() { y.send(nil) }(); y.recv() }\n}\n",
        "print(\"start\")\nlet ch = chan()\nfn deep(n) { if n == 0 { return ch.recv() }; return deep(n - 1) }\nwhile true {\n    spawn deep(200)\n    let y = chan(); spawn fn() { y.send(nil) }(); y.recv()\n}\n",
    ])
    func theHeapLimitCountsParkedFibers(_ source: String) throws {
        let r = try run(["--max-heap", "16M"], source)
        #expect(r.status == 70)
        #expect(r.out == "start\n")
        #expect(r.err.hasPrefix("error: out of memory (heap limit 16 MiB)\n"), "\(r.err)")
    }

    /// 100,000 fibers parked on one channel: the child's peak resident size (VmHWM, read
    /// from its own /proc/self/status) stays under 200 MiB. Measured at 73 MiB with the
    /// debug build (19 MiB for an empty script).
    @Test func aHundredThousandParkedFibersFit() throws {
        let r = try run(["--allow-read=/proc/self/status"], """
            import "fs"
            let ch = chan()
            for i in 0..100000 { spawn fn() { ch.recv() }() }
            let y = chan()
            spawn fn() { y.send(nil) }()
            y.recv()
            print(fibers()["waiting"])
            for line in fs.lines("/proc/self/status") {
                if line.starts_with("VmHWM:") { print(int(line[6:].strip().split(" ")[0])) }
            }
            for i in 0..100000 { ch.send(i) }
            print(fibers()["waiting"])

            """)
        #expect(r.status == 0, "\(r.err)")
        let lines = r.out.split(separator: "\n")
        try #require(lines.count == 3, "\(r.out)")
        #expect(lines[0] == "100000")
        #expect(lines[2] == "0")
        let kib = try #require(Int(lines[1]))
        #expect(kib <= 200 * 1024, "VmHWM \(kib) kB")
    }

    /// 10,000 fibers in a chain passing a token, and 5,000 pairs ping-ponging (the golden
    /// case concurrency/ping_pong.cap runs a tenth of it, which --gc-stress can afford).
    @Test func tenThousandFibersPingPong() throws {
        let r = try run([], """
            let first = chan()
            var left = first
            for i in 0..10000 {
                let right = chan()
                let l = left
                spawn fn() { right.send(l.recv() + 1) }()
                left = right
            }
            first.send(0)
            print(left.recv())
            let done = chan(5000)
            for i in 0..5000 {
                let ping = chan()
                let pong = chan()
                spawn fn() {
                    var v = 0
                    for k in 0..10 { ping.send(v); v = pong.recv() }
                    done.send(v)
                }()
                spawn fn() { for k in 0..10 { pong.send(ping.recv() + 1) } }()
            }
            var total = 0
            for i in 0..5000 { total += done.recv() }
            print(total, fibers()["spawned"])

            """)
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out == "10000\n50000 20000\n")
    }

    @Test func aHugeChannelBufferIsRefused() throws {
        let r = try run([], "print(\"start\")\nlet c = chan(16777217)\n")
        #expect(r.status == 70)
        #expect(r.out == "start\n")
        #expect(r.err.hasPrefix("script.cap:2:9: error: channel buffer size 16777217 is out of range (0 to 16777216)\n"), "\(r.err)")
        let caught = try run([], "try { chan(1 << 40) } catch e { print(class_of(e), e.message) }\n")
        #expect(caught.out == "<class ValueError> channel buffer size 1099511627776 is out of range (0 to 16777216)\n")
        // The largest size is allowed, and its buffer counts against the heap limit.
        let limited = try run(["--max-heap", "64M"], "let c = chan(16777216)\nprint(\"never\")\n")
        #expect(limited.status == 70)
        #expect(limited.out == "")
        #expect(limited.err.hasPrefix("error: out of memory (heap limit 64 MiB)\n"), "\(limited.err)")
    }

    /// A select of `cases` receive cases on buffered channels, the last one ready.
    static func select(cases: Int) -> String {
        var s = "let chans = []\nfor i in 0..\(cases) { chans.push(chan(1)) }\nchans[\(cases - 1)].send(1)\nselect {\n"
        for j in 0..<cases { s += "case chans[\(j)].recv() { print(\(j)) }\n" }
        return s + "}\n"
    }

    @Test func aSelectOfMoreThan66CasesIsACompileError() throws {
        let most = try run([], Self.select(cases: 66))
        #expect(most.status == 0, "\(most.err)")
        #expect(most.out == "65\n")
        for cases in [67, 100] {
            let r = try run([], Self.select(cases: cases))
            #expect(r.status == 65)
            #expect(r.out == "")
            #expect(r.err == "script.cap:4:1: error: a select has at most 66 cases\n    select {\n    ^\n")
        }
    }

    @Test func aDeadlockExitsWith70() throws {
        let r = try run([], "print(\"start\")\nlet ch = chan()\nspawn fn() { ch.send(1); ch.send(2) }()\nch.recv()\nch.recv()\nch.recv()\nprint(\"never\")\n")
        #expect(r.status == 70)
        #expect(r.out == "start\n")
        #expect(r.err == """
            error: all fibers are asleep - deadlock!

            fiber 1 (main) at script.cap:6: recv on channel made at script.cap:2

            """)
    }

    /// A REPL entry that ends in a deadlock is over: its fiber is dropped, so a later
    /// entry's send finds no receiver (it woke the old entry's fiber, whose code then ran
    /// again in the middle of a later entry).
    @Test func aDeadlockedREPLEntryStaysEnded() throws {
        let command = try #require(try CapsuleCommand.parseAsRoot(["repl"]) as? ReplCommand)
        let vm = try command.options.makeVM()
        let repl = REPL(evaluate: vm.evaluateREPL)
        #expect(repl.transcript([
            "let ch = chan()", "ch.recv()", "ch.send(5)", "let y = chan()", "spawn fn() { y.send(1) }()", "y.recv()",
            "fibers()[\"live\"]",
        ]) == """
            > let ch = chan()
            > ch.recv()
            error: all fibers are asleep - deadlock!

            fiber 1 (main) at <repl>:1: recv on channel made at <repl>:1
            > ch.send(5)
            error: all fibers are asleep - deadlock!

            fiber 1 (main) at <repl>:1: send on channel made at <repl>:1
            > let y = chan()
            > spawn fn() { y.send(1) }()
            <fiber 2>
            > y.recv()
            1
            > fibers()["live"]
            0
            > 
            """)
    }
}
