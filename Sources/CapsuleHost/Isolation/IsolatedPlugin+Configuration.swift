#if canImport(Glibc)
import Glibc
#endif
import CapsuleIsolation

/// What the host writes for a worker before it starts (its configuration: limits, network
/// flags, Landlock path and port rules) and before its init (one call plan per export).
extension IsolatedPlugin {
    /// The dynamic loader's cache, readable while the worker loads (a library whose DT_NEEDED
    /// is not the SONAME of one already loaded is looked up there).
    static let loaderCache = "/etc/ld.so.cache"

    /// Writes the worker's configuration (capsule_iso_config) and its strings. `loadPaths`
    /// are the libraries the worker loads before the plugin (`PluginLibraries`).
    static func configure(_ shared: UnsafeMutablePointer<capsule_iso_shared>, data: UnsafeMutableRawPointer, size: Int,
                                  copyPath: String, settings: IsolationSettings, loadPaths: [String]) -> Bool {
        var used = 0
        func put(_ text: String) -> (UInt32, UInt32)? {
            let bytes = Array(text.utf8)
            guard bytes.count < 4096, used + bytes.count + 1 <= size else { return nil }
            bytes.withUnsafeBytes { (data + used).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            (data + used + bytes.count).storeBytes(of: 0, as: UInt8.self)
            defer { used += bytes.count + 1 }
            return (UInt32(used), UInt32(bytes.count))
        }
        guard let plugin = put(copyPath) else { return false }
        var config = shared.pointee.config
        config.plugin_path_offset = plugin.0
        config.plugin_path_length = plugin.1
        config.memory_limit = UInt64(settings.memoryLimit)
        config.open_files_limit = UInt64(settings.openFilesLimit)
        config.file_size_limit = UInt64(settings.fileSizeLimit)
        config.net_flags = (settings.allowsSockets ? UInt32(CAPSULE_ISO_NET_SOCKETS) : 0)
            | (settings.connectPorts == .any ? UInt32(CAPSULE_ISO_NET_ANY_CONNECT) : 0)
            | (settings.bindPorts == .any ? UInt32(CAPSULE_ISO_NET_ANY_BIND) : 0)

        // Granted paths (a path both readable and writable is one rule), then load paths.
        var granted: [(String, UInt32)] = []
        for p in settings.readablePaths { granted.append((p, UInt32(CAPSULE_ISO_READ))) }
        for p in settings.writablePaths {
            if let i = granted.firstIndex(where: { $0.0 == p }) { granted[i].1 |= UInt32(CAPSULE_ISO_WRITE) } else { granted.append((p, UInt32(CAPSULE_ISO_WRITE))) }
        }
        // Load paths: the libraries to load before the plugin, the loader's cache, the copy.
        let all = granted + loadPaths.map { ($0, UInt32(CAPSULE_ISO_READ | CAPSULE_ISO_LOAD)) }
            + [(loaderCache, UInt32(CAPSULE_ISO_READ)), (copyPath, UInt32(CAPSULE_ISO_READ))]
        guard all.count <= Int(CAPSULE_ISO_MAX_PATHS) else { return false }
        var rules: [capsule_iso_path_rule] = []
        for (p, access) in all {
            guard let (offset, length) = put(p) else { return false }
            rules.append(capsule_iso_path_rule(access: access, offset: offset, length: length, reserved: 0))
        }
        config.path_count = UInt32(granted.count)
        config.load_path_count = UInt32(all.count - granted.count)

        var ports: [UInt16: (connect: Bool, bind: Bool)] = [:]
        if case .only(let list) = settings.connectPorts { for p in list { ports[p, default: (false, false)].connect = true } }
        if case .only(let list) = settings.bindPorts { for p in list { ports[p, default: (false, false)].bind = true } }
        guard ports.count <= Int(CAPSULE_ISO_MAX_PORTS) else { return false }
        config.port_count = UInt32(ports.count)
        shared.pointee.config = config
        let configOffset = MemoryLayout<capsule_iso_shared>.offset(of: \.config)!
        let base = UnsafeMutableRawPointer(shared) + configOffset
        let pathsAt = base + MemoryLayout<capsule_iso_config>.offset(of: \.paths)!
        for (i, rule) in rules.enumerated() { (pathsAt + i * MemoryLayout<capsule_iso_path_rule>.stride).storeBytes(of: rule, as: capsule_iso_path_rule.self) }
        let portsAt = base + MemoryLayout<capsule_iso_config>.offset(of: \.ports)!
        for (i, (port, access)) in ports.sorted(by: { $0.key < $1.key }).enumerated() {
            let rule = capsule_iso_port_rule(port: port, connect: access.connect ? 1 : 0, bind: access.bind ? 1 : 0, reserved: 0)
            (portsAt + i * MemoryLayout<capsule_iso_port_rule>.stride).storeBytes(of: rule, as: capsule_iso_port_rule.self)
        }
        return true
    }

    /// The INIT payload: per export a capsule_iso_plan_header, then its parameters.
    static func plans(_ manifest: PluginManifest) -> [UInt8] {
        var bytes: [UInt8] = []
        func handleIndex(_ t: ValueType) -> UInt16 {
            if case .handle(let n) = t { return UInt16(manifest.handleTypes.firstIndex { $0.name == n } ?? 0) }
            return 0
        }
        func append<T>(_ value: T) { withUnsafeBytes(of: value) { bytes += $0 } }
        for e in manifest.exports {
            let s = e.signature
            append(capsule_iso_plan_header(parameter_count: UInt8(s.parameters.count), result_kind: s.result.kind.rawValue,
                                           result_handle_type: handleIndex(s.result), flags: e.flags))
            for p in s.parameters {
                append(capsule_iso_plan_parameter(kind: p.type.kind.rawValue, is_out: p.isOut ? 1 : 0, handle_type: handleIndex(p.type)))
            }
        }
        return bytes
    }
}
