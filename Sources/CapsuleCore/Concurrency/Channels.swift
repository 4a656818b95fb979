#if canImport(Glibc)
import Glibc
#endif

/// Channels, select, mutexes and wait groups, with Go's semantics (docs/concurrency.md):
/// an unbuffered send waits for a receiver and hands its value straight over; a buffered one
/// waits only when the buffer is full; receiving from a closed channel takes what is
/// buffered, then gets nil (and `ok` false from `recv_ok`); sending on a closed channel or
/// closing one twice is an error.
extension Runtime {
    func newChannel(kind: ObjKind, capacity: Int) -> UnsafeMutablePointer<ObjChannel> {
        let p = allocateObject(kind: kind, size: MemoryLayout<ObjChannel>.stride)
        let header = p.assumingMemoryBound(to: ObjHeader.self).pointee
        let c = p.assumingMemoryBound(to: ObjChannel.self)
        let (site, pc) = currentSite()
        c.initialize(to: ObjChannel(header: header, id: scheduler.nextChannelID, capacity: capacity, buffer: nil,
                                    head: 0, count: 0, closed: false, receivers: WaitQueue(), senders: WaitQueue(),
                                    counter: 0, siteFunction: site, sitePC: pc))
        scheduler.nextChannelID += 1
        if capacity > 0 {
            c.pointee.buffer = systemAllocate(capacity * MemoryLayout<Value>.stride).assumingMemoryBound(to: Value.self)
            accountExternal(capacity * MemoryLayout<Value>.stride)
        }
        return c
    }

    /// NOTE: `buffer` is non-nil whenever these run: callers push only while `count <
    /// capacity` (so capacity > 0, and `newChannel` allocated it) and pop only while
    /// `count > 0`.
    func channelPush(_ c: UnsafeMutablePointer<ObjChannel>, _ v: Value) {
        c.pointee.buffer.unsafelyUnwrapped[(c.pointee.head + c.pointee.count) % c.pointee.capacity] = v
        c.pointee.count += 1
    }

    func channelPop(_ c: UnsafeMutablePointer<ObjChannel>) -> Value {
        let b = c.pointee.buffer.unsafelyUnwrapped
        let v = b[c.pointee.head]
        b[c.pointee.head] = .nil
        c.pointee.head = (c.pointee.head + 1) % c.pointee.capacity
        c.pointee.count -= 1
        return v
    }

    /// Queues fiber `f` (about to park) on `queue`, for its current wait.
    func enqueueWaiter(_ queue: inout WaitQueue, _ f: UnsafeMutablePointer<ObjFiber>, value: Value = .nil, arm: Int = -1) {
        queue.push(Waiter(fiber: f, generation: f.pointee.generation, value: value, arm: arm), allocate: systemAllocate)
    }

    /// Hands `value` to a waiting receiver (a plain `recv`, or a select's arm).
    func deliver(_ w: Waiter, _ value: Value, ok: Bool) {
        let arm = w.arm < 0 ? (ok ? 0 : 1) : w.arm * 2 + (ok ? 0 : 1)
        wake(w.fiber, value: value, arm: arm)
    }

    /// Tells a waiting sender its value was taken.
    private func releaseSender(_ w: Waiter) {
        wake(w.fiber, value: .nil, arm: w.arm < 0 ? 0 : w.arm * 2)
    }

    /// The error for a wait that cannot park: inside a callback from native code.
    private func cannotWait(_ what: String) -> Value {
        fail("\(what) would block inside a callback from native code (a sort comparator, a function iterated by for, a module's top level); fibers can only wait in code the scheduler runs")
    }

    private func channelText(_ c: UnsafeMutablePointer<ObjChannel>) -> String {
        "channel made at \(siteText(c.pointee.siteFunction, c.pointee.sitePC))"
    }

    // MARK: send, receive, close

    func channelSend(_ c: UnsafeMutablePointer<ObjChannel>, _ v: Value) -> Value {
        if takeResumption() != nil { return .nil }
        if c.pointee.closed { return fail("send on closed channel") }
        if let r = c.pointee.receivers.popLive() {
            deliver(r, v, ok: true)
            return .nil
        }
        if c.pointee.count < c.pointee.capacity {
            channelPush(c, v)
            return .nil
        }
        guard canPark else { return cannotWait("send on \(channelText(c))") }
        guard checkCancelled() else { return Runtime.failure }
        let f = currentFiber()
        enqueueWaiter(&c.pointee.senders, f, value: v)
        return park(.send, on: Value(c))
    }

