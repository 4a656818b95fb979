#if canImport(Glibc)
import Glibc
#endif

/// The standard streams and the process's end: `exit`, `eprint`, `write`, `ewrite`, the
/// `stdin` object and `script_path`. Standard streams are not capabilities (as in Deno).
extension Runtime {
    func installStandardStreams() {
        defineBuiltin("exit", arity: -1) { rt, args, argc in
            guard argc <= 1 else { return rt.fail("exit expects 0 or 1 arguments, got \(argc)") }
            var code: Int64 = 0
            if argc == 1 {
                guard let c = rt.expectInt(args[0], "exit code") else { return Runtime.failure }
                guard c >= 0 && c <= 255 else { return rt.fail("exit code \(c) is out of range 0...255") }
                code = c
            }
            // An uncatchable error unwinds every frame, native callers and importers included;
            // the VM turns it into `RunOutcome.exited` (VM.execute).
            rt.exitRequest = Int32(code)
            // What was printed goes out before the run ends, whoever ends the process.
            _ = StandardOutput.flush()
            return rt.resumeExit()
        }
        defineBuiltin("write", arity: -1) { rt, args, argc in
            guard let text = rt.joinedText(args, argc) else { return Runtime.failure }
            rt.config.output(text)
            return .nil
        }
        defineBuiltin("eprint", arity: -1) { rt, args, argc in
            guard let text = rt.joinedText(args, argc) else { return Runtime.failure }
            rt.config.errorOutput(text + "\n")
            return .nil
        }
        defineBuiltin("ewrite", arity: -1) { rt, args, argc in
            guard let text = rt.joinedText(args, argc) else { return Runtime.failure }
            rt.config.errorOutput(text)
            return .nil
        }
        builtins["script_path"] = config.scriptPath.map { Value(makeString($0)) } ?? .nil
        builtins["stdin"] = makeStdinObject()
    }

    /// Raises the uncatchable error that carries a requested `exit` (`exitRequest`) up
    /// through every frame; returns the failure marker.
    func resumeExit() -> Value {
        raiseUncatchable("exit(\(exitRequest ?? 0))")
        return Runtime.failure
    }

    /// The values as `print` shows them, separated by spaces; nil after raising.
    func joinedText(_ args: UnsafeMutablePointer<Value>, _ argc: Int) -> String? {
        var line = ""
        for j in 0..<argc {
            if j > 0 { line += " " }
            guard let t = toText(args[j]) else { return nil }
            line += t
        }
        return line
    }

    /// `stdin`: a built-in module object with `read_line`, `read` and `lines` (a function
    /// returning the next line, or nil at the end: what `for line in stdin.lines()` calls).
    private func makeStdinObject() -> Value {
        let m = newModule(name: "stdin", sourceName: "<stdin>", directory: nil)
        pushRoot(Value(m))
        defer { popRoot() }
        func define(_ name: String, arity: Int, _ body: @escaping NativeBody) {
            setModuleVariable(m, name, newNative(name: name, arity: arity, body))
        }
        // Each reader may have parked its fiber until input arrives (readInputChunk) and
        // runs again then: what it read so far waits in `inputBuffer`.
        define("read_line", arity: 0) { rt, _, _ in
            _ = rt.takeResumption()
            switch rt.readInputLine() {
            case .failed: return Runtime.failure
            case .end: return .nil
            case .line(let bytes): return rt.inputString(bytes)
            }
        }
        define("read", arity: 0) { rt, _, _ in
            _ = rt.takeResumption()
            guard rt.fillInput(untilNewline: false) else { return Runtime.failure }
            let bytes = rt.inputBuffer
            rt.inputBuffer = []
            return rt.inputString(bytes[...])
        }
        // Lazy: the loop calls the returned function for each line, so a pipeline stage
        // handles an endless stream a line at a time (Runtime.iterNext: a function is
        // called until it returns nil).
        define("lines", arity: 0) { rt, _, _ in
            let next = rt.newNative(name: "stdin.lines", arity: 0) { rt, _, _ in
                _ = rt.takeResumption()
                switch rt.readInputLine() {
                case .failed: return Runtime.failure
                case .end: return .nil
                case .line(let bytes): return rt.inputString(bytes)
                }
            }
            return next
        }
        return Value(m)
    }

