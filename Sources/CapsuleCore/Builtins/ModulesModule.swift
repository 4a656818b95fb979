import CapsuleSyntax

/// The `modules` built-in module: `modules.reload(m)` reloads an imported script module in
/// place (Python's `importlib.reload`, Erlang's code reload for script code).
///
/// The file is read again, parsed and compiled; any error refuses the reload with the
/// compiler's `file:line:col: error:` diagnostics and changes nothing. Then its top level
/// runs again **in the same module object**: every top-level name it declares is rebound,
/// so `m.f()` and the module's own functions call the new code from then on, and names the
/// new file no longer declares keep their old values. Values taken out before (`let f = m.f`,
/// an instance of an old class) are unchanged and keep the old code. A runtime error in the
/// new top level propagates after the names before it were rebound (as in Python).
extension Runtime {
    func makeModulesModule() -> Value {
        let m = newModule(name: "modules", sourceName: "<modules>", directory: nil)
        let mv = Value(m)
        pushRoot(mv)
        defer { popRoot() }
        let reload = newNative(name: "reload", arity: 1) { rt, a, _ in
            rt.reloadModule(a[0]) ?? Runtime.failure
        }
        setModuleVariable(m, "reload", reload)
        return mv
    }

    /// Whether `key` of `modules` is a script module's (its real path), not a built-in or
    /// native module's.
    static func isScriptModuleKey(_ key: String) -> Bool { !key.hasPrefix("builtin:") && !key.hasPrefix("native:") }

    /// Reloads the script module `moduleValue` in place and returns it; nil after raising.
    func reloadModule(_ moduleValue: Value) -> Value? {
        reloadScriptModule(moduleValue) == .reloaded ? moduleValue : nil
    }

    /// What a reload of a script module did: `refused` (a compile or read error, nothing
    /// changed) and `failed` (the new top level raised after rebinding the names before the
    /// error) leave the error pending.
    enum ScriptReloadOutcome { case reloaded, refused, failed }

    /// Reloads the script module `moduleValue` in place.
    func reloadScriptModule(_ moduleValue: Value) -> ScriptReloadOutcome {
        guard moduleValue.isObject(.module) else {
            raise("modules.reload: argument 1: expected a module, got \(typeName(moduleValue))")
            return .refused
        }
        let module = moduleValue.obj(ObjModule.self)
        let name = module.pointee.name.isString ? module.pointee.name.obj(ObjString.self).string : "?"
        guard let path = modules.first(where: { $0.value == moduleValue && Runtime.isScriptModuleKey($0.key) })?.key else {
            let native = modules.contains { $0.value == moduleValue && $0.key.hasPrefix("native:") }
            raise("modules.reload: '\(name)' is not a script module" + (native ? " (reload a plugin with plugins.reload(\"\(name)\"))" : ""))
            return .refused
        }
        if loadingModules.contains(path) {
            raise("modules.reload: '\(name)' is still running its top level")
            return .refused
        }
        let sourceName = module.pointee.sourceName.isString ? module.pointee.sourceName.obj(ObjString.self).string : path
        // The import rule holds for a reload as for the first import (the tree may have changed).
        if let why = importDenial(path, resolved: Runtime.realPath(path) ?? path) {
            raise("reload of module '\(sourceName)' refused: \(why)")
            return .refused
        }
        let text: String
        switch importRule.read(path) {
        case .failure(let error):
            raise("reload of module '\(sourceName)' refused: cannot read \(Capability.sanitized(path)): \(error.reason)")
            return .refused
        case .success(let t): text = t
        }
        let source = Source(name: sourceName, text: text)
        let (program, parseDiagnostics) = parse(source)
        let heading = "reload of module '\(sourceName)' refused:"
        if !parseDiagnostics.isEmpty {
            raise(heading, parseDiagnostics, in: source)
            return .refused
        }
        // Compile once into a scratch module: a refused file must not even add names to the
        // live module.
        let directory = module.pointee.directory.isString ? module.pointee.directory.obj(ObjString.self).string : nil
        let scratch = newModule(name: name, sourceName: sourceName, directory: directory)
        pushRoot(Value(scratch))
        let check = Compiler(rt: self, source: source, module: scratch)
        let checked = check.compile(program)
        compilerRoots.removeAll()
        popRoot()
        guard checked != nil else {
            raise(heading, check.diagnostics, in: source)
            return .refused
        }
        pushRoot(moduleValue)
        defer { popRoot() }
        guard runModule(program, source: source, in: module, path: path, heading: heading) else { return .failed }
        return .reloaded
    }
}
