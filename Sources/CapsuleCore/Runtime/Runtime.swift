#if canImport(Glibc)
import Glibc
#endif
import CapsuleSyntax

/// One activation record in the frame stack.
struct CallFrame {
    var closure: UnsafeMutablePointer<ObjClosure>
    /// Index of the next instruction (saved at calls and errors only).
    var pc: Int
    /// Stack index of register 0 (the callee, or `self` in methods).
    var base: Int
    /// True when native code entered the interpreter here: returning from this frame
    /// returns from `execute`.
    var isBoundary: Bool
}

/// An active `try` block.
struct Handler {
    var frameIndex: Int
    var catchPC: Int
    /// Absolute stack index of the register that receives the caught value.
    var register: Int
    /// TRY's B operand. 0: the register receives the caught value. 1 (`finally`): it
    /// receives the error being raised as it is (a thrown non-error value still wrapped, with
    /// its trace), so the handler can rethrow it unchanged with THROW. 2 (typed `catch`
    /// clauses): the caught value, and the error as it is in the next register.
    var mode: Int = 0
}

/// All the state of one VM: heap, register stack, frames, handlers, modules, builtins.
///
/// NOTE: every stored property is `@exclusivity(unchecked)`: the runtime is only touched from
/// the VM's own thread, and dynamic exclusivity checks were measured as the largest single
/// cost of a Swift interpreter (PERFORMANCE.md); the callgrind profile of the hash-map
/// benchmark showed them at 6% of all instructions before this.
@usableFromInline final class Runtime {
    let config: Configuration

    // MARK: heap
    @exclusivity(unchecked) var objects: UnsafeMutableRawPointer? = nil
    @exclusivity(unchecked) var bytesAllocated = 0
    @exclusivity(unchecked) var nextGC: Int
    @exclusivity(unchecked) var collections = 0
    @exclusivity(unchecked) var freedTotal = 0
    @exclusivity(unchecked) var objectCount = 0
    @exclusivity(unchecked) var gray: [UnsafeMutableRawPointer] = []
    /// While positive, allocation never collects (used while building tables of builtins
    /// whose entries are not reachable from a root until the table is stored).
    @exclusivity(unchecked) var gcPauseCount = 0
    @exclusivity(unchecked) var interned = InternTable()
    /// Values that native code holds in Swift locals across allocations.
    @exclusivity(unchecked) var tempRoots: [Value] = []
    /// Extra roots owned by the embedding API and the compiler.
    @exclusivity(unchecked) var permanentRoots: [Value] = []
    /// Constants of functions being compiled (cleared when compilation ends).
    @exclusivity(unchecked) var compilerRoots: [Value] = []

    // MARK: stack and frames
    /// NOTE: the register stack and frame array are reserved once with mmap and never move,
    /// so raw pointers into them (registers, upvalue locations) stay valid; pages are
    /// committed by the kernel as the stack grows.
    let stack: UnsafeMutablePointer<Value>
    let stackLimit: Int
    let frames: UnsafeMutablePointer<CallFrame>
    let frameLimit: Int
    @exclusivity(unchecked) var frameCount = 0
    /// Slots above this index hold nothing live (maintained by the collector).
    @exclusivity(unchecked) var stackHighWater = 0
    /// Arguments placed above the innermost frame's registers (by `call` for a native that
    /// calls back, by a call with `...`) lie below this index while the call is set up; the
    /// collector keeps slots below it, as it does registers.
    @exclusivity(unchecked) var argumentTop = 0
    /// The argument count SPREAD or NAMED prepared for the CALL that follows (-1: none).
    @exclusivity(unchecked) var preparedArgc = -1
    @exclusivity(unchecked) var openUpvalues: UnsafeMutablePointer<ObjUpvalue>? = nil
    @exclusivity(unchecked) var handlers: UnsafeMutablePointer<Handler>
    @exclusivity(unchecked) var handlerCount = 0
    @exclusivity(unchecked) var handlerCapacity = 64
    @exclusivity(unchecked) var nativeDepth = 0

