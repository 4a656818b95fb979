#if canImport(Glibc)
import Glibc
#endif

/// What host functions use to wait without blocking the VM's thread (docs/concurrency.md,
/// "Host functions that wait").
///
/// The pattern: a host function that would block first calls `takeResumption()`; nil means
/// this is its first run, so it tries its work without blocking (a non-blocking `read`, a
/// `waitid` with `WNOHANG`). If that would block and `canPark` is true, it returns one of the
/// `park…` results at once; the fiber sleeps, and when the descriptor is ready (or the
/// timer fires, or the completion arrives) the same host function is called again with the
/// same arguments, `takeResumption()` now non-nil. Where `canPark` is false (inside a
/// callback from native code) it blocks the thread as it always did.
extension NativeCall {
    /// Whether this call may park its fiber instead of blocking the thread.
    package var canPark: Bool { rt.canPark }

    /// A value no script can hold, for a completion to return when the parked host function
    /// should run again as on a first run (what it waited for, such as a worker another fiber
    /// was using, became free). `takeResumption()` gives it back as it is (compare with `==`).
    package static var retry: Value { Value.empty }

    /// What the waker left when this call runs again after parking: the value a completion
    /// produced, and whether the wait timed out. Nil on a first run.
    package func takeResumption() -> (value: Value, timedOut: Bool)? {
        guard let r = rt.takeResumption() else { return nil }
        return (r.value, r.arm == -2)
    }

    /// Parks until `fd` is readable, or until `deadline` (CLOCK_MONOTONIC nanoseconds).
    /// Return what this returns. `label` names the wait in deadlock reports ("read from
    /// socket 7").
    package func parkUntilReadable(_ fd: Int32, deadline: Int? = nil, label: String) -> Value {
        rt.parkOnDescriptor(fd, write: false, deadline: deadline, label: label)
    }

    package func parkUntilWritable(_ fd: Int32, deadline: Int? = nil, label: String) -> Value {
        rt.parkOnDescriptor(fd, write: true, deadline: deadline, label: label)
    }

    /// Parks until `deadline` (CLOCK_MONOTONIC nanoseconds): the fiber's `time.sleep`.
    package func parkUntil(_ deadline: Int) -> Value { rt.parkForSleep(until: deadline) }

    /// Wakes, with an error, fibers parked on `fd`: call before closing a descriptor other
    /// fibers may wait on.
    package func descriptorClosing(_ fd: Int32) { rt.closeDescriptorWaits(fd) }

    /// The running fiber's number (1: the top-level call's): the key for state a host call
    /// keeps across a park (a connect in progress, a child process), since the call runs
    /// again from the start after the wake-up. Makes the top-level call's fiber if it has
    /// none yet: ask only when about to park, or on a rerun.
    package var fiberID: Int { rt.currentFiber().pointee.id }

    /// Whether fiber `id` exists and is not done: state a host keeps for a fiber that was
    /// cancelled or closed out of its wait (its call never runs again) can go once this is
    /// false.
    package func fiberIsLive(_ id: Int) -> Bool {
        rt.scheduler.fibers.contains { $0.pointee.id == id && !$0.pointee.isDone }
    }

    /// Registers what to undo if the fiber's coming wait ends without this host call running
    /// again: the fiber is cancelled, the descriptor closed, the fiber collected or dropped
    /// with its ended top-level call (kill the child, free the buffer). Call just before a
    /// `park…`; one cleanup per fiber, run at most once, on the VM thread, and forgotten
    /// when the call does run again. It must not call into the VM.
    package func onWaitAbandoned(_ cleanup: @escaping () -> Void) {
        rt.scheduler.waitCleanups[UInt(bitPattern: rt.currentFiber())] = cleanup
    }

    /// A channel that receives the time once `deadline` passes (`time.after`).
    package func timerChannel(deadline: Int) -> Value { rt.timerChannel(deadline: deadline) }

    /// A channel that receives the time every `period` nanoseconds from `deadline` on, until
    /// the script closes it (`time.tick`).
    package func tickerChannel(deadline: Int, period: Int) -> Value { rt.timerChannel(deadline: deadline, period: period) }

