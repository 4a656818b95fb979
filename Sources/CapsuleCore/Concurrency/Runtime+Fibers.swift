#if canImport(Glibc)
import Glibc
#endif

/// Fibers: making them, parking and waking them, and switching the VM's stack between them
/// (docs/concurrency.md, "The scheduler").
///
/// The VM keeps one register stack and one frame array, reserved once and never moved
/// (Runtime.swift). A fiber that parks has its frames, registers and handlers copied out to
/// buffers of exactly their size, and its open upvalues pointed at the copy; the fiber that
/// runs next has its own copied back, at the same stack indices (every fiber's first frame is
/// at slot 0). So the interpreter loop never learns about fibers, pointers into the stack stay
/// valid while a fiber runs, an idle fiber costs what its frames hold, and a fiber's stack
/// grows like the main one, to the VM's limit. A switch costs two copies of the live part of
/// two stacks; in the benchmarks (a few frames each) that is a few hundred bytes.
///
/// Parking: a native that must wait records what it waits on, sets `suspendRequested`
/// (`park`) and returns `Runtime.failure`; the interpreter's error path sees the request
/// instead of an error, saves where the fiber is and returns `Runtime.suspended` to the
/// scheduler loop (`driveFibers`). When the fiber is woken it runs again from the
/// instruction that parked it (the call, the `for` step), and the native, called again, takes
/// what the waker left (`takeResumption`): the value received, the select arm chosen. A fiber
/// can park only where that loop is the caller of the interpreter: not inside a callback
/// from native code (a sort comparator, a function iterated by `for`), where a Swift frame
/// sits between the two. There a wait that would block is an error, and a sleep blocks the
/// thread as it did before fibers.
extension Runtime {
    /// What `execute` returns when the running fiber parked.
    static let suspended = Value(bits: Value.specialTag | 7)

    /// Whether a native called from the running script may park its fiber here.
    var canPark: Bool { nativeDepth == 1 && scheduler.driving && !inSafePoint }

    /// The running fiber; the top-level call gets one the first time it needs it.
    func currentFiber() -> UnsafeMutablePointer<ObjFiber> {
        if let f = scheduler.current { return f }
        let f = newFiber(entry: .nil, arguments: .nil, id: 1)
        f.pointee.state = .running
        f.pointee.flags |= ObjFiber.mainFlag | ObjFiber.startedFlag
        scheduler.current = f
        scheduler.main = f
        return f
    }

    /// A new fiber, registered. The top-level call's fiber is number 1, as Go's main
    /// goroutine is; spawned ones count from 2.
    func newFiber(entry: Value, arguments: Value, id: Int? = nil) -> UnsafeMutablePointer<ObjFiber> {
        let p = allocateObject(kind: .fiber, size: MemoryLayout<ObjFiber>.stride)
        let header = p.assumingMemoryBound(to: ObjHeader.self).pointee
        let f = p.assumingMemoryBound(to: ObjFiber.self)
        f.initialize(to: ObjFiber(
            header: header, id: id ?? scheduler.nextFiberID, state: .created, wait: .none, resumeKind: .none, flags: 0,
            generation: 0, entry: entry, arguments: arguments, result: .nil, waitObject: .nil,
            waitFunction: .nil, waitPC: 0, spawnFunction: .nil, spawnPC: 0, resumeValue: .nil, resumeArm: 0,
            resumePC: 0, waitLabel: .nil, regs: nil, regCount: 0, regCapacity: 0, frames: nil, frameCount: 0,
            frameCapacity: 0, handlers: nil, handlerCount: 0, handlerCapacity: 0, openUpvalues: nil,
            joiners: WaitQueue(), registryIndex: scheduler.fibers.count))
        if id == nil { scheduler.nextFiberID += 1 }
        scheduler.fibers.append(f)
        return f
    }

    /// Takes a finished or collected fiber out of the registry.
    func unregister(_ f: UnsafeMutablePointer<ObjFiber>) {
        let j = f.pointee.registryIndex
        guard j >= 0, j < scheduler.fibers.count, scheduler.fibers[j] == f else { return }
        let last = scheduler.fibers.removeLast()
        if last != f {
            scheduler.fibers[j] = last
            last.pointee.registryIndex = j
        }
        f.pointee.registryIndex = -1
    }

    // MARK: parking and waking