    // MARK: fibers (Concurrency/)
    let scheduler = Scheduler()
    /// Set by a native that parked its fiber (`Runtime.park`): the interpreter's error path
    /// returns to the scheduler instead of unwinding.
    @exclusivity(unchecked) var suspendRequested = false
    /// What the last `select` received, for its arm's binding (read at once by `selected`).
    @exclusivity(unchecked) var selectedValue: Value = .nil
    @exclusivity(unchecked) var selectedOK = true
    /// The receiver of the INVOKE whose slow path is running (restored into its register
    /// if the call parks, so the INVOKE can run again).
    @exclusivity(unchecked) var invokeReceiver: Value = .nil
    /// Natives the compiler calls by name and scripts cannot (`select`).
    @exclusivity(unchecked) var internalNatives: [String: Value] = [:]

    // MARK: standard streams (Builtins/StandardStreams.swift)
    /// Bytes read from `config.standardInput` and not yet handed to the script.
    @exclusivity(unchecked) var inputBuffer: [UInt8] = []
    /// Standard input reached its end (or failed): no more reads are tried.
    @exclusivity(unchecked) var inputEnded = false
    /// The code given to `exit`, while the uncatchable error it raised unwinds the run.
    @exclusivity(unchecked) var exitRequest: Int32? = nil

    // MARK: resource limits (Runtime/Limits.swift)
    /// Counted instructions left before the interpreter must call `checkLimits`: decremented
    /// at loop back-edges and calls. `Int.max` when no fuel, timeout, safe-point handler or
    /// interrupt (API/Interrupt.swift) is set, so the check stays one compare and branch that
    /// is never taken.
    @exclusivity(unchecked) var fuel = Int.max
    /// Fuel not yet handed to `fuel` (meaningful only with `maxInstructions`).
    @exclusivity(unchecked) var fuelReserve = 0
    /// `CLOCK_MONOTONIC_COARSE` nanoseconds at which the run times out (0: no timeout).
    @exclusivity(unchecked) var deadline = 0
    /// The message of a fuel or timeout error once raised: every later check raises it again.
    @exclusivity(unchecked) var haltMessage: String? = nil
    /// `maxHeapBytes`, or `Int.max`.
    @exclusivity(unchecked) var heapLimit = Int.max
    /// An allocation passed the heap limit (or was failed on purpose): raise `out of
    /// memory` at the next check.
    @exclusivity(unchecked) var memoryErrorPending = false
    /// The system refused memory since the last `out of memory` was raised (SystemMemory.swift).
    @exclusivity(unchecked) var systemMemoryExhausted = false
    /// Address space held back for after the system first refuses memory; nil once released.
    @exclusivity(unchecked) var emergencyReserve: UnsafeMutableRawPointer? = nil
    /// While positive, allocations do not signal `out of memory` (raising it allocates).
    @exclusivity(unchecked) var raisingOutOfMemory = 0
    /// Allocations left before `failAllocationAfter` makes them fail.
    @exclusivity(unchecked) var allocationsBeforeFailure = Int.max
    /// Work another thread asked to run at the next safe point (API/SafePoint.swift); nil:
    /// none installed, and the countdown stays `Int.max` when no limit is set either.
    @exclusivity(unchecked) var safePointHandler: ((NativeCall) -> Void)? = nil
    /// Set from any thread; read at `checkLimits` while a handler is installed.
    @usableFromInline let safePointTrigger = SafePointTrigger()
    /// Whether runs stop at an interrupt request (API/Interrupt.swift): the countdown then
    /// runs in slices, as with a timeout.
    @exclusivity(unchecked) var interruptible = false
    /// Set from any thread by `VM.interrupt`; read at `checkLimits` while `interruptible`.
    let interruptRequest = InterruptRequest()
    /// Values Swift holds (`ScriptFunction`s): roots until released, from any thread.
    let pinned = PinnedValues()
    /// Values plugins keep between calls (`NativeCall.pin`): a table of their own, so no id a
    /// plugin passes can release a `ScriptFunction`'s pin.
    let pluginPins = PinnedValues()
    /// True while the handler runs (its script calls reach checks too: no re-entry).
    @exclusivity(unchecked) var inSafePoint = false

