import CapsuleSyntax

/// A Capsule virtual machine: a heap, loaded modules and an interpreter.
/// One VM runs one script at a time; create several for isolation. It runs the interpreter on
/// a big-stack thread of its own; entries (`run`, `evaluate`, `call`, …) from several threads
/// take turns there.
///
/// NOTE: `@unchecked Sendable` because the VM is its own isolation domain: every public entry
/// goes through `onVMThread`, which runs it on the VM's `ExecutionThread`, one caller at a
/// time, and waits for it; the `package` members that touch `rt` directly are called only from
/// code already running there (host functions, safe-point handlers).
public final class VM: @unchecked Sendable {
    public let configuration: Configuration
    let rt: Runtime
    /// The REPL's persistent top-level module and its declarations.
    /// `evaluate` and `call` share it (see VM+Embedding.swift).
    var replModule: UnsafeMutablePointer<ObjModule>? = nil
    var replVariables: [String: (slot: Int, mutable: Bool)] = [:]
    /// Entries running: 1 while a call into the VM runs, more while a host function it called
    /// has called back in (see `onVMThread`).
    var depth = 0
    /// The thread the interpreter runs on (see ExecutionThread).
    let thread: ExecutionThread

    /// Creates a VM with the given settings.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        thread = ExecutionThread(stackSize: configuration.threadStackSize)
        rt = Runtime(config: configuration)
        rt.installBuiltins()
        rt.setArguments(configuration.arguments)
    }

    /// Compiles and runs `source`. `name` is used in messages (usually the path as the user
    /// typed it); `path`, when given, is the file's real path, used to resolve `import`s
    /// relative to the script's directory.
    public func run(source: String, name: String, path: String? = nil) -> RunOutcome {
        onVMThread(nested: { .runtimeError(report: "error: \(VM.nestedRunMessage("run"))\n") }) {
            self.runNow(source: source, name: name, path: path)
        }
    }

    /// Reads and runs a file. Missing or unreadable files give `.ioError`. The file may be a
    /// pipe or FIFO (the caller named it); imports are regular files only.
    public func runFile(path: String, name: String? = nil) -> RunOutcome {
        switch readSourceFile(atPath: path, allowingStreams: true) {
        case .success(let text): return run(source: text, name: name ?? path, path: path)
        case .failure(let error): return .ioError(message: error.message)
        }
    }

    /// Compiles without running and returns every diagnostic (empty when the code compiles).
    public func check(source: String, name: String) -> [Diagnostic] {
        onVMThread {
            switch self.compile(source: source, name: name, path: nil) {
            case .success: return []
            case .failure(let f): return f.diagnostics
            }
        }
    }

    /// Compiles and returns the readable bytecode listing, or the rendered diagnostics.
    public func disassemble(source: String, name: String) -> Result<String, CompileFailure> {
        onVMThread {
            switch self.compile(source: source, name: name, path: nil) {
            case .success(let fn):
                return .success(Disassembler.listing(of: fn, rt: self.rt))
            case .failure(let f):
                return .failure(f)
            }
        }
    }

    /// Runs one REPL entry in a persistent top-level scope: declarations stay visible to later
    /// entries, and a lone expression's value comes back in `.ok(value:)`.
    public func evaluateREPL(_ input: String) -> RunOutcome {
        onVMThread(nested: { .runtimeError(report: "error: \(VM.nestedRunMessage("evaluateREPL"))\n") }) {
            self.replNow(input)
        }
    }

    // MARK: implementation

    /// Runs `body` on the VM's thread. Callers on other threads queue for it; a host function
    /// the running script called is already on it, and calls back in *nested*: then `nested`,
    /// when given, answers instead (entries that would compile into or start a top level the
    /// running code may be using), and otherwise `body` runs inside the running entry, under
    /// its limits and roots, like a native calling a script function.
    func onVMThread<T>(nested: (() -> T)? = nil, _ body: @escaping () -> T) -> T {
        var result: T? = nil
        thread.run {
            if self.depth > 0 {
                if let nested { result = nested(); return }
                self.depth += 1
                defer { self.depth -= 1 }
                result = body()
                return
            }
            self.depth = 1
            defer { self.depth = 0 }
            self.rt.armLimits()
            // Host code that waits on this thread reads the deadline there (RunDeadline).
            // ... and whether an interrupt is waiting (API/Interrupt.swift).
            let interrupt = self.rt.interruptible ? self.rt.interruptRequest : nil
            result = RunDeadline.with(self.rt.deadline) { RunDeadline.with(interrupt: interrupt) { body() } }
            // Every entry into the VM starts and ends with no temporary roots.
            self.rt.tempRoots.removeAll()
        }
        return result!
    }

    /// True inside a host function's call back into the running VM.
    var isNested: Bool { depth > 1 }

    /// Why `entry` was refused from a host function of the running VM.
    static func nestedRunMessage(_ entry: String) -> String {
        "VM.\(entry) was called from a host function while this VM is running a script; "
            + "a host function may call back with VM.call, or run source in another VM"
    }

    func parseAndCompile(source: Source, module: UnsafeMutablePointer<ObjModule>,
                                 variables: [String: (slot: Int, mutable: Bool)], repl: Bool)
        -> (Result<UnsafeMutablePointer<ObjFunction>, CompileFailure>, [String: (slot: Int, mutable: Bool)]) {
        let (program, parseDiagnostics) = parse(source)
        if !parseDiagnostics.isEmpty { return (.failure(failure(parseDiagnostics, source)), variables) }
        let compiler = Compiler(rt: rt, source: source, module: module, moduleVariables: variables, replMode: repl)
        let fn = compiler.compile(program)
        guard let fn else {
            rt.compilerRoots.removeAll()
            return (.failure(failure(compiler.diagnostics, source)), variables)
        }
        return (.success(fn), compiler.moduleVariables)
    }

    private func failure(_ diagnostics: [Diagnostic], _ source: Source) -> CompileFailure {
        let sorted = diagnostics.sorted { ($0.location.line, $0.location.column) < ($1.location.line, $1.location.column) }
        let text = Diagnostic.render(sorted, source: source)
        return CompileFailure(diagnostics: sorted, rendered: text)
    }

    func newScriptModule(name: String, path: String?) -> UnsafeMutablePointer<ObjModule> {
        let directory = path.map { Runtime.directoryOf(Runtime.realPath($0) ?? $0) } ?? "."
        return rt.newModule(name: Compiler.moduleBindingName(name), sourceName: name, directory: directory)
    }

    private func compile(source text: String, name: String, path: String?) -> Result<UnsafeMutablePointer<ObjFunction>, CompileFailure> {
        let module = newScriptModule(name: name, path: path)
        rt.pushRoot(Value(module))
        defer { rt.popRoot() }
        let (result, _) = parseAndCompile(source: Source(name: name, text: text), module: module, variables: [:], repl: false)
        if case .success(let fn) = result {
            rt.permanentRoots.append(Value(fn))
            rt.compilerRoots.removeAll()
        }
        return result
    }

    private func runNow(source text: String, name: String, path: String?) -> RunOutcome {
        let module = newScriptModule(name: name, path: path)
        var running: String? = nil
        // The import rule's root: this script's directory (docs/security.md#imports).
        rt.scriptDirectory = path.flatMap { Runtime.realPath($0) }.map(Runtime.directoryOf)
        if let path, let real = Runtime.realPath(path) {
            rt.modules[real] = Value(module)
            rt.loadingModules.append(real)
            running = real
        }
        defer { if let running { rt.loadingModules.removeAll { $0 == running } } }
        rt.pushRoot(Value(module))
        defer { rt.popRoot() }
        let (result, _) = parseAndCompile(source: Source(name: name, text: text), module: module, variables: [:], repl: false)
        switch result {
        case .failure(let f): return .compileError(diagnostics: f.rendered)
        case .success(let fn): return execute(fn, repl: false)
        }
    }

    /// The persistent top-level module of the REPL and of `evaluate`, created on first use;
    /// `name` becomes its source name in traces from now on.
    func replModule(named name: String) -> UnsafeMutablePointer<ObjModule> {
        if replModule == nil {
            let m = newScriptModule(name: "<repl>", path: nil)
            rt.permanentRoots.append(Value(m))
            replModule = m
        }
        replModule!.pointee.sourceName = Value(rt.intern(name))
        return replModule!
    }

    private func replNow(_ input: String) -> RunOutcome {
        let module = replModule(named: "<repl>")
        let (result, variables) = parseAndCompile(source: Source(name: "<repl>", text: input), module: module,
                                                  variables: replVariables, repl: true)
        switch result {
        case .failure(let f): return .compileError(diagnostics: f.rendered)
        case .success(let fn):
            replVariables = variables
            return execute(fn, repl: true)
        }
    }

    /// Runs a compiled script function and turns its end into a `RunOutcome`.
    private func execute(_ fn: UnsafeMutablePointer<ObjFunction>, repl: Bool) -> RunOutcome {
        rt.pushRoot(Value(fn))
        rt.compilerRoots.removeAll()
        let closure = Value(rt.newClosure(fn))
        rt.popRoot()
        var result = rt.finishRun(rt.call(closure, []))
        defer { rt.resetAfterRun() }
        // A REPL entry that spawned fibers and returned: they run now, until none is ready
        // (docs/concurrency.md, "Limits").
        if repl, let value = result, rt.scheduler.queueCount > 0 {
            rt.pushRoot(value)
            if rt.runReadyFibers() == nil { result = nil }
            rt.popRoot()
        }
        guard let value = result else {
            if let code = rt.exitRequest { return .exited(code: code) }
            // An imported module that does not compile fails the run as a compile error would.
            let error = rt.pendingError
            if error.isObject(.error) && error.header.pointee.flags & ObjErrorFlags.moduleCompileError != 0 {
                return .compileError(diagnostics: rt.errorReport())
            }
            return .runtimeError(report: rt.errorReport())
        }
        if repl && !value.isNil {
            rt.pushRoot(value)
            defer { rt.popRoot() }
            if value.isString { return .ok(value: Runtime.quote(value.obj(ObjString.self).string)) }
            guard let text = rt.toText(value) else { return .runtimeError(report: rt.errorReport()) }
            return .ok(value: text)
        }
        return .ok(value: nil)
    }
}

