#if canImport(Glibc)
import Glibc
#endif

/// Resource limits: fuel (`maxInstructions`), wall-clock `timeout`, the heap limit
/// (`maxHeapBytes`) and allocation-failure injection (`failAllocationAfter`).
///
/// The interpreter keeps one countdown, `fuel`, and decrements it at loop back-edges (by the
/// distance jumped) and calls (by the callee's code length). Only when it drops below zero
/// does it call `checkLimits`, which does the real work: raise a pending `out of memory`,
/// read the clock, or charge the fuel reserve and hand out the next slice. With no limits
/// set, `fuel` is `Int.max` and the check never fires. A safe-point handler (another
/// thread's pending work, API/SafePoint.swift) makes the countdown run in slices too, so a
/// request is seen within one slice of counted instructions, and so does a VM that accepts
/// interrupts (API/Interrupt.swift): each slice's check then reads the interrupt flag.
extension Runtime {
    /// Counted instructions between clock reads when a timeout is set.
    static let fuelSlice = 1 << 16
    /// A fiber's time slice in counted instructions, while other fibers exist.
    static let fiberSlice = 1 << 15
    /// Counted instructions between checks while a safe-point handler is installed: a
    /// request waits at most this long (~0.1 ms of a tight loop; docs/performance.md).
    static let safePointSlice = 1 << 14

    /// Resets every limit for a new call into the VM.
    func armLimits() {
        haltMessage = nil
        // A Ctrl-C that came between runs is not meant for this one.
        _ = interruptRequest.take()
        memoryErrorPending = false
        raisingOutOfMemory = 0
        heapLimit = config.maxHeapBytes.map { max(0, $0) } ?? Int.max
        if nextGC > heapLimit { nextGC = heapLimit }
        allocationsBeforeFailure = config.failAllocationAfter.map { max(0, $0 - 1) } ?? Int.max
        deadline = 0
        if let timeout = config.timeout {
            let (seconds, attoseconds) = timeout.components
            let nanoseconds = seconds.multipliedReportingOverflow(by: 1_000_000_000)
            let span = nanoseconds.overflow ? Int.max / 2 : Int(nanoseconds.partialValue) + Int(attoseconds / 1_000_000_000)
            // NOTE: the start is read from the precise clock: the coarse one lags real time by
            // up to a tick, which would end the run that much early. Checks read the coarse
            // clock, so the timeout fires at most one tick late, never early.
            deadline = Runtime.preciseNow() &+ max(1, span)
            if deadline <= 0 { deadline = Int.max }
        }
        fuelReserve = config.maxInstructions.map { max(0, $0) } ?? 0
        fuel = 0
        refillFuel()
    }

    /// Moves the next slice of fuel from the reserve into the countdown. With a fuel limit,
    /// `fuelReserve + fuel` is always the fuel left (negative once overdrawn).
    private func refillFuel() {
        let slice = safePointHandler != nil ? Runtime.safePointSlice
            : deadline != 0 || interruptible ? Runtime.fuelSlice
            : scheduler.preemptive ? Runtime.fiberSlice : Int.max
        if config.maxInstructions != nil {
            let total = fuelReserve &+ fuel
            let take = min(total, slice)
            fuel = take
            fuelReserve = total - take
        } else {
            fuel = slice
            fuelReserve = 0
        }
    }

    /// Makes the next back-edge or call run `checkLimits` without losing fuel.
    @inline(__always) func tripLimitCheck() {
        if fuel >= 0 {
            fuelReserve &+= fuel &+ 1
            fuel = -1
        }
    }

