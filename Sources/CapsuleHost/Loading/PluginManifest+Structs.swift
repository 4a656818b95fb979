/// The struct types a plugin's descriptor declares (`capsule_struct_type`): each name with
/// its field list, laid out as the C compiler does (`StructType`), for its signatures to
/// pass and return by value.
extension PluginManifest {
    /// The declared struct types in order, or why the declarations are refused: a missing or
    /// non-identifier name, a name that is a built-in type or declared twice, a missing or
    /// malformed field list (unknown field type, field declared twice). A field may name a
    /// struct type declared before it.
    static func readStructTypes(_ d: DescriptorFields, plugin: String) -> StructDeclarations {
        if d.structTypeCount > 0 && !d.hasStructTypes {
            return .refused("plugin \(plugin) declares \(d.structTypeCount) struct types but struct_types is NULL")
        }
        var types: [StructType] = []
        for i in 0..<d.structTypeCount {
            let declared = d.structType(i)
            guard let name = declared.name, isIdentifier(name) else {
                let shown = declared.name.map { "'\($0)'" } ?? "NULL"
                return .refused("plugin \(plugin): struct type \(i) has name \(shown), which is not an identifier")
            }
            if ValueType.named[name] != nil || ["handle", "callback", "out"].contains(name) {
                return .refused("plugin \(plugin): struct type '\(name)' has the name of a built-in type")
            }
            if types.contains(where: { $0.name == name }) {
                return .refused("plugin \(plugin) declares struct type '\(name)' twice")
            }
            guard let text = declared.fields else {
                return .refused("plugin \(plugin): struct type '\(name)' has no fields (NULL)")
            }
            let earlier = types
            let fields: [(name: String, type: ValueType)]
            switch StructType.parseFields(text, structs: { n in earlier.first { $0.name == n } }) {
            case .success(let f): fields = f
            case .failure(let error):
                return .refused("plugin \(plugin): malformed fields '\(text)' for struct type '\(name)': \(error.message) at column \(error.column)")
            }
            guard let type = StructType(name: name, fields: fields) else {
                return .refused("plugin \(plugin): libffi cannot lay out struct type '\(name)'")
            }
            types.append(type)
        }
        return .declared(types)
    }
}

/// The outcome of reading a descriptor's struct types.
enum StructDeclarations {
    case declared([StructType])
    case refused(String)
}