    /// Parks the fiber until another thread completes the returned token; return
    /// `NativeCall.failure` at once. When the token is completed, this host function runs
    /// again and `takeResumption()` gives the value the completion made (or the fiber raises
    /// the error it raised). `label` names the wait in reports ("zlib.compress (blocking
    /// pool)"). Nil, after raising, when the fiber cannot park or was cancelled.
    package func parkForCompletion(label: String) -> CompletionToken? {
        guard rt.canPark else {
            _ = rt.fail("\(label) cannot wait here: inside a callback from native code")
            return nil
        }
        guard rt.checkCancelled() else { return nil }
        guard rt.scheduler.events.open() else { _ = rt.fail("cannot wait for \(label): no epoll instance"); return nil }
        let f = rt.currentFiber()
        let bits = UInt(bitPattern: f)
        rt.scheduler.awaiting[bits, default: 0] += 1
        let token = CompletionToken(port: rt.scheduler.events, fiber: bits, generation: f.pointee.generation)
        _ = rt.park(.completion, on: .nil, label: label)
        return token
    }
}

extension VM {
    /// Registers a global native function whose work finishes later, on any thread, without
    /// blocking the VM: `body` runs on the VM's thread with the arguments and a
    /// `ScriptCompletion`; the calling fiber sleeps (other fibers run) until the completion
    /// is resumed, from any thread, with a value or an error. Scripts call it like any
    /// other function; nothing in the script marks it async (docs/embedding.md).
    ///
    /// Called where the fiber cannot sleep (inside a callback from native code, such as a
    /// sort comparator), it fails with an error instead.
    public func registerAsync(_ name: String, parameters: [ScriptType], result: ScriptType,
                              _ body: @escaping ([ScriptValue], ScriptCompletion) -> Void) {
        onVMThread {
            let native = self.rt.newNative(name: name, arity: parameters.count) { rt, args, argc in
                let call = NativeCall(rt: rt, args: args, count: argc)
                if let r = call.takeResumption() { return r.value }
                var values: [ScriptValue] = []
                for j in 0..<argc {
                    let v = args[j]
                    guard parameters[j].accepts(v) else {
                        return rt.fail("\(name): argument \(j + 1) must be \(parameters[j].name), got \(rt.typeName(v))")
                    }
                    guard let s = rt.scriptValue(from: v) else { return Runtime.failure }
                    values.append(s)
                }
                guard let token = call.parkForCompletion(label: "\(name) (async host function)") else { return Runtime.failure }
                body(values, ScriptCompletion(token: token, name: name, result: result))
                return Runtime.failure
            }
            self.rt.hostFunctions[name] = native
        }
    }
}

/// Resumes a script waiting in an async host function (`VM.registerAsync`). Sendable:
/// resume it from any thread, once; later resumptions are ignored.
public final class ScriptCompletion: Sendable {
    let token: CompletionToken
    let name: String
    let result: ScriptType

    init(token: CompletionToken, name: String, result: ScriptType) {
        self.token = token
        self.name = name
        self.result = result
    }

    /// The call returns `value`, which must have the declared result type.
    public func resume(returning value: ScriptValue) {
        let name = self.name, result = self.result
        token.complete { call in
            guard result.accepts(value) else {
                return call.rt.fail("\(name): result must be \(result.name), got \(value.typeName)")
            }
            return call.rt.value(from: value) ?? Runtime.failure
        }
    }

    /// The call raises an error with `message`.
    public func resume(throwing message: String) {
        token.complete { call in call.rt.fail(message) }
    }
}

extension VM {
    /// Runs the fibers a script left behind (spawned by an `evaluate` or a `call` that has
    /// returned, woken by a timer, a descriptor or a completion) until none is ready. For a
    /// host with its own event loop: wait until `fiberEventDescriptor` is readable or
    /// `nextFiberTimer` passes, then call this. `.success(.nil)` when they ran; a failure
    /// when one ended the run (a limit, `exit`) or failed without being joined.
    @discardableResult
    public func runFibers() -> Result<ScriptValue, ScriptFailure> {
        onVMThread { self.finish(self.rt.runReadyFibers()) }
    }

    /// True while fibers are ready to run or wait on a timer, a descriptor or a completion.
    public var hasPendingFibers: Bool { onVMThread { self.rt.hasPendingFibers } }

    /// A descriptor that is readable when a fiber's descriptor is ready or a completion has
    /// arrived (the VM's epoll instance), for a host loop to watch; nil until the VM first
    /// waits on one. Do not read from it or close it.
    public var fiberEventDescriptor: Int32? {
        onVMThread {
            let fd = self.rt.scheduler.events.epollFD.load(ordering: .acquiring)
            return fd >= 0 ? fd : nil
        }
    }

    /// CLOCK_MONOTONIC nanoseconds at which the earliest fiber timer fires; nil when none.
    public var nextFiberTimer: Int? { onVMThread { self.rt.scheduler.timers.first?.deadline } }
}
