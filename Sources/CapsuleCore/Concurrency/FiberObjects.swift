#if canImport(Glibc)
import Glibc
#endif

/// The heap objects of concurrency: fibers, channels, mutexes and wait groups
/// (docs/concurrency.md). Like every object they are allocated by `Runtime.allocateObject`
/// and freed by the sweep; what they own outside their allocation (a fiber's saved
/// registers, a channel's buffer and wait queues) is malloc'd and freed with them.

enum FiberState: UInt8 {
    /// Spawned, not yet run: `entry` and `arguments` say what to call.
    case created
    /// In the run queue.
    case runnable
    /// Its registers and frames are the VM's live stack.
    case running
    /// Parked: `wait` says on what; a waker makes it runnable.
    case waiting
    /// Returned: `result` holds the value.
    case finished
    /// An error escaped it: `result` holds the error.
    case failed
}

/// What a parked fiber waits for, for deadlock reports and for `cancel`.
enum WaitReason: UInt8 {
    case none, receive, send, select, join, sleep, lock, waitGroup, io, completion
}

/// How a parked fiber is resumed (`ObjFiber.resumeKind`).
enum ResumeKind: UInt8 {
    /// Nothing to hand over: it continues at `resumePC` (a preempted fiber, a wake-up
    /// that carries no value).
    case none
    /// The instruction it parked in runs again and takes `resumeValue`/`resumeArm`
    /// (`Runtime.takeResumption`).
    case value
    /// An error is raised where it parked: the message is `resumeValue`, its class
    /// `ErrorKind(rawValue: resumeArm)`.
    case error
}

/// One fiber that waits in a queue (a channel's senders or receivers, a fiber's joiners, a
/// mutex's or wait group's waiters). A select leaves one in each channel it waits on; the
/// first to fire bumps the fiber's `generation`, which makes the others stale, and stale
/// entries are skipped and dropped (Go's `selectDone`, done lazily).
struct Waiter {
    var fiber: UnsafeMutablePointer<ObjFiber>
    var generation: Int
    /// The value a sender offers.
    var value: Value
    /// The select arm this entry belongs to (-1: a plain send or receive).
    var arm: Int

    var isLive: Bool { fiber.pointee.state == .waiting && fiber.pointee.generation == generation }
}

/// A FIFO of waiters in a malloc'd ring.
struct WaitQueue {
    var items: UnsafeMutablePointer<Waiter>? = nil
    var head = 0
    var count = 0
    var capacity = 0

    /// The first live waiter, removed; stale ones before it are dropped.
    mutating func popLive() -> Waiter? {
        while count > 0, let items {
            let w = items[head]
            head = (head + 1) & (capacity - 1)
            count -= 1
            if w.isLive { return w }
        }
        return nil
    }

    /// Whether a live waiter is queued (stale ones at the front are dropped).
    mutating func hasLive() -> Bool {
        while count > 0, let items {
            if items[head].isLive { return true }
            head = (head + 1) & (capacity - 1)
            count -= 1
        }
        return false
    }

    /// NOTE: `items` is non-nil after `dropStaleOrGrow`, which runs whenever the ring is full
    /// (an empty ring has capacity 0, so it runs on the first push).
    /// `allocate` gets a ring's memory (`Runtime.systemAllocate`: a refusal is the VM's
    /// out-of-memory handling, not a trap).
    mutating func push(_ w: Waiter, allocate: (Int) -> UnsafeMutableRawPointer) {
        if count == capacity { dropStaleOrGrow(allocate) }
        items.unsafelyUnwrapped[(head + count) & (capacity - 1)] = w
        count += 1
    }