    /// Parks the running fiber waiting for `reason`; the calling native returns what this
    /// returns (`Runtime.failure`) at once. The caller has queued the fiber where a waker will
    /// find it.
    func park(_ reason: WaitReason, on object: Value, label: String? = nil) -> Value {
        let f = currentFiber()
        f.pointee.state = .waiting
        f.pointee.wait = reason
        f.pointee.waitObject = object
        f.pointee.resumeKind = .none
        f.pointee.waitLabel = .nil
        if let label { f.pointee.waitLabel = Value(makeString(label)) }
        if frameCount > 0 {
            let frame = frames[frameCount - 1]
            f.pointee.waitFunction = Value(frame.closure.pointee.function)
            f.pointee.waitPC = frame.pc
        }
        suspendRequested = true
        return Runtime.failure
    }

    /// What the waker left for the instruction that parked, now that it runs again; nil on
    /// a first run.
    func takeResumption() -> (value: Value, arm: Int)? {
        guard let f = scheduler.current, f.pointee.resumeKind == .value else { return nil }
        f.pointee.resumeKind = .none
        let v = f.pointee.resumeValue
        f.pointee.resumeValue = .nil
        return (v, f.pointee.resumeArm)
    }

    /// Makes a parked fiber runnable; the instruction that parked it takes `value` and `arm`.
    func wake(_ f: UnsafeMutablePointer<ObjFiber>, value: Value, arm: Int) {
        guard f.pointee.state == .waiting else { return }
        // The host call that parked runs again and takes over its state: no cleanup.
        if !scheduler.waitCleanups.isEmpty { scheduler.waitCleanups.removeValue(forKey: UInt(bitPattern: f)) }
        resume(f, .value, value, arm)
    }

    /// Makes a parked fiber runnable with an error raised where it parked: `message` with
    /// class `kind`, or `error` as it is.
    func wakeWithError(_ f: UnsafeMutablePointer<ObjFiber>, message: String, kind: ErrorKind) {
        guard f.pointee.state == .waiting else { return }
        // The message is made first, with the fiber rooted: the caller may just have taken
        // it off the queue that kept it reachable (`channelClose`), and it is in the run
        // queue only at the end.
        pushRoot(Value(f))
        let text = Value(makeString(message))
        popRoot()
        resume(f, .error, text, kind.rawValue)
    }

    func wakeWithError(_ f: UnsafeMutablePointer<ObjFiber>, error: Value) {
        guard f.pointee.state == .waiting else { return }
        resume(f, .error, error, -1)
    }

    /// The end of every wait: the fiber leaves what it waited on, its queue entries go stale
    /// (a new generation), and it joins the run queue with what it will take.
    private func resume(_ f: UnsafeMutablePointer<ObjFiber>, _ kind: ResumeKind, _ value: Value, _ arm: Int) {
        detachWait(f)
        f.pointee.generation &+= 1
        f.pointee.state = .runnable
        f.pointee.wait = .none
        f.pointee.waitObject = .nil
        f.pointee.resumeKind = kind
        f.pointee.resumeValue = value
        f.pointee.resumeArm = arm
        scheduler.enqueue(f)
    }

    /// Undoes what a wait registered outside the object it waits on: a descriptor's epoll
    /// interest. (Queue entries go stale by themselves when the generation changes.)
    private func detachWait(_ f: UnsafeMutablePointer<ObjFiber>) {
        if f.pointee.wait == .io, f.pointee.waitObject.isInt {
            forgetDescriptorWaiter(Int32(truncatingIfNeeded: f.pointee.waitObject.intValue), fiber: f)
        }
        // Woken with an error (a cancel, a close): the host call that parked never runs
        // again, so what it left running (a child process) is cleaned up now.
        if f.pointee.state == .waiting, !scheduler.waitCleanups.isEmpty { runWaitCleanup(f) }
    }

    /// Runs and forgets the cleanup a host call registered for its fiber's wait
    /// (`NativeCall.onWaitAbandoned`): the wait ended without the call running again.
    func runWaitCleanup(_ f: UnsafeMutablePointer<ObjFiber>) {
        if let cleanup = scheduler.waitCleanups.removeValue(forKey: UInt(bitPattern: f)) { cleanup() }
    }

    /// Raises `cancelled` if the running fiber was cancelled while it was not waiting: every
    /// wait checks this before it parks. False after raising.
    func checkCancelled() -> Bool {
        guard let f = scheduler.current, f.pointee.flags & ObjFiber.cancelFlag != 0 else { return true }
        f.pointee.flags &= ~ObjFiber.cancelFlag
        raise("fiber cancelled", kind: .cancelled)
        return false
    }

