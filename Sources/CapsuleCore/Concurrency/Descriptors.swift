import CEventPoll
#if canImport(Glibc)
import Glibc
#endif

/// Fibers parked on file descriptors (sockets, pipes, a child's pidfd, a terminal) and
/// timers, as host modules use them through `NativeCall` (API/VM+Fibers.swift). One epoll
/// instance (EventPort) holds every descriptor a fiber waits on, one-shot: an event wakes
/// the fiber, whose host call runs again and retries its non-blocking system call.
extension Runtime {
    /// Parks the running fiber until `fd` is readable (or, with `write`, writable), or until
    /// `deadline` (CLOCK_MONOTONIC nanoseconds) when given; then the host call runs again and
    /// `takeResumption` says which: arm 0 ready, arm -2 timed out. Returns `Runtime.failure`
    /// with an error raised when the descriptor cannot be watched (a regular file).
    func parkOnDescriptor(_ fd: Int32, write: Bool, deadline: Int?, label: String) -> Value {
        guard checkCancelled() else { return Runtime.failure }
        guard scheduler.events.open() else { return fail("cannot wait for descriptor \(fd): \(String(cString: strerror(errno)))") }
        let f = currentFiber()
        var w = scheduler.ioWaits[fd] ?? IOWait()
        w.dropStale()
        let waiter = Waiter(fiber: f, generation: f.pointee.generation, value: .nil, arm: -1)
        if write { w.writers.append(waiter) } else { w.readers.append(waiter) }
        guard arm(fd, &w) else {
            let message = String(cString: strerror(errno))
            scheduler.ioWaits.removeValue(forKey: fd)
            return fail("cannot wait for descriptor \(fd): \(message)")
        }
        scheduler.ioWaits[fd] = w
        if let deadline {
            scheduler.addTimer(FiberTimer(deadline: deadline, fiber: f, generation: f.pointee.generation, channel: .nil, arm: -2))
        }
        return park(.io, on: Value(inlineInt: Int64(fd)), label: label)
    }

    /// Registers (or re-registers) the descriptor's one-shot interest for the directions that
    /// have a live waiter.
    private func arm(_ fd: Int32, _ w: inout IOWait) -> Bool {
        var events = CEVENTPOLL_ONESHOT
        if !w.readers.isEmpty { events |= CEVENTPOLL_IN | CEVENTPOLL_RDHUP }
        if !w.writers.isEmpty { events |= CEVENTPOLL_OUT }
        let e = scheduler.events.epollFD.load(ordering: .relaxed)
        if w.registered {
            if ceventpoll_control(e, 1, fd, events) == 0 { return true }
            if errno != ENOENT { return false }
        }
        if ceventpoll_control(e, 0, fd, events) == 0 { w.registered = true; return true }
        if errno == EEXIST, ceventpoll_control(e, 1, fd, events) == 0 { w.registered = true; return true }
        return false
    }

    /// Drops a fiber's interest in a descriptor (it was woken by a timer or cancelled).
    func forgetDescriptorWaiter(_ fd: Int32, fiber: UnsafeMutablePointer<ObjFiber>) {
        guard var w = scheduler.ioWaits[fd] else { return }
        w.readers.removeAll { $0.fiber == fiber }
        w.writers.removeAll { $0.fiber == fiber }
        settle(fd, w)
    }

    /// Keeps or removes a descriptor's entry after a change.
    private func settle(_ fd: Int32, _ w: IOWait) {
        var w = w
        w.dropStale()
        if w.readers.isEmpty && w.writers.isEmpty {
            if w.registered { _ = ceventpoll_control(scheduler.events.epollFD.load(ordering: .relaxed), 2, fd, 0) }
            scheduler.ioWaits.removeValue(forKey: fd)
        } else {
            _ = arm(fd, &w)
            scheduler.ioWaits[fd] = w
        }
    }

    /// Wakes every fiber waiting on `fd` with an error (the descriptor is being closed).
    func closeDescriptorWaits(_ fd: Int32) {
        guard let w = scheduler.ioWaits.removeValue(forKey: fd) else { return }
        if w.registered { _ = ceventpoll_control(scheduler.events.epollFD.load(ordering: .relaxed), 2, fd, 0) }
        for x in w.readers + w.writers where x.isLive {
            x.fiber.pointee.waitObject = .nil
            wakeWithError(x.fiber, message: "descriptor \(fd) was closed while a fiber waited on it", kind: .io)
        }
    }

    /// One `epoll_wait`: wakes the fibers whose descriptors are ready and runs posted
    /// completions. True when a fiber became ready.
    func waitForDescriptors(timeoutMilliseconds: Int32) -> Bool {
        let e = scheduler.events.epollFD.load(ordering: .relaxed)
        guard e >= 0 else { return false }
        let capacity = 64
        var fds = [Int32](repeating: 0, count: capacity)
        var events = [UInt32](repeating: 0, count: capacity)
        let n = ceventpoll_wait(e, &fds, &events, Int32(capacity), timeoutMilliseconds)
        guard n > 0 else { return false }
        var woke = false
        let wakeFD = scheduler.events.wakeFD.load(ordering: .relaxed)
        for j in 0..<Int(n) {
            let fd = fds[j]
            let bits = events[j]
            if fd == wakeFD {
                scheduler.events.drainWake()
                continue
            }
            guard var w = scheduler.ioWaits[fd] else { continue }
            // One-shot: the registration is spent whatever fired.
            let readable = bits & (CEVENTPOLL_IN | CEVENTPOLL_RDHUP | CEVENTPOLL_ERR | CEVENTPOLL_HUP) != 0
            let writable = bits & (CEVENTPOLL_OUT | CEVENTPOLL_ERR | CEVENTPOLL_HUP) != 0
            w.dropStale()
            // The first waiter of each ready direction runs; the others wait for the next
            // event, which the re-armed registration delivers at once if the descriptor is
            // still ready.
            if readable && !w.readers.isEmpty {
                let x = w.readers.removeFirst()
                x.fiber.pointee.waitObject = .nil  // so `wake` does not drop the registration again
                wake(x.fiber, value: .nil, arm: 0)
                woke = true
            }
            if writable && !w.writers.isEmpty {
                let x = w.writers.removeFirst()
                x.fiber.pointee.waitObject = .nil
                wake(x.fiber, value: .nil, arm: 0)
                woke = true
            }
            settle(fd, w)
        }
        if scheduler.events.pending.load(ordering: .acquiring) { woke = deliverCompletions() || woke }
        return woke
    }

    /// Parks the running fiber for `seconds`-long sleep ending at `deadline`. Out of a fiber
    /// (a callback from native code) the thread sleeps instead. Returns nil when the sleep
    /// is over (the call runs again after waking), or the result to return now.
    func parkForSleep(until deadline: Int) -> Value {
        guard checkCancelled() else { return Runtime.failure }
        let f = currentFiber()
        scheduler.addTimer(FiberTimer(deadline: deadline, fiber: f, generation: f.pointee.generation, channel: .nil, arm: 0))
        return park(.sleep, on: .nil)
    }

    /// A channel that receives the time (monotonic seconds) once `deadline` passes:
    /// `time.after`.
    /// With `period` (nanoseconds, > 0) it receives again every period until it is closed
    /// (`time.tick`).
    func timerChannel(deadline: Int, period: Int = 0) -> Value {
        let c = newChannel(kind: .channel, capacity: 1)
        let v = Value(c)
        pushRoot(v)
        defer { popRoot() }
        scheduler.addTimer(FiberTimer(deadline: deadline, fiber: nil, generation: 0, channel: v, arm: 0, period: max(0, period)))
        return v
    }
}
