/// What a script can call without importing anything, for sweeps that call each of them
/// with extreme arguments (fuzz/BuiltinsFuzz.swift, the host-module sweep test).
extension VM {
    /// The built-in functions' names, sorted.
    package var builtinFunctionNames: [String] {
        onVMThread {
            self.rt.builtins.compactMap { name, value in value.isObject(.native) ? name : nil }.sorted()
        }
    }

    /// The built-in methods of strings, lists, maps and bytes: type name, method names sorted.
    package var builtinMethodNames: [(type: String, names: [String])] {
        onVMThread {
            [(ObjKind.string, "string"), (.list, "list"), (.map, "map"), (.bytes, "bytes")].map { kind, type in
                var names: [String] = []
                self.rt.methodTables[Int(kind.rawValue)].forEach { name, _ in names.append(name.string) }
                return (type, names.sorted())
            }
        }
    }
}
