import CapsuleSyntax

/// What Tab completes at the REPL's prompt (docs/repl.md, "Completion"): a name in scope
/// (the session's declarations, built-ins, keywords), and after `name.` the members of the
/// value `name` holds right now: a module's exports, an instance's fields and methods, a
/// class's methods, or the built-in methods of a string, list, map or bytes.
extension VM {
    /// The completions of `word`, the text before the cursor back to the last character that
    /// cannot be part of a name or a `name.member` chain, sorted. Each is the whole word as it
    /// would read (`math.sq` gives `math.sqrt`). Empty when nothing fits or the receiver is
    /// not a variable of the session. Runs nothing the session defined: no getters, no calls.
    package func replCompletions(for word: String) -> [String] {
        onVMThread(nested: { [] }) { self.completionsNow(word) }
    }

    private func completionsNow(_ word: String) -> [String] {
        guard let dot = word.lastIndex(of: ".") else {
            var names = Set(replVariables.keys)
            names.formUnion(rt.builtins.keys)
            names.formUnion(rt.hostFunctions.keys)
            names.formUnion(TokenKind.keywords.keys)
            return names.filter { $0.hasPrefix(word) && !$0.hasPrefix("<") }.sorted()
        }
        let receiver = String(word[..<dot])
        let prefix = String(word[word.index(after: dot)...])
        guard let value = sessionValue(receiver) else { return [] }
        return Set(memberNames(of: value)).filter { $0.hasPrefix(prefix) }.sorted().map { receiver + "." + $0 }
    }

    /// The value of the session's variable (or built-in) `name`; nil if there is none yet.
    private func sessionValue(_ name: String) -> Value? {
        if let slot = replVariables[name]?.slot, let module = replModule, slot < module.pointee.variableCount,
           let v = module.pointee.variables?[slot], v.bits != Value.undefined.bits {
            return v
        }
        return rt.builtins[name]
    }

    private func memberNames(of value: Value) -> [String] {
        var names: [String] = []
        func add(_ table: NameTable) { table.forEach { key, _ in names.append(key.string) } }
        func addMethods(of klass: UnsafeMutablePointer<ObjClass>) {
            var c: UnsafeMutablePointer<ObjClass>? = klass
            while let current = c {
                add(current.pointee.methods)
                let s = current.pointee.superclass
                c = s.isObject(.klass) ? s.obj(ObjClass.self) : nil
            }
        }
        guard value.isObject else { return [] }
        switch value.header.pointee.kind {
        case .module: add(value.obj(ObjModule.self).pointee.names)
        case .instance:
            let instance = value.obj(ObjInstance.self)
            add(instance.pointee.fields)
            addMethods(of: instance.pointee.klass)
        case .klass: addMethods(of: value.obj(ObjClass.self))
        case let kind:
            let index = Int(kind.rawValue)
            if index < Runtime.kindCount { add(rt.methodTables[index]) }
        }
        // `init` runs when the class is called, not as a method.
        return names.filter { !$0.hasPrefix("<") && $0 != "init" }
    }
}
