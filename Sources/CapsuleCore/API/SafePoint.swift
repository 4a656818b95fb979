import Synchronization

/// Safe points: work another thread hands to a running VM, run on the VM's thread where the
/// interpreter checks its limits (loop back-edges and calls, Runtime/Limits.swift). The host
/// uses it to swap a hot-reloaded plugin in while a script runs; the core knows only "a
/// handler to run when asked".
///
/// Cost: nothing in the dispatch loop. Without a handler the countdown stays `Int.max` (no
/// limits set) and the check is never reached; with one, the countdown runs in slices of
/// `Runtime.fuelSlice` counted instructions, as with a timeout, and each slice's check reads
/// one atomic flag. A request is seen within a slice; a script blocked in a host function
/// that waits (a `time.sleep`, a read) or in a plugin export sees it as soon as that call
/// returns and the script reaches a back-edge or a call (`NativeCall.afterBlocking`).

/// Asks a VM to run its safe-point handler. `request` may be called from any thread.
@usableFromInline package final class SafePointTrigger: Sendable {
    @usableFromInline let requested = Atomic<Bool>(false)

    package init() {}

    /// Makes the VM's next safe point run its handler (once, however many requests came).
    package func request() { requested.store(true, ordering: .releasing) }

    /// Whether a request is waiting (read at each check while a handler is installed).
    @inlinable package var isRequested: Bool { requested.load(ordering: .relaxed) }

    /// Takes the request: true if one was waiting.
    func take() -> Bool { requested.exchange(false, ordering: .acquiringAndReleasing) }
}

extension VM {
    /// Installs `handler`, run on this VM's thread at the next safe point after each
    /// `safePointTrigger.request()`, with a call that may run script code (`callValue`).
    /// The handler must leave no error pending (report it, then `takeErrorReport`). Pass nil
    /// to remove it. Call on the VM's thread (before a run, or from a native).
    package func setSafePointHandler(_ handler: ((NativeCall) -> Void)?) {
        rt.safePointHandler = handler
        // A run in progress has its countdown at Int.max: make the next check switch to slices.
        rt.tripLimitCheck()
    }

    /// What other threads call to ask for the handler to run.
    package var safePointTrigger: SafePointTrigger { rt.safePointTrigger }
}

extension Runtime {
    /// Runs the safe-point handler for a waiting request (from `checkLimits`).
    @inline(never)
    func runSafePointWork() {
        guard let handler = safePointHandler, safePointTrigger.take() else { return }
        inSafePoint = true
        defer { inSafePoint = false }
        handler(NativeCall(rt: self, args: stack, count: 0))
        // A handler that left an error pending would make the next instruction fail.
        if !pendingError.isNil { pendingError = .nil }
    }
}

extension NativeCall {
    /// For host functions that wait (a sleep, a read, a child process): call on the way out,
    /// so a safe-point request (or an interrupt, API/Interrupt.swift) that came meanwhile runs
    /// at the script's next back-edge or call. Without it, a script that mostly waits would run its slice of counted
    /// instructions first, which can take many waits. Costs one atomic load.
    package func afterBlocking() {
        if (rt.safePointHandler != nil && rt.safePointTrigger.isRequested)
            || (rt.interruptible && rt.interruptRequest.isRequested) { rt.tripLimitCheck() }
    }

    /// Whether a safe-point request is waiting: one relaxed atomic load, for a fast path to
    /// test before calling `afterBlocking` out of line.
    @inlinable @inline(__always) package var safePointRequested: Bool { rt.safePointTrigger.isRequested }

    /// Keeps `v` alive for the life of the VM (a handler function the host calls later).
    package func keepForever(_ v: Value) { rt.permanentRoots.append(v) }

    /// The pending error as `error: message` plus its trace, and clears it (after
    /// `callValue` returned nil, to report an error instead of propagating it).
    package func takeErrorReport() -> String { rt.errorReport() }
}

extension VM {
    /// Adds `functions` to the native module imported as `name` (no-op when it was not
    /// imported), so module objects scripts already hold see the new attributes; names the
    /// module already has are left alone. Call on the VM's thread.
    package func addNativeFunctions(toModule name: String, _ functions: [NativeFunctionDefinition]) {
        let rt = self.rt
        guard let mv = rt.modules["native:" + name], mv.isObject(.module) else { return }
        let m = mv.obj(ObjModule.self)
        rt.gcPauseCount += 1
        defer { rt.gcPauseCount -= 1 }
        rt.addNatives(functions, to: m, moduleName: name)
    }
}
