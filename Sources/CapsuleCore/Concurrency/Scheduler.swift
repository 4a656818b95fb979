#if canImport(Glibc)
import Glibc
#endif

/// The fiber scheduler's state: one per VM, touched only on the VM's thread (the
/// cross-thread part is `EventPort`). See docs/concurrency.md for the model.
///
/// NOTE: every stored property is `@exclusivity(unchecked)` for the same reason as
/// `Runtime`'s: only the VM's thread touches them.
final class Scheduler {
    /// The fiber whose registers are the VM's stack; nil while the top-level call runs
    /// without ever having parked (its fiber is made on first need).
    @exclusivity(unchecked) var current: UnsafeMutablePointer<ObjFiber>? = nil
    /// The fiber of the running top-level call, once it has one: a root.
    @exclusivity(unchecked) var main: UnsafeMutablePointer<ObjFiber>? = nil
    /// Fibers parked on a completion another thread will post, by address, with how many
    /// completions each still expects: roots, and work in flight for the deadlock check.
    @exclusivity(unchecked) var awaiting: [UInt: Int] = [:]
    /// What host calls left running for a parked fiber, to undo if the wait ends without the
    /// call running again (`NativeCall.onWaitAbandoned`), by fiber address.
    @exclusivity(unchecked) var waitCleanups: [UInt: () -> Void] = [:]
    /// A slot for the argument pointer of the NativeCall completions run with.
    let scratch: UnsafeMutablePointer<Value>
    /// Fibers ready to run, in order (a ring of pointers; a power-of-two capacity).
    @exclusivity(unchecked) var queue: UnsafeMutablePointer<UnsafeMutablePointer<ObjFiber>>
    @exclusivity(unchecked) var queueHead = 0
    @exclusivity(unchecked) var queueCount = 0
    @exclusivity(unchecked) var queueCapacity = 64
    /// Every fiber not yet done, for reports (weak: the collector frees a fiber nothing can
    /// reach and takes it out of here, see `Runtime.collectLeakedFibers`).
    @exclusivity(unchecked) var fibers: [UnsafeMutablePointer<ObjFiber>] = []
    /// Pending timers, a binary min-heap on (deadline, sequence).
    @exclusivity(unchecked) var timers: [FiberTimer] = []
    @exclusivity(unchecked) var timerSequence = 0
    /// Fibers parked on a file descriptor, by descriptor.
    @exclusivity(unchecked) var ioWaits: [Int32: IOWait] = [:]
    /// Fibers that failed with nobody joining them yet: reported when the program ends if
    /// still not joined.
    @exclusivity(unchecked) var unjoinedFailures: [UnsafeMutablePointer<ObjFiber>] = []
    @exclusivity(unchecked) var nextFiberID = 2
    @exclusivity(unchecked) var nextChannelID = 1
    /// True while a top-level call (`Runtime.call` from outside any script) runs: only
    /// then can a fiber park, since only then is there a loop to switch fibers.
    @exclusivity(unchecked) var driving = false
    /// Set once a second fiber exists: the countdown then runs in slices, and a slice that
    /// ends with other fibers ready yields (Runtime.checkLimits).
    @exclusivity(unchecked) var preemptive = false
    /// Picks among ready select arms (xorshift; uniform enough, and cheap).
    @exclusivity(unchecked) var random: UInt64 = 0x9E37_79B9_7F4A_7C15
    /// Statistics for `fibers()` and the benchmarks.
    @exclusivity(unchecked) var switches = 0
    @exclusivity(unchecked) var spawned = 0
    @exclusivity(unchecked) var leaked = 0
    /// Scheduler picks since the last look at timers and descriptors (Go looks at its
    /// netpoller every 61 picks while others are ready; so does this).
    @exclusivity(unchecked) var picksSincePoll = 0
    /// Completions from other threads, and the epoll instance.
    let events = EventPort()

    init() {
        queue = .allocate(capacity: queueCapacity)
        scratch = .allocate(capacity: 1)
        scratch.initialize(to: .nil)
    }

    deinit {
        queue.deallocate()
        scratch.deallocate()
    }

