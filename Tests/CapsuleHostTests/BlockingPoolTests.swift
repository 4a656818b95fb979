@testable import CapsuleHost
import Foundation
import Synchronization
import Testing

/// Blocking exports on the pool (Bridge/ExportBinding+Blocking.swift, Blocking/BlockingPool.swift)
/// through the `blocking` fixture (Tests/PluginFixtures/blocking.c): calls overlap, a comparator
/// still calls synchronously, cancel, plugin errors, arguments kept alive under GC stress, busy
/// handles, the run's timeout, the stuck-call report, raw FFI's `!blocking` and reloads.
/// Time bounds are generous correctness bounds (calls overlap), not benchmarks.
@Suite(.serialized) struct BlockingPoolTests {
    /// Runs `source` with the fixtures on the plugin path, the clock granted and `settings`
    /// for the pool. Returns what it printed, then "ERROR: " and the error's first line.
    func runBlocking(_ source: String, settings: BlockingPoolSettings = BlockingPoolSettings(), gcStress: Bool = false,
                     grants: [Capability] = [], isolated: Set<String> = [], timeout: Duration? = nil) -> String {
        let capture = OutputCapture()
        var configuration = Configuration()
        configuration.gcStress = gcStress
        configuration.policy = Policy(grants: [Capability(.clock)] + grants, isolated: isolated)
        configuration.timeout = timeout
        configuration.output = { capture.append($0) }
        let vm = VM(configuration: configuration)
        PluginHost(pluginPaths: [Fixtures.directory], blocking: settings).install(on: vm)
        let outcome = vm.run(source: source, name: "test.cap")
        if case .ok = outcome { return capture.text }
        return capture.text + "ERROR: " + firstErrorLine(outcome)
    }

    @Test(arguments: [(4, 2), (2, 4)])
    func fibersOverlapUpToThePoolSize(threads: Int, rounds: Int) {
        // 8 calls of 100 ms: ceil(8 / threads) rounds, not 8.
        let output = runBlocking("""
            import "blocking"
            import "time"
            let start = time.monotonic()
            let fibers = []
            for i in 0..8 { fibers.push(spawn blocking.slow_ms(100)) }
            var total = 0
            for f in fibers { total = total + f.join() }
            let ms = (time.monotonic() - start) * 1000
            print(total, ms >= \(rounds * 100 - 10), ms < \(rounds * 100 + 300), blocking.most_at_once())
            """, settings: BlockingPoolSettings(threads: threads))
        #expect(output == "800 true true \(threads)\n")
    }

    @Test func aCallWhereTheFiberCannotParkRunsOnTheVMThread() {
        let output = runBlocking("""
            import "blocking"
            let l = [3, 1, 2]
            l.sort(fn(a, b) { return blocking.slow_ms(1) * 0 + a - b })
            print(l, blocking.most_at_once())
            """)
        #expect(output == "[1, 2, 3] 1\n")
    }

    @Test func cancelWakesTheWaitingFiberWithCancelledError() {
        let output = runBlocking("""
            import "blocking"
            import "time"
            let t = spawn blocking.slow_ms(300)
            let w = spawn fn() {
              try { blocking.slow_ms(300) } catch e is CancelledError { return "CancelledError: " + e.message }
              return "not cancelled"
            }()
            time.sleep(0.05)
            print(t.cancel(), w.cancel())
            try { print(t.join()) } catch e { print("join:", e.message) }
            print(w.join())
            print(blocking.slow_ms(1), "goes on")
            """)
        #expect(output == "true true\njoin: fiber cancelled\nCancelledError: fiber cancelled\n1 goes on\n")
    }

    @Test func aPluginErrorRaisedOnAPoolThreadReachesTheScript() {
        let output = runBlocking("""
            import "blocking"
            let f = spawn blocking.fail_after(20, "disk on fire")
            try { f.join() } catch e { print(e.message) }
            try { blocking.fail_after(1, "again") } catch e { print(e.message) }
            """)
        #expect(output == "blocking.fail_after: disk on fire\nblocking.fail_after: again\n")
    }