    /// Makes room: drops stale entries (a select in a loop leaves one per round in each
    /// channel that did not fire), and doubles the ring if that freed too little.
    private mutating func dropStaleOrGrow(_ allocate: (Int) -> UnsafeMutableRawPointer) {
        let live = (0..<count).compactMap { j -> Waiter? in
            let w = items.unsafelyUnwrapped[(head + j) & (capacity - 1)]
            return w.isLive ? w : nil
        }
        var newCapacity = max(capacity, 4)
        while live.count * 2 >= newCapacity { newCapacity *= 2 }
        if newCapacity != capacity {
            free(items)
            items = allocate(newCapacity * MemoryLayout<Waiter>.stride).assumingMemoryBound(to: Waiter.self)
            capacity = newCapacity
        }
        for (j, w) in live.enumerated() { items.unsafelyUnwrapped[j] = w }
        head = 0
        count = live.count
    }

    func forEach(_ body: (Waiter) -> Void) {
        guard let items else { return }
        for j in 0..<count { body(items[(head + j) & (capacity - 1)]) }
    }

    var byteSize: Int { capacity * MemoryLayout<Waiter>.stride }

    mutating func release() {
        free(items)
        items = nil
        head = 0; count = 0; capacity = 0
    }
}

/// A fiber: a function running on its own register stack, switched by the scheduler
/// (Concurrency/Scheduler.swift). While it runs, its frames and registers are the VM's; while
/// it is parked, they are saved here, exactly as long as they are, so a parked fiber costs
/// its own depth and no more.
struct ObjFiber {
    var header: ObjHeader
    var id: Int
    var state: FiberState
    var wait: WaitReason
    var resumeKind: ResumeKind
    var flags: UInt8
    /// Bumped at every wake-up: queue entries made for an earlier wait become stale.
    var generation: Int
    /// What to call when it starts: the callee and a list of the arguments.
    var entry: Value
    var arguments: Value
    /// The return value, or the error once failed.
    var result: Value
    /// What it waits on (a channel, a fiber, a mutex…) while waiting; for reports.
    var waitObject: Value
    /// The function and instruction where it parked, and where it was spawned.
    var waitFunction: Value
    var waitPC: Int
    var spawnFunction: Value
    var spawnPC: Int
    /// What the instruction that parked takes when it runs again.
    var resumeValue: Value
    var resumeArm: Int
    /// Where the innermost frame continues.
    var resumePC: Int
    /// A short text for a wait the report cannot name from `waitObject` (a plugin call).
    var waitLabel: Value
    // The saved execution state (malloc'd; capacities grow, never shrink below use).
    var regs: UnsafeMutablePointer<Value>?
    var regCount: Int
    var regCapacity: Int
    var frames: UnsafeMutablePointer<CallFrame>?
    var frameCount: Int
    var frameCapacity: Int
    var handlers: UnsafeMutablePointer<Handler>?
    var handlerCount: Int
    var handlerCapacity: Int
    var openUpvalues: UnsafeMutablePointer<ObjUpvalue>?
    /// Fibers blocked in `join` on this one.
    var joiners: WaitQueue
    /// Position in `Scheduler.fibers` (every unfinished fiber is listed, for reports).
    var registryIndex: Int

    static let joinedFlag: UInt8 = 1
    static let cancelFlag: UInt8 = 2
    static let mainFlag: UInt8 = 4
    /// Its function has been called (a fiber whose native function parked before any
    /// frame existed is called again when woken).
    static let startedFlag: UInt8 = 16

    var isDone: Bool { state == .finished || state == .failed }
}

/// A channel, a mutex or a wait group (the kind says which; they share a layout because
/// each is a count and two queues of fibers).
struct ObjChannel {
    var header: ObjHeader
    var id: Int
    /// Buffer size (channels); 0: unbuffered.
    var capacity: Int
    var buffer: UnsafeMutablePointer<Value>?
    var head: Int
    var count: Int
    var closed: Bool
    /// Channels: receivers waiting. Mutexes and wait groups: fibers waiting.
    var receivers: WaitQueue
    /// Channels: senders waiting, with their values.
    var senders: WaitQueue
    /// Mutex: 1 while locked. Wait group: the counter.
    var counter: Int
    /// Where it was made (function and instruction), for reports.
    var siteFunction: Value
    var sitePC: Int
}