    /// Receives: the value and whether it came from a send (false: the channel is closed and
    /// drained). Nil after raising or parking.
    func channelReceive(_ c: UnsafeMutablePointer<ObjChannel>) -> (Value, Bool)? {
        if let r = takeResumption() { return (r.value, r.arm & 1 == 0) }
        if c.pointee.count > 0 {
            let v = channelPop(c)
            if let s = c.pointee.senders.popLive() {
                channelPush(c, s.value)
                releaseSender(s)
            }
            return (v, true)
        }
        if let s = c.pointee.senders.popLive() {
            releaseSender(s)
            return (s.value, true)
        }
        if c.pointee.closed { return (.nil, false) }
        guard canPark else { _ = cannotWait("recv on \(channelText(c))"); return nil }
        guard checkCancelled() else { return nil }
        let f = currentFiber()
        enqueueWaiter(&c.pointee.receivers, f)
        _ = park(.receive, on: Value(c))
        return nil
    }

    func channelClose(_ c: UnsafeMutablePointer<ObjChannel>) -> Value {
        if c.pointee.closed { return fail("close of closed channel") }
        c.pointee.closed = true
        while let r = c.pointee.receivers.popLive() { deliver(r, .nil, ok: false) }
        while let s = c.pointee.senders.popLive() { wakeWithError(s.fiber, message: "send on closed channel", kind: .error) }
        return .nil
    }

    // MARK: select

    /// SELECT: `args[0]` is true when there is a `default` arm; then a (kind, channel, value)
    /// triple per arm, kind 0 a receive, 1 a receive with ok, 2 a send. Returns the index of
    /// the arm that ran (-1: default); a receive arm's value is left in `selectedValue`.
    func select(_ args: UnsafeMutablePointer<Value>, _ argc: Int) -> Value {
        let arms = (argc - 1) / 3
        if let r = takeResumption() {
            selectedValue = r.value
            selectedOK = r.arm & 1 == 0
            return Value(inlineInt: Int64(r.arm >> 1))
        }
        // Which arms could go now; a nil channel never can (Go's way to switch an arm off).
        var ready: [Int] = []
        for j in 0..<arms {
            let ch = args[1 + 3 * j + 1]
            if ch.isNil { continue }
            guard ch.isObject(.channel) else {
                return fail("select: case \(j + 1) must be on a channel, got \(typeName(ch))")
            }
            let c = ch.obj(ObjChannel.self)
            if args[1 + 3 * j].asInlineInt == 2 {
                if c.pointee.closed || c.pointee.receivers.hasLive() || c.pointee.count < c.pointee.capacity { ready.append(j) }
            } else {
                if c.pointee.count > 0 || c.pointee.closed || c.pointee.senders.hasLive() { ready.append(j) }
            }
        }
        if !ready.isEmpty {
            let j = ready.count == 1 ? ready[0] : ready[Int(scheduler.nextRandom() % UInt64(ready.count))]
            let c = args[1 + 3 * j + 1].obj(ObjChannel.self)
            if args[1 + 3 * j].asInlineInt == 2 {
                if channelSend(c, args[1 + 3 * j + 2]).bits == Runtime.failure.bits { return Runtime.failure }
                selectedValue = .nil
                selectedOK = true
            } else {
                guard let (v, ok) = channelReceive(c) else { return Runtime.failure }
                selectedValue = v
                selectedOK = ok
            }
            return Value(inlineInt: Int64(j))
        }
        if args[0] == .true {
            selectedValue = .nil
            return Value(inlineInt: -1)
        }
        guard canPark else { return cannotWait("select") }
        guard checkCancelled() else { return Runtime.failure }
        let f = currentFiber()
        for j in 0..<arms {
            let ch = args[1 + 3 * j + 1]
            guard ch.isObject(.channel) else { continue }
            let c = ch.obj(ObjChannel.self)
            if args[1 + 3 * j].asInlineInt == 2 {
                enqueueWaiter(&c.pointee.senders, f, value: args[1 + 3 * j + 2], arm: j)
            } else {
                enqueueWaiter(&c.pointee.receivers, f, arm: j)
            }
        }
        return park(.select, on: .nil)
    }

    // MARK: fibers

    func spawnFiber(_ args: UnsafeMutablePointer<Value>, _ argc: Int) -> Value {
        guard argc >= 1 else { return fail("spawn expects a function to run") }
        let callee = args[0]
        guard callee.isObject, [.closure, .native, .boundMethod, .klass].contains(callee.header.pointee.kind) else {
            return fail("spawn expects a function, got \(typeName(callee))")
        }
        var list = Value.nil
        if argc > 1 {
            let l = newList(capacity: argc - 1)
            for j in 1..<argc { append(l, args[j]) }
            list = Value(l)
        }
        pushRoot(list)
        let f = newFiber(entry: callee, arguments: list)
        popRoot()
        let (site, pc) = currentSite()
        f.pointee.spawnFunction = site
        f.pointee.spawnPC = pc
        scheduler.spawned += 1
        scheduler.enqueue(f)
        enablePreemption()
        return Value(f)
    }