    enum InputLine {
        case line(ArraySlice<UInt8>)
        case end
        case failed
    }

    /// The next line of standard input without its `\n` (and a `\r` before it); `.end` at the
    /// end of input; `.failed` after raising (a timeout, a read error) or parking the fiber.
    func readInputLine() -> InputLine {
        var searched = 0
        while true {
            if let nl = inputBuffer[searched...].firstIndex(of: UInt8(ascii: "\n")) {
                var line = inputBuffer[..<nl]
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                let result = Array(line)
                inputBuffer.removeSubrange(...nl)
                return .line(result[...])
            }
            searched = inputBuffer.count
            if inputEnded {
                if inputBuffer.isEmpty { return .end }
                let rest = inputBuffer
                inputBuffer = []
                return .line(rest[...])
            }
            guard readInputChunk() else { return .failed }
        }
    }

    /// Reads until the end of input (or, with `untilNewline`, until a newline arrives).
    /// False after raising or parking the fiber.
    func fillInput(untilNewline: Bool) -> Bool {
        while !inputEnded {
            if untilNewline && inputBuffer.contains(UInt8(ascii: "\n")) { return true }
            guard readInputChunk() else { return false }
        }
        return true
    }

    /// One `read` of standard input into `inputBuffer`. With nothing to read yet, the fiber
    /// parks until standard input is readable (other fibers run; the scheduler ends the wait
    /// at `--timeout` or an interrupt) and the calling native runs again; where it cannot
    /// park, the thread waits in `poll`, no later than the VM's deadline. False after
    /// raising or parking.
    private func readInputChunk() -> Bool {
        let fd = config.standardInput
        // What was printed so far goes out before the script waits for more input, so a
        // pipeline stage answers each line as it comes (a prompt shows before its answer).
        _ = StandardOutput.flush()
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        // poll reports a regular file (or /dev/null) as always readable, so only a pipe,
        // socket or terminal with nothing in it yet is handed to epoll, which refuses files.
        if poll(&p, 1, 0) <= 0 && canPark {
            _ = parkOnDescriptor(fd, write: false, deadline: nil, label: "read from standard input")
            return false
        }
        while p.revents == 0 {
            var ms: Int32 = -1
            if deadline != 0 {
                let left = deadline &- Runtime.coarseNow()
                if left <= 0 { haltForTimeout(); return false }
                // Rounded up, so a wait never ends just before the deadline and spins.
                ms = Int32(clamping: left / 1_000_000 &+ 1)
            }
            let r = poll(&p, 1, ms)
            if r > 0 { break }
            // Ctrl-C in the REPL wakes this wait (API/Interrupt.swift).
            if r < 0 && errno == EINTR && !checkInterrupt() { return false }
            if r < 0 && errno != EINTR {
                raise("cannot read standard input: \(String(cString: strerror(errno)))")
                return false
            }
        }
        let chunk = 65536
        guard reserveHeap(inputBuffer.count &+ chunk) else { return false }
        var buffer = [UInt8](repeating: 0, count: chunk)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, chunk) }
            if n > 0 { inputBuffer.append(contentsOf: buffer[..<n]); return true }
            if n == 0 { inputEnded = true; return true }
            if errno == EINTR { continue }
            if errno == EAGAIN { return true }
            raise("cannot read standard input: \(String(cString: strerror(errno)))")
            return false
        }
    }

    /// A string from input bytes (invalid UTF-8 becomes U+FFFD), refused past the heap limit.
    func inputString(_ bytes: ArraySlice<UInt8>) -> Value {
        guard reserveHeap(bytes.count) else { return Runtime.failure }
        return Value(makeString(String(decoding: bytes, as: UTF8.self)))
    }
}