    // MARK: errors
    /// The value being thrown while an error propagates.
    @exclusivity(unchecked) var pendingError: Value = .nil
    /// The built-in error classes, indexed by `ErrorKind.rawValue` (also builtins, so rooted).
    @exclusivity(unchecked) var errorClassValues: [Value] = []
    /// Nesting of lexicographic list comparisons in progress (Runtime/OperatorMethods.swift).
    @exclusivity(unchecked) var listCompareDepth = 0
    /// The native that pops the next deferred call (`deferNext()`), made on first use.
    @exclusivity(unchecked) var deferNextValue: Value = .nil

    // MARK: builtins and modules
    /// Methods of the built-in types, indexed by `ObjKind.rawValue` (empty for kinds that
    /// have none). NOTE: a pointer, so lookups never copy a table.
    let methodTables: UnsafeMutablePointer<NameTable>
    static let kindCount = 19
    /// The one-scalar strings U+0000–U+00FF, interned and made on first use (nil until
    /// then), returned by `s[i]`, `for c in s`, `chars()` and `chr` instead of a new string
    /// (Runtime/StringIndex.swift). Marked as roots. NOTE: a pointer, like `methodTables`.
    let charStrings: UnsafeMutablePointer<Value>
    var stringMethods: NameTable {
        get { methodTables[Int(ObjKind.string.rawValue)] }
        set { methodTables[Int(ObjKind.string.rawValue)] = newValue }
    }
    var listMethods: NameTable {
        get { methodTables[Int(ObjKind.list.rawValue)] }
        set { methodTables[Int(ObjKind.list.rawValue)] = newValue }
    }
    var mapMethods: NameTable {
        get { methodTables[Int(ObjKind.map.rawValue)] }
        set { methodTables[Int(ObjKind.map.rawValue)] = newValue }
    }
    var bytesMethods: NameTable {
        get { methodTables[Int(ObjKind.bytes.rawValue)] }
        set { methodTables[Int(ObjKind.bytes.rawValue)] = newValue }
    }
    /// Global builtins by name (the compiler resolves names here after module scope).
    @exclusivity(unchecked) var builtins: [String: Value] = [:]
    /// Loaded modules by key (resolved path or builtin name).
    @exclusivity(unchecked) var modules: [String: Value] = [:]
    /// Modules being loaded, to detect cycles.
    @exclusivity(unchecked) var loadingModules: [String] = []
    /// The module object of each imported module in `loadingModules`, by path.
    @exclusivity(unchecked) var loadingModuleObjects: [String: UnsafeMutablePointer<ObjModule>] = [:]
    /// Built-in modules (e.g. `math`) by name, created on first import.
    @exclusivity(unchecked) var builtinModuleFactories: [String: (Runtime) -> Value] = [:]
    /// The plugin host's resolver for `import` of native modules (nil: none installed).
    @exclusivity(unchecked) var nativeModuleResolver: NativeModuleResolver? = nil
    /// Told of each script module `import` is about to read (its name in messages, its real
    /// path), before the read.
    var scriptModuleObserver: ((String, String) -> Void)? = nil
    /// Where script modules may be imported from (ImportRule.swift), from the configuration.
    let importRule: ImportRule
    /// The running script's directory (real path): a root of the import rule. Nil: the
    /// current directory (the REPL, source without a path).
    var scriptDirectory: String? = nil
    /// Told of each import the rule denies (the path), so the host can audit it as `fs.read`.
    var importDenialObserver: ((String) -> Void)? = nil
    /// Native functions registered through the embedding API.
    @exclusivity(unchecked) var hostFunctions: [String: Value] = [:]