    /// The preemption point (from `checkLimits`): the running fiber goes to the back of the
    /// run queue. False, with nothing raised: the interpreter returns to the scheduler.
    func yieldFiber() -> Bool {
        let f = currentFiber()
        f.pointee.state = .runnable
        f.pointee.resumeKind = .none
        scheduler.enqueue(f)
        suspendRequested = true
        return false
    }

    /// Whether a running fiber should yield at the end of its slice: others are ready, or
    /// timers, descriptors or completions may have made some ready.
    var shouldYield: Bool {
        canPark && (scheduler.queueCount > 0 || !scheduler.timers.isEmpty || !scheduler.ioWaits.isEmpty
                    || !scheduler.awaiting.isEmpty)
    }

    /// Turns on time slices once a second fiber exists.
    func enablePreemption() {
        guard !scheduler.preemptive else { return }
        scheduler.preemptive = true
        tripLimitCheck()
    }

    /// Called by the interpreter's error path when `suspendRequested` was set: where the
    /// fiber continues. A native that parked runs again (its call, or FOR's step over a
    /// channel); a fiber preempted at a back-edge continues at the jump's target, since the
    /// instruction has done its work (FORLOOP has stepped its counter).
    ///
    /// NOTE: the instruction is found again from `pc` (the word before it, or the one before
    /// an EXTRA word) rather than passed in: keeping the instruction word alive to the
    /// interpreter's error path cost the `loop` benchmark 3% more instructions.
    @inline(never)
    func noteParked(pc: Int, code: UnsafePointer<UInt32>, regs: UnsafeMutablePointer<Value>) {
        var at = pc - 1
        if at > 0 && Instruction.op(code[at]) == .extra { at -= 1 }
        let i = code[at]
        let f = currentFiber()
        if Instruction.op(i) == .invoke && !invokeReceiver.isNil { regs[Instruction.a(i)] = invokeReceiver }
        invokeReceiver = .nil
        switch Instruction.op(i) {
        case .jmp: f.pointee.resumePC = pc &+ Instruction.sj(i)
        case .forLoop: f.pointee.resumePC = pc &+ 1 &+ Instruction.extraValue(code[pc])
        case .call: f.pointee.resumePC = Instruction.b(i) >= 254 ? pc - 2 : pc - 1
        case .invoke, .iterNext, .callable: f.pointee.resumePC = pc - 2
        default: f.pointee.resumePC = pc - 1
        }
    }

    /// A native called through `...` parked: SPREAD, which replaced the list after the
    /// callee by its elements, runs again when the fiber resumes (`noteParked`), so the list
    /// is made again from the `count` arguments at `first` (covered by `argumentTop`, as the
    /// caller `callPrepared` set it).
    func respread(first: Int, count: Int) {
        let l = newList(capacity: count)
        for j in 0..<count { append(l, stack[first + j]) }
        stack[first] = Value(l)
    }

    // MARK: switching

    /// Copies the running fiber's frames, registers and handlers out of the VM's stack.
    ///
    /// NOTE: the buffers are non-nil where unwrapped: each copy of n > 0 elements follows a
    /// check that the buffer holds at least n (allocating it if not), and `restoreFiber` copies
    /// back only the counts `saveFiber` copied out.
    func saveFiber(_ f: UnsafeMutablePointer<ObjFiber>) {
        var top = 0
        if frameCount > 0 {
            let fr = frames[frameCount - 1]
            top = fr.base + fr.closure.pointee.function.pointee.maxRegisters
        }
        stash(stack, count: top, into: &f.pointee.regs, capacity: &f.pointee.regCapacity, atLeast: 8)
        f.pointee.regCount = top
        stash(frames, count: frameCount, into: &f.pointee.frames, capacity: &f.pointee.frameCapacity, atLeast: 2)
        f.pointee.frameCount = frameCount
        stash(handlers, count: handlerCount, into: &f.pointee.handlers, capacity: &f.pointee.handlerCapacity, atLeast: 1)
        f.pointee.handlerCount = handlerCount
        // Open upvalues now point at the copy, so closures elsewhere see the parked fiber's
        // variables.
        var u = openUpvalues
        while let x = u {
            x.pointee.location = f.pointee.regs.unsafelyUnwrapped + x.pointee.stackIndex
            u = x.pointee.nextOpen
        }
        f.pointee.openUpvalues = openUpvalues
        openUpvalues = nil
        frameCount = 0
        handlerCount = 0
    }