    func enqueue(_ f: UnsafeMutablePointer<ObjFiber>) {
        if queueCount == queueCapacity {
            let bigger = UnsafeMutablePointer<UnsafeMutablePointer<ObjFiber>>.allocate(capacity: queueCapacity * 2)
            for j in 0..<queueCount { bigger[j] = queue[(queueHead + j) & (queueCapacity - 1)] }
            queue.deallocate()
            queue = bigger
            queueHead = 0
            queueCapacity *= 2
        }
        queue[(queueHead + queueCount) & (queueCapacity - 1)] = f
        queueCount += 1
    }

    func dequeue() -> UnsafeMutablePointer<ObjFiber>? {
        while queueCount > 0 {
            let f = queue[queueHead]
            queueHead = (queueHead + 1) & (queueCapacity - 1)
            queueCount -= 1
            if f.pointee.state == .runnable || f.pointee.state == .created { return f }
        }
        return nil
    }

    func forEachQueued(_ body: (UnsafeMutablePointer<ObjFiber>) -> Void) {
        for j in 0..<queueCount { body(queue[(queueHead + j) & (queueCapacity - 1)]) }
    }

    func nextRandom() -> UInt64 {
        random ^= random << 13
        random ^= random >> 7
        random ^= random << 17
        return random
    }

    // MARK: timers

    func addTimer(_ t: FiberTimer) {
        var t = t
        t.sequence = timerSequence
        timerSequence += 1
        timers.append(t)
        var j = timers.count - 1
        while j > 0 {
            let parent = (j - 1) / 2
            if !timers[j].precedes(timers[parent]) { break }
            timers.swapAt(j, parent)
            j = parent
        }
    }

    /// Removes the timers of fibers no longer waiting for them (the fiber was woken another
    /// way: cancelled, or a select's other case fired). Timer fibers are roots, so each
    /// fiber read here is alive. A sorted array is a valid heap.
    func dropStaleTimers() {
        let live = timers.filter { t in
            guard let f = t.fiber else { return true }
            return f.pointee.state == .waiting && f.pointee.generation == t.generation
        }
        if live.count != timers.count { timers = live.sorted { $0.precedes($1) } }
    }

    func popTimer() -> FiberTimer {
        let top = timers[0]
        let last = timers.removeLast()
        if !timers.isEmpty {
            timers[0] = last
            var j = 0
            while true {
                let l = 2 * j + 1, r = l + 1
                var m = j
                if l < timers.count && timers[l].precedes(timers[m]) { m = l }
                if r < timers.count && timers[r].precedes(timers[m]) { m = r }
                if m == j { break }
                timers.swapAt(j, m)
                j = m
            }
        }
        return top
    }
}

/// A timer: wakes a fiber (a sleep, a wait with a time limit) or sends on a channel
/// (`time.after`) when `deadline` (CLOCK_MONOTONIC nanoseconds) passes.
struct FiberTimer {
    var deadline: Int
    var sequence = 0
    /// The fiber to wake, valid while its generation is still `generation`.
    var fiber: UnsafeMutablePointer<ObjFiber>?
    var generation: Int
    /// The channel to send the time on (`time.after`), or nil.
    var channel: Value
    /// What the woken fiber takes: the arm it resumes with (-2: the wait timed out).
    var arm: Int
    /// Nanoseconds between sends of a ticker (`time.tick`); 0 for a one-shot timer.
    var period: Int = 0

    func precedes(_ other: FiberTimer) -> Bool {
        deadline < other.deadline || (deadline == other.deadline && sequence < other.sequence)
    }
}

/// Fibers parked on one descriptor, readers and writers, in arrival order. An event wakes the
/// first of each ready direction; the registration (one-shot) is armed again while others
/// wait, so a descriptor that stays ready wakes the next one at once (several fibers may
/// `accept` on one listener, as goroutines may in Go).
struct IOWait {
    var readers: [Waiter] = []
    var writers: [Waiter] = []
    var registered = false

    /// Drops waiters woken some other way (a timer, a cancel).
    mutating func dropStale() {
        readers.removeAll { !$0.isLive }
        writers.removeAll { !$0.isLive }
    }
}