    @Test(arguments: [false, true])
    func argumentsAndResultsSurviveWhileOthersRun(gcStress: Bool) {
        let output = runBlocking("""
            import "blocking"
            import "time"
            let fs = []
            for i in 0..12 { fs.push(spawn blocking.reverse_later("ab" + str(i) + "cd", 20)) }
            // Garbage while the pool threads read the strings.
            var junk = []
            for i in 0..200 { junk.push("x" + str(i)) }
            junk = nil
            let out = []
            for f in fs { out.push(f.join()) }
            print(out)
            let b = bytes("abc")
            let s = spawn blocking.sum_later(b, 30)
            time.sleep(0.005)           // the fiber starts its call
            b.push(100)                 // and the script's bytes grow (move) meanwhile
            print(s.join(), len(b))
            let buf = bytes(4)
            blocking.fill_later(buf, 5)
            print(buf, blocking.twice_later(3))
            """, gcStress: gcStress)
        #expect(output == """
            ["dc0ba", "dc1ba", "dc2ba", "dc3ba", "dc4ba", "dc5ba", "dc6ba", "dc7ba", "dc8ba", "dc9ba", "dc01ba", "dc11ba"]
            294 4
            b"xxxx" [3, 6]

            """)
    }

    @Test func aHandleInUseByAPoolCallCannotBeClosed() {
        let output = runBlocking("""
            import "blocking"
            import "time"
            let box = blocking.box_new(7)
            let r = spawn blocking.box_read_later(box, 100)
            time.sleep(0.02)
            try { blocking.box_close(box) } catch e { print(e.message) }
            print(r.join())
            blocking.box_close(box)
            print(blocking.boxes_destroyed())
            """)
        #expect(output == """
            blocking.box_close: argument 1: expected handle<blocking.Box>, got one a blocking call of another fiber is still using (close it once that call returns)
            7
            1

            """)
    }

    @Test func theRunsTimeoutEndsAWaitOnAPoolCall() {
        _ = Fixtures.directory  // compiled before the clock starts
        let start = ContinuousClock.now
        let output = runBlocking("""
            import "blocking"
            print("start")
            blocking.slow_ms(5000)
            print("not reached")
            """, timeout: .milliseconds(300))
        #expect(output == "start\nERROR: error: timeout of 300ms exceeded")
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    @Test func aLongCallIsReportedOnce() {
        let lines = Mutex<[String]>([])
        let settings = BlockingPoolSettings(reportAfter: 0.1, report: { line in lines.withLock { $0.append(line) } })
        let output = runBlocking("""
            import "blocking"
            print(blocking.slow_ms(400), blocking.slow_ms(10))
            """, settings: settings)
        #expect(output == "400 10\n")
        let reported = lines.withLock { $0 }
        #expect(reported.count == 1)
        #expect(reported.first?.hasPrefix("capsule: blocking call blocking.slow_ms has been running for 0.") == true)
    }

    @Test func anExportThatNeedsTheVMThreadCannotBeBlocking() {
        let output = runBlocking("import \"blocking_bad\"")
        #expect(output.contains("export 'bad' of plugin blocking_bad is flagged CAPSULE_EXPORT_BLOCKING, but its signature '(value) -> i64' cannot run on a pool thread: value needs the VM's thread"))
    }

    @Test func rawFFIBlockingSuffix() {
        let output = runBlocking("""
            import "ffi"
            import "time"
            let c = ffi.open(nil)
            let us = ffi.bind(c, "usleep", "(u32) -> i32 !blocking")
            let start = time.monotonic()
            let fs = []
            for i in 0..4 { fs.push(spawn us(100000)) }
            for f in fs { f.join() }
            print((time.monotonic() - start) < 0.35)
            try { ffi.bind(c, "usleep", "(u32) -> i32 !errno !blocking") } catch e { print(e.message) }
            """, grants: [Capability(.ffi)])
        #expect(output == """
            true
            ffi.bind: signature '(u32) -> i32 !errno !blocking' for 'usleep': !blocking cannot be used here: structs, '...' and !errno do not run on the blocking pool yet

            """)
    }

    @Test func aReloadWaitsForThePoolCallsOfTheVM() {
        let output = runBlocking("""
            import "blocking"
            import "plugins"
            import "time"
            let f = spawn blocking.slow_ms(200)
            time.sleep(0.02)
            try { plugins.reload("blocking") } catch e { print(e.message) }
            print(f.join())
            print(plugins.reload("blocking"), blocking.slow_ms(1))
            """)
        #expect(output == """
            reload of blocking refused: 1 blocking call is still running in blocking 1.0.0 on the pool; reload once it returns
            200
            1.0.0 1

            """)
    }

    @Test func anIsolatedCallWaitsOnAPoolThreadWhileOtherFibersRun() {
        // The worker runs one call at a time: a, then b (which waits for the worker), while
        // the ticker keeps running on the VM's thread.
        let output = runBlocking("""
            import "blocking"
            import "time"
            let start = time.monotonic()
            let a = spawn blocking.slow_ms(200)
            let b = spawn blocking.slow_ms(100)
            var ticks = 0
            let ticker = spawn fn() { while time.monotonic() - start < 0.25 { ticks = ticks + 1; time.sleep(0.01) } }()
            print(a.join(), b.join())
            ticker.join()
            let ms = (time.monotonic() - start) * 1000
            print(ms >= 290, ms < 1000, ticks > 10)
            print(blocking.reverse_later("hello", 5), blocking.twice_later(4))
            let buf = bytes(3)
            blocking.fill_later(buf, 1)
            print(buf)
            try { blocking.fail_after(5, "isolated boom") } catch e { print(e.message) }
            let l = [3, 1, 2]
            l.sort(fn(x, y) { return blocking.slow_ms(1) * 0 + x - y })
            print(l)
            let c = spawn blocking.slow_ms(300)
            time.sleep(0.05)
            c.cancel()
            try { c.join() } catch e { print("c:", e.message) }
            print(blocking.slow_ms(2))
            """, isolated: ["blocking"])
        #expect(output == """
            200 100
            true true true
            olleh [4, 8]
            b"xxx"
            blocking.fail_after: isolated boom
            [1, 2, 3]
            c: fiber cancelled
            2

            """)
    }

    @Test func aPluginThreadCompletesAParkedCall() {
        // 8 fibers park in host->park; 8 plugin threads complete them after 100 ms each.
        let output = runBlocking("""
            import "blocking"
            import "time"
            let start = time.monotonic()
            let fs = []
            for i in 0..8 { fs.push(spawn blocking.later(100, i)) }
            let out = []
            for f in fs { out.push(f.join()) }
            print(out, (time.monotonic() - start) < 0.5)
            print(blocking.later(1, 42))
            let l = [3, 1, 2]
            l.sort(fn(a, b) { return blocking.later(1, a - b) })
            print(l)
            print(blocking.later_kind(5, 1))
            try { blocking.later_kind(5, 2) } catch e { print(e.message) }
            try { blocking.later_kind(5, 3) } catch e { print(e.message) }
            print(blocking.park_twice())
            let c = spawn blocking.later(200, 7)
            time.sleep(0.02)
            c.cancel()
            try { c.join() } catch e { print("c:", e.message) }
            print(blocking.later(5, 8), "goes on")
            """)
        #expect(output == """
            [0, 1, 2, 3, 4, 5, 6, 7] true
            42
            [1, 2, 3]
            done
            blocking.later_kind: it went wrong
            blocking.later_kind: complete_str: the string is not valid UTF-8
            1
            c: fiber cancelled
            8 goes on

            """)
    }

    @Test func parkOutsideAFlaggedExportFails() {
        let output = runBlocking("""
            import "blocking"
            try { print(blocking.park_unflagged()) } catch e { print(e.message) }
            """)
        #expect(output == "blocking.park_unflagged: park: only in a call of an export flagged CAPSULE_EXPORT_PARKS, on the thread the host called it on\n")
    }
}