    /// Called when `fuel` drops below zero. Returns false after raising an error (fuel,
    /// timeout, out of memory); true when the run may go on. `canCollect` is false where
    /// values may sit in registers the collector does not see (inside `pushFrame`, reached
    /// from natives that call back into scripts).
    @inline(never)
    func checkLimits(canCollect: Bool = true) -> Bool {
        if let haltMessage {
            fuel = -1
            raiseUncatchable(haltMessage)
            return false
        }
        // Where the collector cannot run, a pending memory error waits for the interpreter's
        // next check: the countdown stays negative, so that comes soon.
        let memoryCheckDeferred = memoryErrorPending && !canCollect
        if memoryErrorPending && canCollect {
            memoryErrorPending = false
            var stillOver = true
            // A refusal by the system is raised whatever a collection frees now.
            if allocationsBeforeFailure >= 0 && gcPauseCount == 0 && !systemMemoryExhausted {
                collectGarbage()
                stillOver = bytesAllocated > heapLimit
            }
            if stillOver {
                refillAfterTrip()
                raiseOutOfMemory()
                return false
            }
        }
        // Safe-point work (API/SafePoint.swift) runs only where the collector may run: the
        // interpreter's checks, not `pushFrame`'s (values sit in unseen registers there).
        if canCollect && safePointHandler != nil && !inSafePoint && safePointTrigger.isRequested {
            runSafePointWork()
        }
        if interruptible && !checkInterrupt() { return false }
        if deadline != 0 && Runtime.coarseNow() >= deadline {
            return halt("timeout of \(LimitText.duration(config.timeout!)) exceeded")
        }
        if config.maxInstructions != nil && fuelReserve &+ fuel < 0 {
            return halt("instruction limit of \(config.maxInstructions!) exceeded")
        }
        if memoryCheckDeferred { return true }
        refillFuel()
        // The end of a fiber's time slice: others get their turn (Concurrency/).
        if scheduler.preemptive && canCollect && shouldYield { return yieldFiber() }
        return true
    }

    /// After a trip that was not about fuel: give back the countdown it took.
    private func refillAfterTrip() {
        if config.maxInstructions != nil && fuelReserve &+ fuel < 0 { return }
        refillFuel()
    }

    /// Ends the run with the timeout error: a host function blocked until `deadline`.
    func haltForTimeout() {
        _ = halt("timeout of \(config.timeout.map(LimitText.duration) ?? "the run") exceeded")
    }

    /// Ends the run with `interrupted` (API/Interrupt.swift).
    func haltForInterrupt() {
        _ = halt("interrupted")
    }

    private func halt(_ message: String) -> Bool {
        haltMessage = message
        fuel = -1
        fuelReserve = 0
        raiseUncatchable(message)
        return false
    }

    /// Raises an error that `try`/`catch` does not catch: it ends the run.
    func raiseUncatchable(_ message: String) {
        raise(message)
        if pendingError.isObject(.error) { pendingError.header.pointee.flags |= ObjErrorFlags.uncatchable | ObjErrorFlags.limit }
    }

    /// The end of a call into the VM: a run that passed the heap limit after its last
    /// check does not count as a success. Returns `result`, or nil after raising.
    func finishRun(_ result: Value?) -> Value? {
        guard let result, memoryErrorPending else { return result }
        pushRoot(result)
        defer { popRoot() }
        memoryErrorPending = false
        if allocationsBeforeFailure >= 0 && gcPauseCount == 0 {
            collectGarbage()
            if bytesAllocated <= heapLimit { return result }
        }
        raiseOutOfMemory()
        return nil
    }

    // MARK: heap

    /// An allocation passed the heap limit, or was failed on purpose: note it, and make the
    /// interpreter's next check raise `out of memory`.
    @inline(never)
    func heapExhausted() {
        if raisingOutOfMemory > 0 { return }
        memoryErrorPending = true
        tripLimitCheck()
    }

    /// The slow part of `allocateObject`: collect when due, then check the heap limit and
    /// the failure injector.
    @inline(never)
    func prepareAllocation(_ size: Int) {
        if (config.gcStress || bytesAllocated + size > nextGC) && gcPauseCount == 0 && !memoryErrorPending {
            collectGarbage()
            // After the system refused memory and the error was raised: take the reserve
            // back once there is room again.
            if emergencyReserve == nil && !systemMemoryExhausted { holdEmergencyReserve() }
        }
        if allocationsBeforeFailure < 0 || bytesAllocated + size > heapLimit { heapExhausted() }
    }