    /// Copies `count` elements into a fiber's buffer, growing it first (to at least `atLeast`)
    /// when it is too small; the growth counts against the heap like an object's.
    private func stash<T>(_ source: UnsafeMutablePointer<T>, count: Int, into buffer: inout UnsafeMutablePointer<T>?,
                          capacity: inout Int, atLeast: Int) {
        if count > capacity {
            free(buffer)
            let bigger = max(count, atLeast)
            buffer = systemAllocate(bigger * MemoryLayout<T>.stride).assumingMemoryBound(to: T.self)
            accountExternal((bigger - capacity) * MemoryLayout<T>.stride)
            capacity = bigger
        }
        if count > 0 { memcpy(buffer.unsafelyUnwrapped, source, count * MemoryLayout<T>.stride) }
    }

    /// Copies a parked fiber's state back into the VM's stack.
    func restoreFiber(_ f: UnsafeMutablePointer<ObjFiber>) {
        let top = f.pointee.regCount
        if top > 0 { memcpy(stack, f.pointee.regs.unsafelyUnwrapped, top * MemoryLayout<Value>.stride) }
        if top > stackHighWater { stackHighWater = top }
        if f.pointee.frameCount > 0 { memcpy(frames, f.pointee.frames.unsafelyUnwrapped, f.pointee.frameCount * MemoryLayout<CallFrame>.stride) }
        frameCount = f.pointee.frameCount
        if f.pointee.handlerCount > 0 { memcpy(handlers, f.pointee.handlers.unsafelyUnwrapped, f.pointee.handlerCount * MemoryLayout<Handler>.stride) }
        handlerCount = f.pointee.handlerCount
        var u = f.pointee.openUpvalues
        while let x = u {
            x.pointee.location = stack + x.pointee.stackIndex
            u = x.pointee.nextOpen
        }
        openUpvalues = f.pointee.openUpvalues
        f.pointee.openUpvalues = nil
        // The copy is stale now: the collector must not keep what it holds alive.
        f.pointee.regCount = 0
        f.pointee.frameCount = 0
        f.pointee.handlerCount = 0
    }

    /// Frees what a done fiber kept for its stack: a finished fiber costs its object only.
    func releaseFiberStack(_ f: UnsafeMutablePointer<ObjFiber>) {
        let bytes = f.pointee.regCapacity * MemoryLayout<Value>.stride
            + f.pointee.frameCapacity * MemoryLayout<CallFrame>.stride
            + f.pointee.handlerCapacity * MemoryLayout<Handler>.stride
        free(f.pointee.regs); free(f.pointee.frames); free(f.pointee.handlers)
        f.pointee.regs = nil; f.pointee.frames = nil; f.pointee.handlers = nil
        f.pointee.regCapacity = 0; f.pointee.frameCapacity = 0; f.pointee.handlerCapacity = 0
        f.pointee.regCount = 0; f.pointee.frameCount = 0; f.pointee.handlerCount = 0
        bytesAllocated -= bytes
    }