    func joinFiber(_ t: UnsafeMutablePointer<ObjFiber>) -> Value {
        _ = takeResumption()
        if t.pointee.isDone {
            t.pointee.flags |= ObjFiber.joinedFlag
            if t.pointee.state == .finished { return t.pointee.result }
            pendingError = t.pointee.result
            return Runtime.failure
        }
        if let f = scheduler.current, f == t { return fail("a fiber cannot join itself") }
        guard canPark else { return cannotWait("join of fiber \(t.pointee.id)") }
        guard checkCancelled() else { return Runtime.failure }
        let f = currentFiber()
        // Not marked joined yet: a joiner cancelled before `t` ends never sees its error, so
        // `t` counts as joined only when a join returns (above) or a live joiner is woken
        // (`finishFiber`).
        enqueueWaiter(&t.pointee.joiners, f)
        return park(.join, on: Value(t))
    }

    /// Cancels a fiber: its current wait (or its next one, or its start) raises
    /// `CancelledError`. True when it was not done yet.
    func cancelFiber(_ t: UnsafeMutablePointer<ObjFiber>) -> Bool {
        if t.pointee.isDone { return false }
        if t.pointee.state == .waiting {
            wakeWithError(t, message: "fiber cancelled", kind: .cancelled)
        } else {
            t.pointee.flags |= ObjFiber.cancelFlag
        }
        return true
    }

    // MARK: mutexes and wait groups

    func lockMutex(_ m: UnsafeMutablePointer<ObjChannel>) -> Value {
        if takeResumption() != nil { return .nil }  // the unlocker handed the lock over
        if m.pointee.counter == 0 {
            m.pointee.counter = 1
            return .nil
        }
        guard canPark else { return cannotWait("lock of a mutex") }
        guard checkCancelled() else { return Runtime.failure }
        let f = currentFiber()
        enqueueWaiter(&m.pointee.receivers, f)
        return park(.lock, on: Value(m))
    }

    func unlockMutex(_ m: UnsafeMutablePointer<ObjChannel>) -> Value {
        guard m.pointee.counter == 1 else { return fail("unlock of an unlocked mutex") }
        if let w = m.pointee.receivers.popLive() {
            wake(w.fiber, value: .nil, arm: 0)  // stays locked, now for the woken fiber
        } else {
            m.pointee.counter = 0
        }
        return .nil
    }

    func addToWaitGroup(_ g: UnsafeMutablePointer<ObjChannel>, _ delta: Int64) -> Value {
        let (n, overflow) = Int64(g.pointee.counter).addingReportingOverflow(delta)
        guard !overflow, n >= 0 else { return fail("wait group counter would go negative (\(g.pointee.counter) + \(delta))") }
        g.pointee.counter = Int(n)
        if n == 0 {
            while let w = g.pointee.receivers.popLive() { wake(w.fiber, value: .nil, arm: 0) }
        }
        return .nil
    }

    func waitForGroup(_ g: UnsafeMutablePointer<ObjChannel>) -> Value {
        if takeResumption() != nil { return .nil }
        if g.pointee.counter == 0 { return .nil }
        guard canPark else { return cannotWait("wait on a wait group") }
        guard checkCancelled() else { return Runtime.failure }
        let f = currentFiber()
        enqueueWaiter(&g.pointee.receivers, f)
        return park(.waitGroup, on: Value(g))
    }

    // MARK: builtins