extension Runtime {
    /// The report of the pending error, which is then cleared: its position, message,
    /// source line and caret as a compile error shows them
    /// (`file:line:col: error: message`), then the trace (`  at f (file:line:col)`).
    /// Without a position (raised outside any script frame), for a message of several lines
    /// (a module's compile errors) and for a limit (fuel, timeout, memory: it stops whatever
    /// expression was running, which did not fail), the first line is `error: message` and
    /// no source line is shown.
    func errorReport() -> String {
        errorReportParts().report
    }

    /// The pending error's message as its report's first line shows it, and the report.
    func errorReportParts() -> (message: String, report: String) {
        let error = pendingError
        pendingError = .nil
        pushRoot(error)
        defer { popRoot() }
        var message: String
        var trace: [String] = []
        var header: String? = nil
        if error.isObject(.error) {
            let e = error.obj(ObjError.self)
            let m = e.pointee.message
            pushRoot(m)
            message = toText(m) ?? describe(m, quoted: false)
            pendingError = .nil
            popRoot()
            let t = e.pointee.trace
            if t.isObject(.list) {
                let l = t.obj(ObjList.self)
                for j in 0..<l.pointee.count { trace.append(describe(l.pointee.items![j], quoted: false)) }
            }
            // A limit (fuel, timeout, memory) stops whatever was running: no caret for it.
            let isLimit = error.header.pointee.flags & ObjErrorFlags.limit != 0
            if e.pointee.origin.isObject(.function) && !message.contains("\n") && !isLimit {
                header = positionedHeader(e.pointee.origin.obj(ObjFunction.self), at: e.pointee.originPC, message: message)
            }
        } else {
            message = describe(error, quoted: false)
        }
        var out = header ?? "error: \(message)\n"
        for line in trace {
            out += line.hasPrefix("...") || line.hasPrefix("[") ? "  \(line)\n" : "  at \(line)\n"
        }
        return (message, out)
    }