    // MARK: interned names the runtime uses
    @exclusivity(unchecked) var nameInit: UnsafeMutablePointer<ObjString>! = nil
    @exclusivity(unchecked) var nameStr: UnsafeMutablePointer<ObjString>! = nil
    @exclusivity(unchecked) var nameMessage: UnsafeMutablePointer<ObjString>! = nil
    @exclusivity(unchecked) var nameTrace: UnsafeMutablePointer<ObjString>! = nil
    /// The method names that make an instance a map key by value (MapTable+InstanceKeys.swift).
    @exclusivity(unchecked) var nameHash: UnsafeMutablePointer<ObjString>! = nil
    @exclusivity(unchecked) var nameEquals: UnsafeMutablePointer<ObjString>! = nil
    /// Set by `mapGet(indexing: true)` when an instance key's `hash` or `==` raised; its one
    /// caller (`getIndex`) tests and clears it on the miss path.
    @exclusivity(unchecked) var indexLookupRaised = false

    init(config: Configuration) {
        self.config = config
        importRule = ImportRule(configuration: config, workingDirectory: Runtime.workingDirectory())
        self.nextGC = config.initialGCThreshold
        if let limit = config.maxHeapBytes { heapLimit = max(0, limit) }
        let depth = min(max(1, config.maxCallDepth), Configuration.maxCallDepthBound)
        stackLimit = max(1 << 16, min(depth * 64, 1 << 25))
        frameLimit = depth
        stack = Runtime.reserve(Value.self, count: stackLimit + 256)
        frames = Runtime.reserve(CallFrame.self, count: frameLimit + 1)
        handlers = .allocate(capacity: handlerCapacity)
        methodTables = .allocate(capacity: Runtime.kindCount)
        methodTables.initialize(repeating: NameTable(), count: Runtime.kindCount)
        charStrings = .allocate(capacity: 256)
        charStrings.initialize(repeating: .nil, count: 256)
        holdEmergencyReserve()
        gcPauseCount += 1
        defer { gcPauseCount -= 1 }
        nameInit = intern("init")
        nameStr = intern("str")
        nameMessage = intern("message")
        nameTrace = intern("trace")
        nameHash = intern("hash")
        nameEquals = intern("==")
        for name in [nameInit, nameStr, nameMessage, nameTrace, nameHash, nameEquals] { permanentRoots.append(Value(name!)) }
    }

    deinit {
        freeAllObjects()
        munmap(stack, (stackLimit + 256) * MemoryLayout<Value>.stride)
        munmap(frames, (frameLimit + 1) * MemoryLayout<CallFrame>.stride)
        handlers.deallocate()
        for i in 0..<Runtime.kindCount { methodTables[i].free() }
        methodTables.deallocate()
        charStrings.deallocate()
        interned.free()
        free(emergencyReserve)
    }

    /// Reserves address space for `count` elements; the kernel commits pages on first touch.
    private static func reserve<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let bytes = count * MemoryLayout<T>.stride
        let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let p, p != MAP_FAILED else { fatalError("capsule: cannot reserve \(bytes) bytes for the VM stack") }
        return p.assumingMemoryBound(to: T.self)
    }

    /// TRY: installs a handler for the innermost frame. Out of line: it keeps the
    /// interpreter's loop small, and `try` is not on any hot path.
    @inline(never)
    func beginTry(catchPC: Int, register: Int, mode: Int) {
        pushHandler(Handler(frameIndex: frameCount - 1, catchPC: catchPC, register: register, mode: mode))
    }

    func pushHandler(_ h: Handler) {
        if handlerCount == handlerCapacity {
            let bigger = UnsafeMutablePointer<Handler>.allocate(capacity: handlerCapacity * 2)
            bigger.moveInitialize(from: handlers, count: handlerCount)
            handlers.deallocate()
            handlers = bigger
            handlerCapacity *= 2
        }
        handlers[handlerCount] = h
        handlerCount += 1
    }
}