    func installConcurrencyBuiltins() {
        defineBuiltin("spawn", arity: -1) { rt, a, argc in rt.spawnFiber(a, argc) }
        defineBuiltin("chan", arity: -1) { rt, a, argc in
            guard argc <= 1 else { return rt.fail("chan expects 0 or 1 arguments, got \(argc)") }
            var n: Int64 = 0
            if argc == 1 {
                guard let size = rt.expectInt(a[0], "channel buffer size") else { return Runtime.failure }
                guard size >= 0 && size <= 1 << 24 else { return rt.fail("channel buffer size \(size) is out of range (0 to 16777216)") }
                n = size
            }
            guard rt.reserveHeap(Int(n) * MemoryLayout<Value>.stride) else { return Runtime.failure }
            return Value(rt.newChannel(kind: .channel, capacity: Int(n)))
        }
        defineBuiltin("mutex", arity: 0) { rt, _, _ in Value(rt.newChannel(kind: .mutex, capacity: 0)) }
        defineBuiltin("waitgroup", arity: 0) { rt, _, _ in Value(rt.newChannel(kind: .waitGroup, capacity: 0)) }
        defineBuiltin("fibers", arity: 0) { rt, _, _ in rt.fiberStatistics() }
        internalNatives["select"] = newNative(name: "select", arity: -1) { rt, a, argc in rt.select(a, argc) }
        internalNatives["selected"] = newNative(name: "selected", arity: 1) { rt, a, _ in
            let v = rt.selectedValue
            rt.selectedValue = .nil
            guard a[0] == .true else { return v }
            rt.pushRoot(v)
            defer { rt.popRoot() }
            return rt.newListValue([v, Value(bool: rt.selectedOK)])
        }

        var fiber = NameTable()
        defineMethod(&fiber, "join", arity: 0) { rt, a, _ in rt.joinFiber(a[0].obj(ObjFiber.self)) }
        defineMethod(&fiber, "cancel", arity: 0) { rt, a, _ in Value(bool: rt.cancelFiber(a[0].obj(ObjFiber.self))) }
        defineMethod(&fiber, "done", arity: 0) { _, a, _ in Value(bool: a[0].obj(ObjFiber.self).pointee.isDone) }
        defineMethod(&fiber, "id", arity: 0) { _, a, _ in Value(inlineInt: Int64(a[0].obj(ObjFiber.self).pointee.id)) }
        methodTables[Int(ObjKind.fiber.rawValue)] = fiber

        var channel = NameTable()
        defineMethod(&channel, "send", arity: 1) { rt, a, _ in rt.channelSend(a[0].obj(ObjChannel.self), a[1]) }
        defineMethod(&channel, "recv", arity: 0) { rt, a, _ in
            guard let (v, _) = rt.channelReceive(a[0].obj(ObjChannel.self)) else { return Runtime.failure }
            return v
        }
        defineMethod(&channel, "recv_ok", arity: 0) { rt, a, _ in
            guard let (v, ok) = rt.channelReceive(a[0].obj(ObjChannel.self)) else { return Runtime.failure }
            rt.pushRoot(v)
            defer { rt.popRoot() }
            return rt.newListValue([v, Value(bool: ok)])
        }
        defineMethod(&channel, "close", arity: 0) { rt, a, _ in rt.channelClose(a[0].obj(ObjChannel.self)) }
        defineMethod(&channel, "len", arity: 0) { _, a, _ in Value(inlineInt: Int64(a[0].obj(ObjChannel.self).pointee.count)) }
        defineMethod(&channel, "cap", arity: 0) { _, a, _ in Value(inlineInt: Int64(a[0].obj(ObjChannel.self).pointee.capacity)) }
        defineMethod(&channel, "closed", arity: 0) { _, a, _ in Value(bool: a[0].obj(ObjChannel.self).pointee.closed) }
        methodTables[Int(ObjKind.channel.rawValue)] = channel

        var mutex = NameTable()
        defineMethod(&mutex, "lock", arity: 0) { rt, a, _ in rt.lockMutex(a[0].obj(ObjChannel.self)) }
        defineMethod(&mutex, "unlock", arity: 0) { rt, a, _ in rt.unlockMutex(a[0].obj(ObjChannel.self)) }
        defineMethod(&mutex, "try_lock", arity: 0) { _, a, _ in
            let m = a[0].obj(ObjChannel.self)
            if m.pointee.counter != 0 { return .false }
            m.pointee.counter = 1
            return .true
        }
        methodTables[Int(ObjKind.mutex.rawValue)] = mutex

        var group = NameTable()
        defineMethod(&group, "add", arity: 1) { rt, a, _ in
            guard let n = rt.expectInt(a[1], "wait group delta") else { return Runtime.failure }
            return rt.addToWaitGroup(a[0].obj(ObjChannel.self), n)
        }
        defineMethod(&group, "done", arity: 0) { rt, a, _ in rt.addToWaitGroup(a[0].obj(ObjChannel.self), -1) }
        defineMethod(&group, "wait", arity: 0) { rt, a, _ in rt.waitForGroup(a[0].obj(ObjChannel.self)) }
        defineMethod(&group, "count", arity: 0) { _, a, _ in Value(inlineInt: Int64(a[0].obj(ObjChannel.self).pointee.counter)) }
        methodTables[Int(ObjKind.waitGroup.rawValue)] = group
    }

    /// `fibers()`: counts for tests and benchmarks.
    func fiberStatistics() -> Value {
        let m = newMap()
        pushRoot(Value(m))
        defer { popRoot() }
        let live = scheduler.fibers.filter { !$0.pointee.isDone }
        let stats: [(String, Int)] = [
            ("live", live.count), ("waiting", live.filter { $0.pointee.state == .waiting }.count),
            ("spawned", scheduler.spawned), ("switches", scheduler.switches), ("leaked", scheduler.leaked),
        ]
        for (k, v) in stats {
            let key = Value(intern(k))
            pushRoot(key)
            mapSet(m, key, intValue(Int64(v)))
            popRoot()
        }
        return Value(m)
    }
}
