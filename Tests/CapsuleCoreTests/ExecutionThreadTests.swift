import Foundation
import Testing
@testable import CapsuleCore

/// A VM runs every entry on one thread of its own, which ends with the VM.
@Suite struct ExecutionThreadTests {
    /// The kernel's id of the calling thread (/proc/thread-self links to "PID/task/TID").
    static func threadID() -> Int {
        let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
        return Int(link.split(separator: "/").last ?? "") ?? -1
    }

    @Test func everyEntryRunsOnTheVMsOwnThread() {
        var seen: [Int] = []
        let caller = Self.threadID()
        do {
            let vm = VM()
            vm.register("where", parameters: [], result: .int) { _ in
                seen.append(Self.threadID())
                return .int(Int64(seen.count))
            }
            #expect(throws: Never.self) { try vm.evaluate("fn here() { return where() }\nhere()").get() }
            _ = vm.run(source: "where()", name: "<t>")
            #expect(throws: Never.self) { try vm.call("here", []).get() }
            #expect(seen.count == 3)
            #expect(Set(seen).count == 1, "one thread for every entry: \(seen)")
            #expect(seen.first != caller, "not the caller's thread")
            #expect(FileManager.default.fileExists(atPath: "/proc/self/task/\(seen[0])"), "the thread stays between entries")
        }
        // The VM is gone: its thread was joined, so the kernel no longer lists it.
        #expect(!FileManager.default.fileExists(atPath: "/proc/self/task/\(seen[0])"), "the thread ends with its VM")
    }

    @Test func callersOnSeveralThreadsTakeTurns() {
        let vm = VM()
        #expect(throws: Never.self) { try vm.evaluate("var total = 0\nfn bump(n) { total += n\nreturn total }").get() }
        let group = DispatchGroup()
        /// NOTE: `@unchecked Sendable` because every field is read and written with `lock` held.
        final class Count: @unchecked Sendable {
            let lock = NSLock()
            var value = 0
            func add() { lock.lock(); value += 1; lock.unlock() }
        }
        let failures = Count()
        for _ in 0..<4 {
            group.enter()
            Thread {
                for _ in 0..<50 {
                    // No lock: callers queue for the VM's thread.
                    let result = vm.call("bump", [.int(1)])
                    if case .failure = result { failures.add() }
                }
                group.leave()
            }.start()
        }
        group.wait()
        #expect(failures.value == 0)
        #expect((try? vm.evaluate("total").get()) == .int(200))
    }

    /// Without a thread (pthread_create failed), entries run on their callers' threads, still
    /// one at a time, and a call back from inside one runs in place instead of waiting.
    @Test func withoutAThreadCallersStillTakeTurns() {
        let runner = ExecutionThread(stackSize: 1 << 20, canStart: false)
        /// NOTE: `@unchecked Sendable` because every field is read and written with `lock` held.
        final class Record: @unchecked Sendable {
            let lock = NSLock()
            var inside = 0, most = 0, runs = 0, nested = 0, elsewhere = 0
            func enter() { lock.lock(); inside += 1; most = max(most, inside); runs += 1; lock.unlock() }
            func leave() { lock.lock(); inside -= 1; lock.unlock() }
            func count(_ keyPath: ReferenceWritableKeyPath<Record, Int>) { lock.lock(); self[keyPath: keyPath] += 1; lock.unlock() }
        }
        let record = Record()
        let group = DispatchGroup()
        for _ in 0..<4 {
            group.enter()
            Thread {
                let caller = ExecutionThreadTests.threadID()
                for _ in 0..<50 {
                    runner.run {
                        record.enter()
                        if ExecutionThreadTests.threadID() != caller { record.count(\.elsewhere) }
                        usleep(100)
                        runner.run { record.count(\.nested) }
                        record.leave()
                    }
                }
                group.leave()
            }.start()
        }
        group.wait()
        #expect(record.runs == 200 && record.nested == 200)
        #expect(record.most == 1, "entries overlapped")
        #expect(record.elsewhere == 0, "each ran on its caller's thread")
    }
}
