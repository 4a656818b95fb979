@testable import CapsuleHost
import Foundation
import Testing

/// Two versions of a plugin coexisting while needed (Erlang-style): a replaced version stays
/// loaded while a handle it made is alive or a call into it is in flight, and is dlclosed
/// (its private copy unmapped) once nothing refers to it.
@Suite(.serialized) final class HotReloadVersionTests {
    /// A v1 handle survives the swap, is refused by v2 with a clear error, is destroyed by
    /// v1's destructor when collected, and then v1 is closed and its copy unmapped.
    @Test func testOldHandleKeepsItsVersionUntilCollected() {
        let fixture = ReloadFixture(["-DVERSION=1", "-DWITH_HANDLE"])
        let (_, host, evaluate) = fixture.session(gcStress: true)
        let record = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
        record.pointee = 0
        defer { record.deallocate() }
        #expect(evaluate("import \"reloadable\"\nvar b1 = reloadable.make_tracked(\(Int(bitPattern: record)))\nprint(reloadable.peek(b1))") == "1\n")
        guard let v1 = host.bridges["reloadable"]?.plugin, let copy = ReloadFixture.copyPath(of: v1) else {
            Issue.record("no bridge or copy"); return
        }
        #expect(ReloadFixture.isMapped(copy))
        fixture.build(["-DVERSION=2", "-DWITH_HANDLE"])
        guard case .success(let reload) = host.reload(module: "reloadable") else { Issue.record("refused"); return }
        #expect(reload.old === v1)
        // Nothing binds v1 any more, but its handle is alive: v1 stays, its destructor has not run.
        #expect(v1.bindingCount == 0)
        #expect(v1.liveHandles == 1)
        #expect(ReloadFixture.isMapped(copy))
        #expect(record.pointee == 0)
        #expect(evaluate("print(reloadable.peek(b1))")
            == "ERROR: error: reloadable.peek: argument 1: handle<reloadable.Box> was made by an earlier version of the plugin, which has been replaced by 2.0.0 (handles do not cross a reload)")
        #expect(evaluate("let b2 = reloadable.make()\nprint(reloadable.peek(b2))") == "2\n")
        // Drop it; under GC stress the next allocation collects it.
        #expect(evaluate("b1 = nil\nlet l = [1, 2]\nprint(len(l))") == "2\n")
        #expect(record.pointee == 1, "v1's destructor (it stores VERSION) ran")
        #expect(v1.liveHandles == 0)
        #expect(!ReloadFixture.isMapped(copy), "v1's private copy is unmapped once unreachable")
        #expect(evaluate("print(reloadable.peek(b2))") == "2\n")
    }

    /// Closing a v1 handle explicitly (through a closing export of v2 is refused, so by the
    /// collector at the VM's end) also releases v1: a VM going away releases every version.
    @Test func testVersionsGoAwayWithTheVM() {
        let fixture = ReloadFixture(["-DVERSION=1", "-DWITH_HANDLE"])
        let registry = PluginRegistry()
        let record = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
        record.pointee = 0
        defer { record.deallocate() }
        var copy: String?
        do {
            let (vm, host, evaluate) = fixture.session(registry: registry)
            #expect(evaluate("import \"reloadable\"\nlet b1 = reloadable.make_tracked(\(Int(bitPattern: record)))") == "")
            copy = host.bridges["reloadable"].flatMap { ReloadFixture.copyPath(of: $0.plugin) }
            fixture.build(["-DVERSION=2", "-DWITH_HANDLE"])
            guard case .success = host.reload(module: "reloadable") else { Issue.record("refused"); return }
            #expect(registry.retiredCount == 1)
            _ = vm
        }
        #expect(record.pointee == 1, "v1's destructor ran when the VM freed the handle")
        #expect(registry.retiredCount == 0)
        if let copy { #expect(!ReloadFixture.isMapped(copy)) } else { Issue.record("no copy path") }
    }

    /// A v1 call in flight during the reload (its callback reloads) finishes on v1's code;
    /// v1 stays mapped until the call returns, then is closed. The next call runs v2.
    @Test func testCallInFlightFinishesOnTheOldVersion() {
        let fixture = ReloadFixture(["-DVERSION=1", "-DWITH_CALLBACK"])
        let (vm, host, evaluate) = fixture.session()
        #expect(evaluate("import \"reloadable\"\nimport \"plugins\"\nprint(reloadable.call_back(fn() { return 7 }))") == "1007\n")
        guard let v1 = host.bridges["reloadable"]?.plugin, let copy = ReloadFixture.copyPath(of: v1) else {
            Issue.record("no bridge or copy"); return
        }
        vm.register("old_mapped", parameters: [], result: .bool) { _ in .bool(ReloadFixture.isMapped(copy)) }
        fixture.build(["-DVERSION=2", "-DWITH_CALLBACK"])
        let script = """
            print(reloadable.call_back(fn() {
                print(plugins.reload("reloadable"), plugins.version("reloadable"), old_mapped())
                return 7
            }))
            """
        #expect(evaluate(script) == "2.0.0 2.0.0 true\n1007\n", "v1's code computed the result after the reload")
        #expect(!ReloadFixture.isMapped(copy), "v1 closed once its call returned")
        #expect(v1.bindingCount == 0)
        #expect(evaluate("print(reloadable.call_back(fn() { return 7 }))") == "2007\n")
        // Nested: a reload inside a callback inside a callback.
        fixture.build(["-DVERSION=3", "-DWITH_CALLBACK"])
        let nested = """
            print(reloadable.call_back(fn() {
                return reloadable.call_back(fn() { plugins.reload("reloadable"); return 1 })
            }))
            """
        #expect(evaluate(nested) == "4001\n", "both calls ran v2's code: 2000 + (2000 + 1)")
        #expect(evaluate("print(reloadable.call_back(fn() { return 7 }))") == "3007\n")
    }

    /// A handle returned by a v1 call whose callback reloaded belongs to v1: v1's code made
    /// it, so v1's destructor destroys it and v1 stays loaded until then.
    @Test func testHandleMadeByACallThatOutlivedItsVersion() {
        let fixture = ReloadFixture(["-DVERSION=1", "-DWITH_HANDLE", "-DWITH_CALLBACK"])
        let (_, host, evaluate) = fixture.session(gcStress: true)
        let record = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
        record.pointee = 0
        defer { record.deallocate() }
        #expect(evaluate("import \"reloadable\"\nimport \"plugins\"\nprint(reloadable.version())") == "1\n")
        guard let v1 = host.bridges["reloadable"]?.plugin, let copy = ReloadFixture.copyPath(of: v1) else {
            Issue.record("no bridge or copy"); return
        }
        fixture.build(["-DVERSION=2", "-DWITH_HANDLE", "-DWITH_CALLBACK"])
        let made = "var b = reloadable.make_after(fn() { plugins.reload(\"reloadable\"); return 0 }, \(Int(bitPattern: record)))"
        #expect(evaluate(made + "\nprint(plugins.version(\"reloadable\"), reloadable.version())") == "2.0.0 2\n")
        #expect(ReloadFixture.isMapped(copy), "the handle keeps v1")
        #expect(v1.liveHandles == 1)
        #expect(evaluate("print(reloadable.peek(b))").contains("was made by an earlier version of the plugin"))
        #expect(evaluate("b = nil\nlet l = [1]\nprint(len(l))") == "1\n")
        #expect(record.pointee == 1, "v1's destructor ran")
        #expect(!ReloadFixture.isMapped(copy))
    }

    /// A slow v1 call on another VM's thread while this VM reloads: it finishes on v1 (that
    /// VM still binds v1), and v1 is closed once that VM reloads too.
    @Test func testCallOnAnotherThreadFinishesOnItsVersion() {
        let fixture = ReloadFixture(["-DVERSION=1", "-DWITH_SLOW"])
        let registry = PluginRegistry()
        let (_, hostA, evaluateA) = fixture.session(registry: registry)
        let (_, hostB, evaluateB) = fixture.session(registry: registry)
        #expect(evaluateA("import \"reloadable\"\nprint(reloadable.slow(nil, 0))") == "1\n")
        #expect(evaluateB("import \"reloadable\"\nprint(reloadable.slow(nil, 0))") == "1\n")
        guard let v1 = hostB.bridges["reloadable"]?.plugin, let copy = ReloadFixture.copyPath(of: v1) else {
            Issue.record("no bridge or copy"); return
        }
        fixture.build(["-DVERSION=2", "-DWITH_SLOW"])
        let started = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
        started.initialize(to: 0)
        defer { started.deallocate() }
        let finished = DispatchSemaphore(value: 0)
        let answer = OutputCapture()
        let address = Int(bitPattern: started)
        Thread {
            answer.append(evaluateB("print(reloadable.slow(\(address), 300))"))
            finished.signal()
        }.start()
        while UnsafeAtomicLoad(started) == 0 { usleep(1000) }
        // B is inside v1's slow(): A reloads and calls v2 meanwhile.
        guard case .success = hostA.reload(module: "reloadable") else { Issue.record("refused"); return }
        #expect(evaluateA("print(reloadable.slow(nil, 0))") == "2\n")
        finished.wait()
        #expect(answer.text == "1\n", "B's call finished on v1")
        #expect(ReloadFixture.isMapped(copy), "B still binds v1")
        guard case .success = hostB.reload(module: "reloadable") else { Issue.record("refused"); return }
        #expect(!ReloadFixture.isMapped(copy), "v1 closed once no VM binds it")
        #expect(evaluateB("print(reloadable.slow(nil, 0))") == "2\n")
    }
}

/// Reads a word another thread writes (the polling loop calls usleep between reads, which the
/// optimizer must assume may change it).
private func UnsafeAtomicLoad(_ p: UnsafeMutablePointer<Int64>) -> Int64 {
    UnsafeRawPointer(p).withMemoryRebound(to: Int64.self, capacity: 1) { $0.pointee }
}