    /// A block for a fiber's saved stack or a channel's buffer. When the system refuses it,
    /// the emergency reserve is released and `out of memory` raised at the next check, as
    /// for any object (Runtime/SystemMemory.swift); only if even that fails does the process
    /// end with `out of memory`.
    func systemAllocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        malloc(bytes) ?? allocateAfterRefusal(bytes)
    }

    // MARK: the scheduler loop

    /// Runs a top-level call's code (from `Runtime.call` outside any script): the one place
    /// where fibers are switched. Returns when the top-level fiber returns or fails; fibers
    /// still running then are left as they are (Go's rule: the program ends with main).
    func runTopLevel() -> Value? {
        scheduler.driving = true
        defer {
            scheduler.driving = false
            if let m = scheduler.main {
                if !m.pointee.isDone { abandon(m) }
                scheduler.main = nil
            }
            scheduler.current = nil
        }
        let r = execute()
        if let r, r.bits == Runtime.suspended.bits { return driveFibers() }
        guard let r else { return nil }
        return reportUnjoinedFailures(r)
    }

    /// The scheduler loop, entered when the top-level fiber first parks.
    private func driveFibers() -> Value? {
        let main = currentFiber()
        defer { scheduler.current = nil }
        var running = main
        var r: Value? = Runtime.suspended
        while true {
            if running == main && r?.bits != Runtime.suspended.bits {
                finishFiber(main, r, keepError: true)
                scheduler.current = nil
                guard let r else { return nil }
                return reportUnjoinedFailures(r)
            }
            guard settle(running, r) else { return nil }
            // Pick the next fiber; look at timers and descriptors every 61 picks even when
            // fibers are ready, so a busy program still sees them.
            scheduler.picksSincePoll += 1
            if scheduler.picksSincePoll >= 61 || scheduler.queueCount == 0 {
                scheduler.picksSincePoll = 0
                guard pollEvents(block: false) else { return nil }
            }
            var next = scheduler.dequeue()
            while next == nil {
                guard pollEvents(block: true) else {
                    // The top-level fiber's frames were put back for the error's trace
                    // (`restoreMainForReport`): its run ends here.
                    if scheduler.current == main && frameCount > 0 { finishFiber(main, nil, keepError: true) }
                    return nil
                }
                next = scheduler.dequeue()
            }
            running = next.unsafelyUnwrapped  // NOTE: the loop above ends only when it is non-nil
            scheduler.switches += 1
            r = runFiber(running)
        }
    }

    /// Runs the fibers that are ready, and those timers, descriptors and completions make
    /// ready, until none is (`VM.runFibers`: an embedder's event loop steps the VM with it).
    /// Nil after an error that ends the run (a limit, `exit`); the fibers that remain stay as
    /// they are.
    func runReadyFibers() -> Value? {
        guard nativeDepth == 0, frameCount == 0 else { return .nil }
        nativeDepth = 1
        scheduler.driving = true
        defer {
            nativeDepth = 0
            scheduler.driving = false
            scheduler.current = nil
        }
        while true {
            guard pollEvents(block: false) else { return nil }
            guard let f = scheduler.dequeue() else { break }
            scheduler.switches += 1
            guard settle(f, runFiber(f)) else { return nil }
        }
        return reportUnjoinedFailures(.nil)
    }

    /// After fiber `f` ran to `r`: saves its stack if it parked, else records how it ended.
    /// False when its error (a limit, `exit`, an interrupt) ends the whole run.
    private func settle(_ f: UnsafeMutablePointer<ObjFiber>, _ r: Value?) -> Bool {
        defer { scheduler.current = nil }
        if let result = r, result.bits == Runtime.suspended.bits {
            saveFiber(f)
            return true
        }
        if r == nil && pendingError.isObject(.error) && pendingError.header.pointee.flags & ObjErrorFlags.uncatchable != 0 {
            finishFiber(f, nil, keepError: true)
            return false
        }
        finishFiber(f, r)
        return true
    }

    /// Whether fibers are ready or waiting on something that will make them ready.
    var hasPendingFibers: Bool {
        scheduler.queueCount > 0 || !scheduler.timers.isEmpty || !scheduler.ioWaits.isEmpty || !scheduler.awaiting.isEmpty
            || scheduler.events.pending.load(ordering: .acquiring)
    }

    /// Drops the fiber of a top-level call that ended while it was parked (a deadlock, a
    /// limit or `exit` in another fiber, an interrupt), so nothing can wake it and run the
    /// ended call's code again (a later REPL entry's send did). Closures keep the last values
    /// of its variables.
    private func abandon(_ f: UnsafeMutablePointer<ObjFiber>) {
        runWaitCleanup(f)
        closeSavedUpvalues(f)
        releaseFiberStack(f)
        f.pointee.state = .finished
        unregister(f)
    }

    /// Closes the open upvalues of a parked fiber, which point into its saved registers.
    func closeSavedUpvalues(_ f: UnsafeMutablePointer<ObjFiber>) {
        var u = f.pointee.openUpvalues
        while let x = u {
            x.pointee.closed = x.pointee.location.pointee
            x.pointee.location = (UnsafeMutableRawPointer(x) + MemoryLayout<ObjUpvalue>.offset(of: \ObjUpvalue.closed)!)
                .assumingMemoryBound(to: Value.self)
            u = x.pointee.nextOpen
        }
        f.pointee.openUpvalues = nil
    }

    /// Runs one fiber until it parks, returns or fails.
    private func runFiber(_ f: UnsafeMutablePointer<ObjFiber>) -> Value? {
        scheduler.current = f
        if f.pointee.flags & ObjFiber.startedFlag == 0 {
            f.pointee.state = .running
            if f.pointee.resumeKind != .error { return startFiber(f) }
            // A native that parked as the fiber's function (`spawn ch.recv()`) was woken
            // with an error (a cancel, a close): the fiber fails with it; calling the
            // native again would park it again and lose the error.
            f.pointee.flags |= ObjFiber.startedFlag
        }
        f.pointee.state = .running
        restoreFiber(f)
        // Work another thread asked for while the fiber slept (a reload, an interrupt) runs
        // at its next back-edge or call, not a slice later (API/SafePoint.swift).
        if (safePointHandler != nil && safePointTrigger.isRequested) || (interruptible && interruptRequest.isRequested) {
            tripLimitCheck()
        }
        if f.pointee.resumeKind == .error {
            f.pointee.resumeKind = .none
            let v = f.pointee.resumeValue
            f.pointee.resumeValue = .nil
            if f.pointee.resumeArm < 0 {
                pendingError = v
                // An error made where no script ran (a completion, on the scheduler's turn)
                // gets the trace and position of the call that waited, as if raised there.
                if v.isObject(.error), v.obj(ObjError.self).pointee.origin.isNil, frameCount > 0 {
                    let trace = captureTrace()
                    v.obj(ObjError.self).pointee.trace = trace
                    recordOrigin(v)
                }
            } else {
                let message = v.isString ? v.obj(ObjString.self).string : "error"
                raise(message, kind: ErrorKind(rawValue: f.pointee.resumeArm) ?? .error)
            }
            guard frameCount > 0, let h = unwindToHandler(entryFrame: 0) else { frameCount = 0; return nil }
            frames[h.frameIndex].pc = h.catchPC
            return execute(from: 0)
        }
        if frameCount == 0 { return startFiber(f) }
        frames[frameCount - 1].pc = f.pointee.resumePC
        return execute(from: 0)
    }

    /// Calls a fiber's function with its arguments at stack slot 0.
    private func startFiber(_ f: UnsafeMutablePointer<ObjFiber>) -> Value? {
        if f.pointee.flags & ObjFiber.cancelFlag != 0 {
            f.pointee.flags |= ObjFiber.startedFlag
            raise("fiber cancelled", kind: .cancelled)
            return nil
        }
        let callee = f.pointee.entry
        stack[0] = callee
        var argc = 0
        if f.pointee.arguments.isObject(.list) {
            let l = f.pointee.arguments.obj(ObjList.self)
            argc = l.pointee.count
            // NOTE: a list with count > 0 has items.
            for j in 0..<argc { stack[1 + j] = l.pointee.items.unsafelyUnwrapped[j] }
        }
        if argc + 1 > stackHighWater { stackHighWater = argc + 1 }
        let savedTop = argumentTop
        argumentTop = max(argumentTop, argc + 1)
        defer { argumentTop = savedTop }
        var outcome: CallOutcome
        if callee.isObject(.closure) {
            outcome = pushFrame(callee.obj(ObjClosure.self), base: 0, argc: argc, boundary: true)
        } else {
            outcome = callValue(base: 0, argc: argc)
            if outcome == .pushed { frames[frameCount - 1].isBoundary = true }
        }
        switch outcome {
        case .failed:
            if suspendRequested {
                // A native called as the fiber's function parked: it is called again,
                // arguments and all, when the fiber is woken.
                suspendRequested = false
                frameCount = 0
                return Runtime.suspended
            }
            f.pointee.flags |= ObjFiber.startedFlag
            return nil
        case .done:
            f.pointee.flags |= ObjFiber.startedFlag
            return stack[0]
        case .pushed:
            f.pointee.flags |= ObjFiber.startedFlag
            f.pointee.arguments = .nil
            return execute(from: 0)
        }
    }

    /// Records how a fiber ended and wakes its joiners.
    private func finishFiber(_ f: UnsafeMutablePointer<ObjFiber>, _ r: Value?, keepError: Bool = false) {
        frameCount = 0
        handlerCount = 0
        if openUpvalues != nil { closeUpvalues(from: 0) }
        if let r {
            f.pointee.state = .finished
            f.pointee.result = r
        } else {
            f.pointee.state = .failed
            f.pointee.result = pendingError
            if !keepError { pendingError = .nil }
        }
        f.pointee.arguments = .nil
        f.pointee.entry = .nil
        releaseFiberStack(f)
        unregister(f)
        var woke = false
        while let w = f.pointee.joiners.popLive() {
            wake(w.fiber, value: .nil, arm: 0)
            woke = true
        }
        f.pointee.joiners.release()
        if f.pointee.state == .failed && !woke && f.pointee.flags & ObjFiber.mainFlag == 0
            && f.pointee.flags & ObjFiber.joinedFlag == 0 && !isCancellation(f.pointee.result) {
            scheduler.unjoinedFailures.append(f)
        }
    }

    func isCancellation(_ error: Value) -> Bool {
        guard error.isObject(.error) else { return false }
        return error.obj(ObjError.self).pointee.klass.bits == errorClass(.cancelled).bits
    }

    /// The end of a top-level call that returned `r`: a fiber that failed and that nobody
    /// joined fails the program with its own error and trace (docs/concurrency.md).
    private func reportUnjoinedFailures(_ r: Value) -> Value? {
        let failures = scheduler.unjoinedFailures.filter { $0.pointee.flags & ObjFiber.joinedFlag == 0 }
        scheduler.unjoinedFailures.removeAll()
        guard let f = failures.first else { return r }
        let error = f.pointee.result
        if error.isObject(.error) {
            let e = error.obj(ObjError.self)
            if e.pointee.trace.isObject(.list) {
                pushRoot(error)
                let more = failures.count > 1 ? "; \(failures.count - 1) more failed fibers were not joined either" : ""
                let note = "[in fiber \(f.pointee.id) spawned at \(siteText(f.pointee.spawnFunction, f.pointee.spawnPC)), which was never joined\(more)]"
                append(e.pointee.trace.obj(ObjList.self), Value(makeString(note)))
                popRoot()
            }
        }
        pendingError = error
        return nil
    }

    // MARK: waiting for events

    /// Fires due timers, hands over completions and polls descriptors. With `block`, waits
    /// until one of them makes a fiber ready. False after raising: a deadlock, the run's
    /// timeout, an interrupt.
    func pollEvents(block: Bool) -> Bool {
        while true {
            var woke = false
            if scheduler.events.pending.load(ordering: .acquiring) { woke = deliverCompletions() || woke }
            if !scheduler.timers.isEmpty { woke = fireTimers(now: Runtime.preciseNow()) || woke }
            if !scheduler.ioWaits.isEmpty { woke = waitForDescriptors(timeoutMilliseconds: 0) || woke }
            if woke || !block || scheduler.queueCount > 0 { return true }
            // Nothing can run. Sleep until a timer, a descriptor or a completion; timers of
            // fibers woken some other way (a cancelled sleep) wake nobody, and would only
            // delay the deadlock report until they fire.
            scheduler.dropStaleTimers()
            if scheduler.timers.isEmpty && scheduler.ioWaits.isEmpty && scheduler.awaiting.isEmpty {
                raiseDeadlock()
                return false
            }
            if interruptible && interruptRequest.isRequested { restoreMainForReport(); _ = checkInterrupt(); return false }
            let now = Runtime.preciseNow()
            if deadline != 0 && Runtime.coarseNow() >= deadline { restoreMainForReport(); haltForTimeout(); return false }
            var wait = Int.max
            if let t = scheduler.timers.first { wait = max(0, t.deadline - now) }
            if deadline != 0 { wait = min(wait, max(0, deadline - now)) }
            if interruptible { wait = min(wait, 100_000_000) }
            let ms = wait == Int.max ? -1 : Int32(clamping: (wait + 999_999) / 1_000_000)
            if scheduler.events.open() {
                _ = waitForDescriptors(timeoutMilliseconds: ms)
            } else if ms > 0 {
                usleep(UInt32(clamping: Int(ms) * 1000))
            }
        }
    }

    /// Before ending the run while every fiber is parked (the timeout, an interrupt): puts
    /// the top-level fiber's frames back on the VM's stack, so the error's trace shows where
    /// the program waits (`at <script> (app.cap:7:1)`), as it did before fibers.
    private func restoreMainForReport() {
        guard let m = scheduler.main, m.pointee.state == .waiting, frameCount == 0 else { return }
        scheduler.current = m
        restoreFiber(m)
    }

    /// Runs the completions other threads posted and wakes their fibers.
    func deliverCompletions() -> Bool {
        var woke = false
        for p in scheduler.events.take() {
            // NOTE: the address was taken from a live fiber by `parkForCompletion`, which put
            // it in `awaiting`: a root, so the fiber was not collected while the work ran.
            guard let f = UnsafeMutablePointer<ObjFiber>(bitPattern: p.fiber) else { continue }
            // NOTE: the fiber is alive: `awaiting` keeps it rooted until the end of this
            // iteration, after `produce` (which may collect) and the wake (which queues it).
            defer {
                if let n = scheduler.awaiting[p.fiber] {
                    if n <= 1 { scheduler.awaiting.removeValue(forKey: p.fiber) } else { scheduler.awaiting[p.fiber] = n - 1 }
                }
            }
            let live = f.pointee.state == .waiting && f.pointee.generation == p.generation
            let v = p.produce(NativeCall(rt: self, args: scheduler.scratch, count: 0))
            if !live {
                pendingError = .nil
                continue
            }
            if v.bits == Runtime.failure.bits {
                let error = pendingError
                pendingError = .nil
                wakeWithError(f, error: error)
            } else {
                wake(f, value: v, arm: 0)
            }
            woke = true
        }
        return woke
    }

    /// Wakes the fibers and fills the channels of the timers due at `now`.
    private func fireTimers(now: Int) -> Bool {
        var woke = false
        while let t = scheduler.timers.first, t.deadline <= now {
            _ = scheduler.popTimer()
            if let f = t.fiber {
                if f.pointee.state == .waiting && f.pointee.generation == t.generation {
                    wake(f, value: .nil, arm: t.arm)
                    woke = true
                }
            } else if t.channel.isObject(.channel) {
                // A closed channel gets nothing more, and a closed ticker stops.
                let c = t.channel.obj(ObjChannel.self)
                guard !c.pointee.closed else { continue }
                let value = Value(Double(now) / 1e9)
                if let r = c.pointee.receivers.popLive() {
                    deliver(r, value, ok: true)
                    woke = true
                } else if c.pointee.count < c.pointee.capacity {
                    channelPush(c, value)
                }
                // A ticker's next send: one period on, skipping the ticks a slow receiver
                // missed (a full buffer drops them, as Go's ticker does).
                if t.period > 0 {
                    var next = t
                    next.deadline = t.deadline + t.period * ((now - t.deadline) / t.period + 1)
                    scheduler.addTimer(next)
                }
            }
        }
        return woke
    }

    /// The deadlock report (Go's words): every fiber, where it was spawned, what it waits on.
    private func raiseDeadlock() {
        var lines = ["all fibers are asleep - deadlock!", ""]
        let all = scheduler.fibers.sorted { $0.pointee.id < $1.pointee.id }
        for f in all where !f.pointee.isDone {
            lines.append(fiberReport(f))
        }
        raiseUncatchable(lines.joined(separator: "\n"))
        if pendingError.isObject(.error) {
            pendingError.header.pointee.flags |= ObjErrorFlags.deadlock
        }
    }

    /// One fiber in a report: `fiber 2 (spawned at app.cap:14) at app.cap:7: recv on
    /// channel made at app.cap:12`.
    func fiberReport(_ f: UnsafeMutablePointer<ObjFiber>) -> String {
        let who = f.pointee.flags & ObjFiber.mainFlag != 0 ? "fiber \(f.pointee.id) (main)"
            : "fiber \(f.pointee.id) (spawned at \(siteText(f.pointee.spawnFunction, f.pointee.spawnPC)))"
        let at = f.pointee.waitFunction.isNil ? "" : " at \(siteText(f.pointee.waitFunction, f.pointee.waitPC))"
        return "\(who)\(at): \(waitDescription(f))"
    }

    func waitDescription(_ f: UnsafeMutablePointer<ObjFiber>) -> String {
        let o = f.pointee.waitObject
        func made(_ what: String) -> String {
            guard o.isObject(.channel) || o.isObject(.mutex) || o.isObject(.waitGroup) else { return what }
            let c = o.obj(ObjChannel.self)
            return "\(what) made at \(siteText(c.pointee.siteFunction, c.pointee.sitePC))"
        }
        if f.pointee.waitLabel.isString { return f.pointee.waitLabel.obj(ObjString.self).string }
        switch f.pointee.state {
        case .runnable: return "ready to run"
        case .created: return "not started"
        case .running: return "running"
        case .finished, .failed: return "done"
        case .waiting: break
        }
        switch f.pointee.wait {
        case .receive: return "recv on " + made("channel")
        case .send: return "send on " + made("channel")
        case .select: return "select"
        case .join:
            if o.isObject(.fiber) { return "join of fiber \(o.obj(ObjFiber.self).pointee.id)" }
            return "join"
        case .sleep: return "sleep"
        case .lock: return "lock of " + made("mutex")
        case .waitGroup: return "wait on " + made("wait group")
        case .io: return "I/O"
        case .completion: return "a host call"
        case .none: return "ready to run"
        }
    }

    /// `file:line` of instruction `pc` (saved after it) of a function value.
    func siteText(_ function: Value, _ pc: Int) -> String {
        guard function.isObject(.function) else { return "?" }
        let fn = function.obj(ObjFunction.self)
        let (line, _) = position(fn, at: instructionIndex(fn, pc: pc))
        let file = fn.pointee.module.map { $0.pointee.sourceName.isString ? $0.pointee.sourceName.obj(ObjString.self).string : "?" } ?? "?"
        return "\(file):\(line)"
    }

    /// Where the running script is (the function and saved pc of the innermost frame).
    func currentSite() -> (Value, Int) {
        guard frameCount > 0 else { return (.nil, 0) }
        let frame = frames[frameCount - 1]
        return (Value(frame.closure.pointee.function), frame.pc)
    }
}
