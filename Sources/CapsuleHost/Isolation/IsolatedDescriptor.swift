/// The plugin descriptor as an isolated plugin's worker sends it (the LOADED payload),
/// decoded with every length checked: the worker ran plugin code, so this is untrusted
/// input. The fields then go through the same checks as an in-process descriptor
/// (`PluginManifest.check`), with the same messages.
///
/// Layout (little-endian; a string is a u32 length and the bytes, 0xFFFFFFFF for NULL):
/// ```
/// u32 abi_version, u32 struct_size          -- nothing more unless the host knows both (any layout of its ABI)
/// string name, string version, string description
/// u32 n, n × string capabilities
/// u64 handle_type_count, u32 handle_types != NULL, then if non-NULL: per type
///     string name, u32 destroy != NULL
/// u64 export_count, u32 exports != NULL, then if non-NULL: per export
///     string name, string signature, u32 fn != NULL, u32 flags, string doc
/// u32 init != NULL
/// u64 struct_type_count, u32 struct_types != NULL, then if non-NULL: per type
///     string name, string fields                -- (count 0 for the SDK 0.1 layout)
/// ```
enum IsolatedDescriptor {
    /// The decoded head and fields, or why the payload is malformed.
    static func decode(_ bytes: [UInt8]) -> Result<(abi: UInt32, size: UInt32, fields: DescriptorFields?), IsolationError> {
        var reader = Reader(bytes: bytes)
        do {
            let abi = try reader.u32(), size = try reader.u32()
            guard PluginManifest.headRefusal(abi: abi, size: size) == nil else { return .success((abi, size, nil)) }
            let name = try reader.string(), version = try reader.string(), description = try reader.string()
            let capabilityCount = try reader.count(limit: 4096)
            var capabilities: [String] = []
            for _ in 0..<capabilityCount { capabilities.append(try reader.string() ?? "") }
            let handleTypeCount = try reader.count(limit: 65535, wide: true)
            let hasHandleTypes = try reader.u32() != 0
            var handleTypes: [DescriptorFields.HandleTypeFields] = []
            if hasHandleTypes {
                for _ in 0..<handleTypeCount {
                    handleTypes.append(.init(name: try reader.string(), destroy: nil))
                    _ = try reader.u32()
                }
            }
            let exportCount = try reader.count(limit: 65535, wide: true)
            let hasExports = try reader.u32() != 0
            var exports: [DescriptorFields.ExportFields] = []
            if hasExports {
                for _ in 0..<exportCount {
                    let name = try reader.string(), signature = try reader.string()
                    let hasFunction = try reader.u32() != 0
                    let flags = try reader.u32()
                    let doc = try reader.string()
                    exports.append(.init(name: name, signature: signature,
                                         function: hasFunction ? IsolatedPlugin.remoteFunction : nil, flags: flags, doc: doc))
                }
            }
            let hasInit = try reader.u32() != 0
            let structTypeCount = try reader.count(limit: 65535, wide: true)
            let hasStructTypes = try reader.u32() != 0
            var structTypes: [(name: String?, fields: String?)] = []
            if hasStructTypes {
                for _ in 0..<structTypeCount { structTypes.append((try reader.string(), try reader.string())) }
            }
            guard reader.at == bytes.count else { throw Malformed("\(bytes.count - reader.at) bytes after the descriptor") }
            var fields = DescriptorFields(
                name: name, version: version, description: description, capabilities: capabilities,
                handleTypeCount: handleTypeCount, hasHandleTypes: hasHandleTypes, handleType: { handleTypes[$0] },
                exportCount: exportCount, hasExports: hasExports, export: { exports[$0] },
                initHook: hasInit ? IsolatedPlugin.remoteInit : nil)
            fields.structTypeCount = structTypeCount
            fields.hasStructTypes = hasStructTypes
            fields.structType = { structTypes[$0] }
            return .success((abi, size, fields))
        } catch let error as Malformed {
            return .failure(IsolationError(error.reason))
        } catch {
            return .failure(IsolationError("\(error)"))
        }
    }

    struct Malformed: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    struct Reader {
        let bytes: [UInt8]
        var at = 0

        mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, n <= bytes.count - at else { throw Malformed("truncated at byte \(at)") }
            defer { at += n }
            return bytes[at..<at + n]
        }

        mutating func u32() throws -> UInt32 {
            try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
        }

        mutating func u64() throws -> UInt64 {
            try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }

        /// A count, refused above `limit` (u64 when `wide`).
        mutating func count(limit: Int, wide: Bool = false) throws -> Int {
            let n = wide ? try u64() : UInt64(try u32())
            guard n <= UInt64(limit) else { throw Malformed("a count of \(n)") }
            return Int(n)
        }

        mutating func string() throws -> String? {
            let n = try u32()
            if n == 0xFFFF_FFFF { return nil }
            return String(decoding: try take(Int(n)), as: UTF8.self)
        }
    }
}