    /// `file:line:col: error: message`, the source line and the caret, for an error raised by
    /// instruction `at` of `fn`. The line comes from the text `fn` was compiled from
    /// (FunctionDebugInfo), never from reading a file again.
    private func positionedHeader(_ fn: UnsafeMutablePointer<ObjFunction>, at: Int, message: String) -> String? {
        let (line, column) = position(fn, at: at)
        guard line > 0, column > 0, let debug = debugInfo(fn) else { return nil }
        let file = fn.pointee.module.map { $0.pointee.sourceName.isString ? $0.pointee.sourceName.obj(ObjString.self).string : "?" } ?? "?"
        var out = "\(file):\(line):\(column): error: \(message)\n"
        let diagnostic = Diagnostic(.error, message, at: SourceLocation(line: line, column: column, offset: -1), in: file)
        if let excerpt = diagnostic.excerpt(source: debug.source) { out += excerpt + "\n" }
        return out
    }

    /// Leaves the VM ready for the next run after success or an escaped error.
    func resetAfterRun() {
        frameCount = 0
        handlerCount = 0
        nativeDepth = 0
        if openUpvalues != nil { closeUpvalues(from: 0) }
        compilerRoots.removeAll()
        pendingError = .nil
        exitRequest = nil
    }
}

/// Rendered compile errors, for APIs that return `Result`.
public struct CompileFailure: Error, Sendable, Equatable {
    public let diagnostics: [Diagnostic]
    public let rendered: String
    public init(diagnostics: [Diagnostic], rendered: String) { self.diagnostics = diagnostics; self.rendered = rendered }
}

#if canImport(Glibc)
import Glibc
#endif