    /// Whether `bytes` more fit under the heap limit, collecting if needed. Raises `out of
    /// memory` and returns false when they do not: for allocations whose size a script
    /// chooses (concatenation, repetition, `bytes(n)`), checked before they happen. Values
    /// the caller holds must be rooted (this may collect).
    func reserveHeap(_ bytes: Int) -> Bool {
        if heapLimit == Int.max && allocationsBeforeFailure >= 0 {
            // No heap limit: the system is the limit (SystemMemory.swift).
            if systemHasRoom(bytes) { return true }
            raiseOutOfMemory()
            return false
        }
        if bytes <= 0 || bytesAllocated &+ bytes <= heapLimit { return true }
        if gcPauseCount == 0 { collectGarbage() }
        if bytesAllocated + bytes <= heapLimit { return true }
        raiseOutOfMemory()
        return false
    }

    /// The `out of memory` message when `bytes` more would not fit under the heap limit even
    /// after a collection, or nil when they fit. Raises nothing: for host code that checks a
    /// size before it builds a temporary buffer or a value and reports the error its own way.
    /// Values the caller holds must be rooted (this may collect).
    func heapShortfall(_ bytes: Int) -> String? {
        if heapLimit == Int.max && allocationsBeforeFailure >= 0 {
            return systemHasRoom(bytes) ? nil : "out of memory"
        }
        if bytes <= 0 || bytesAllocated &+ bytes <= heapLimit { return nil }
        if gcPauseCount == 0 { collectGarbage() }
        if bytesAllocated &+ bytes <= heapLimit { return nil }
        return "out of memory (heap limit \(LimitText.bytes(heapLimit)))"
    }

    /// Roughly what a list of `count` new strings holding `bytes` bytes in all costs.
    static func stringsCost(count: Int, bytes: Int) -> Int {
        count * (MemoryLayout<ObjString>.stride + 1 + MemoryLayout<Value>.stride) + bytes
    }

    /// Raises the catchable `out of memory` error. Its own allocations (message, trace) do
    /// not signal the limit again.
    func raiseOutOfMemory() {
        raisingOutOfMemory += 1
        defer { raisingOutOfMemory -= 1 }
        if systemMemoryExhausted {
            systemMemoryExhausted = false
            memoryErrorPending = false
            raise("out of memory")
        } else if heapLimit == Int.max {
            raise("out of memory (allocation failed by failAllocationAfter)")
        } else {
            raise("out of memory (heap limit \(LimitText.bytes(heapLimit)))")
        }
        if pendingError.isObject(.error) { pendingError.header.pointee.flags |= ObjErrorFlags.limit }
    }

    // MARK: clock and formatting

    /// `CLOCK_MONOTONIC` in nanoseconds.
    static func preciseNow() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int(ts.tv_sec) &* 1_000_000_000 &+ Int(ts.tv_nsec)
    }

    /// `CLOCK_MONOTONIC_COARSE` in nanoseconds (a vDSO read, no system call).
    static func coarseNow() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        return Int(ts.tv_sec) &* 1_000_000_000 &+ Int(ts.tv_nsec)
    }
}

/// Limits as messages show them (and the CLI accepts them).
package enum LimitText {
    /// A duration the way the CLI accepts it: `1h`, `1m`, `2s`, `500ms`, `1.5s`.
    package static func duration(_ d: Duration) -> String {
        let (seconds, attoseconds) = d.components
        if attoseconds == 0 {
            if seconds != 0 && seconds % 3600 == 0 { return "\(seconds / 3600)h" }
            if seconds != 0 && seconds % 60 == 0 { return "\(seconds / 60)m" }
            return "\(seconds)s"
        }
        let nanoseconds = attoseconds / 1_000_000_000
        if seconds == 0 && nanoseconds % 1_000_000 == 0 { return "\(nanoseconds / 1_000_000)ms" }
        return "\(Double(seconds) + Double(attoseconds) / 1e18)s"
    }

    /// A byte count the way the CLI accepts it: `64 MiB`, `512 KiB`, `1000 bytes`.
    package static func bytes(_ n: Int) -> String {
        for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] where n >= 1 << shift && n % (1 << shift) == 0 {
            return "\(n >> shift) \(unit)"
        }
        return n == 1 ? "1 byte" : "\(n) bytes"
    }
}
