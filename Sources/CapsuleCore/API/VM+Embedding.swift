import CapsuleSyntax

/// The typed embedding API: native Swift functions, evaluating source for a value, and
/// calling script functions with Swift values.
///
/// `evaluate` and `call` work in one persistent top-level scope per VM, the same one
/// `evaluateREPL` uses: declarations made by one `evaluate` stay visible to later ones and
/// to `call`. Create a new `VM` for a fresh scope.
extension VM {
    /// Registers a global native function `name` for scripts compiled after this call.
    ///
    /// Each call from a script first checks the argument count (`NAME expects 2 arguments,
    /// got 3`) and each argument against `parameters` (`NAME: argument 2 must be int, got
    /// string`); then `body` runs with the arguments copied into `ScriptValue`s. Its result
    /// must have the declared `result` type (`NAME: result must be int, got string`). A
    /// `ScriptError` thrown by `body` becomes a script error with its message; any other
    /// Swift error becomes one whose message is the error's description. All these errors
    /// can be caught by `try`/`catch` in the script.
    ///
    /// Built-in names (`print`, `len`, …) take precedence over registered ones, so register
    /// under another name. Registering a name again replaces the function for scripts
    /// compiled afterwards. `body` may call back into this VM with `call` (and `register`,
    /// `check`, `disassemble`); `evaluate`, `run` and `evaluateREPL` from it are refused with
    /// an error (see docs/embedding.md, "Calling back from a host function").
    public func register(_ name: String, parameters: [ScriptType], result: ScriptType,
                         _ body: @escaping ([ScriptValue]) throws -> ScriptValue) {
        onVMThread {
            let native = self.rt.newNative(name: name, arity: parameters.count) { rt, args, argc in
                var values: [ScriptValue] = []
                values.reserveCapacity(argc)
                for j in 0..<argc {
                    let v = args[j]
                    guard parameters[j].accepts(v) else {
                        return rt.fail("\(name): argument \(j + 1) must be \(parameters[j].name), got \(rt.typeName(v))")
                    }
                    guard let s = rt.scriptValue(from: v) else { return Runtime.failure }
                    values.append(s)
                }
                let answer: ScriptValue
                do {
                    answer = try body(values)
                } catch let e as ScriptError {
                    return rt.exitRequest != nil ? rt.resumeExit() : rt.fail(e.message)
                } catch {
                    return rt.exitRequest != nil ? rt.resumeExit() : rt.fail(String(describing: error))
                }
                // The script called `exit` in a nested `call`: whatever the body did with
                // that failure, the exit goes on ending the run.
                if rt.exitRequest != nil { return rt.resumeExit() }
                guard result.accepts(answer) else {
                    return rt.fail("\(name): result must be \(result.name), got \(answer.typeName)")
                }
                return rt.value(from: answer) ?? Runtime.failure
            }
            self.rt.hostFunctions[name] = native
        }
    }

    /// Compiles and runs `source` in the VM's persistent top-level scope and returns the value
    /// of its final statement when that is an expression (`.nil` otherwise).
    ///
    /// Declarations (`let`, `var`, `fn`, `class`) stay visible to later `evaluate`, `call`
    /// and `evaluateREPL` calls of this VM; a redeclaration replaces the earlier binding.
    /// `name` is the source name used in diagnostics and traces.
    public func evaluate(_ source: String, name: String = "<eval>") -> Result<ScriptValue, ScriptFailure> {
        let refusal = VM.nestedRunMessage("evaluate")
        return onVMThread(nested: { .failure(.runtimeError(message: refusal, report: "error: \(refusal)\n")) }) {
            let module = self.replModule(named: name)
            let (compiled, variables) = self.parseAndCompile(source: Source(name: name, text: source), module: module,
                                                             variables: self.replVariables, repl: true)
            switch compiled {
            case .failure(let f): return .failure(.compileError(diagnostics: f.rendered))
            case .success(let fn):
                self.replVariables = variables
                self.rt.pushRoot(Value(fn))
                self.rt.compilerRoots.removeAll()
                let closure = Value(self.rt.newClosure(fn))
                self.rt.popRoot()
                return self.finish(self.rt.finishRun(self.rt.call(closure, [])))
            }
        }
    }

    /// Calls the top-level function (or other callable) `functionName` that an earlier
    /// `evaluate` or `evaluateREPL` defined, with `args` copied into the VM, and returns its
    /// result. An unknown name, a wrong argument count and errors the function raises are
    /// `.runtimeError`s.
    public func call(_ functionName: String, _ args: [ScriptValue]) -> Result<ScriptValue, ScriptFailure> {
        onVMThread {
            guard let module = self.replModule, let slot = self.replVariables[functionName]?.slot,
                  slot < module.pointee.variableCount, module.pointee.variables![slot] != .undefined else {
                self.rt.raise("undefined function '\(functionName)'")
                return self.finish(nil)
            }
            return self.callNow(module.pointee.variables![slot], args)
        }
    }

    /// Calls a function copied out of this VM (`ScriptValue.function`: a result, an argument
    /// of a host function, a list element, …) with `args`, and returns its result. Works from
    /// a host function while a script runs (see `register`). A function from another VM is a
    /// `.runtimeError`.
    public func call(_ function: ScriptFunction, _ args: [ScriptValue]) -> Result<ScriptValue, ScriptFailure> {
        onVMThread {
            guard let callee = self.rt.value(from: .function(function)) else { return self.finish(nil) }
            return self.callNow(callee, args)
        }
    }

    /// Copies `args` in, calls `callee`, and finishes the entry.
    private func callNow(_ callee: Value, _ args: [ScriptValue]) -> Result<ScriptValue, ScriptFailure> {
        rt.pushRoot(callee)
        defer { rt.popRoot() }
        var values: [Value] = []
        for a in args {
            guard let v = rt.value(from: a) else {
                rt.popRoot(values.count)
                return finish(nil)
            }
            rt.pushRoot(v)
            values.append(v)
        }
        let result = rt.finishRun(rt.call(callee, values))
        rt.popRoot(values.count)
        return finish(result)
    }

    /// Turns the end of a run into a `Result` and leaves the VM ready for the next one (or,
    /// for a call back from a host function, the running entry as it was).
    func finish(_ result: Value?) -> Result<ScriptValue, ScriptFailure> {
        defer { if !isNested { rt.resetAfterRun() } }
        if let value = result, let copied = rt.scriptValue(from: value) { return .success(copied) }
        let (message, report) = rt.errorParts()
        if result == nil, let code = rt.exitRequest { return .failure(.exited(code: code)) }
        return .failure(.runtimeError(message: message, report: report))
    }
}
