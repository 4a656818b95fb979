import CapsuleSyntax
/// A host power a script or a plugin may be granted: Capsule runs code with no ambient
/// authority, and every use of a host service names the capability it needs (see
/// docs/security.md).
///
/// A capability is a kind and, for most kinds, a resource. As a *grant*, a nil resource
/// means every resource of the kind (`--allow-read` with no value); as a *request* (what one
/// operation needs) the resource names the one thing used. Pure data: matching is textual,
/// and the host does the enforcing (path confinement, the audit log).
///
/// Written forms (`Capability.parse`, `description`):
///
/// | text | grants |
/// |---|---|
/// | `fs.read:PATH`, `fs.write:PATH` | the file PATH, or everything under the directory PATH |
/// | `net.connect:HOST[:PORT]` | connecting to HOST (on any port, or PORT) |
/// | `net.listen:[HOST:]PORT` | listening on PORT (on any address, or HOST) |
/// | `env:NAME` | the environment variable NAME; `*` in NAME matches any run of characters |
/// | `run:PROGRAM` | running PROGRAM: a bare name (found on PATH) or an absolute path, matched exactly |
/// | `ffi:LIBRARY[:SYM,…]` | raw FFI on LIBRARY (as given to `ffi.open`), all or only the SYMs |
/// | `clock`, `random` | the wall clock and sleeping; randomness |
/// | `KIND` alone | every resource of KIND (`fs.read`, `env`, `ffi`, …) |
public struct Capability: Hashable, Sendable, CustomStringConvertible {
    /// The kinds of capability.
    public enum Kind: String, CaseIterable, Sendable {
        case fsRead = "fs.read"
        case fsWrite = "fs.write"
        case netConnect = "net.connect"
        case netListen = "net.listen"
        case env
        case run
        case ffi
        case clock
        case random

        /// The command-line flag that grants this kind.
        public var flag: String {
            switch self {
            case .fsRead: "--allow-read"
            case .fsWrite: "--allow-write"
            case .netConnect, .netListen: "--allow-net"
            case .env: "--allow-env"
            case .run: "--allow-run"
            case .ffi: "--allow-ffi"
            case .clock: "--allow-clock"
            case .random: "--allow-random"
            }
        }

        /// Whether capabilities of this kind carry a resource.
        public var hasResource: Bool { self != .clock && self != .random }

        /// Whether the resource is a filesystem path.
        public var isFileSystem: Bool { self == .fsRead || self == .fsWrite }

        /// Whether a plugin declaring this kind runs isolated unless it is trusted: every
        /// kind but `clock` and `random`, which reach no file, socket, variable, program or
        /// library (docs/security.md#which-plugins-run-isolated).
        public var isolatesByDefault: Bool { self != .clock && self != .random }
    }

    /// The kind.
    public var kind: Kind
    /// The resource: an absolute path for fs kinds, `HOST[:PORT]`, `[HOST:]PORT`, an
    /// environment name or pattern, a program, `LIBRARY[:SYM,…]`. Nil: every resource.
    public var resource: String?

    /// A capability of `kind` on `resource` (nil: all of them). fs paths must already be
    /// absolute; use `parse` to resolve relative ones.
    public init(_ kind: Kind, _ resource: String? = nil) {
        self.kind = kind
        self.resource = kind.hasResource ? resource : nil
    }

    /// `KIND:RESOURCE`, or `KIND` when the resource is nil.
    public var description: String { resource.map { "\(kind.rawValue):\($0)" } ?? kind.rawValue }

    /// Parses a written capability (see the table above). Relative fs paths are resolved
    /// against `baseDirectory` (the current directory for flags, the manifest's directory
    /// in a manifest); `.` and empty components are dropped and `..` is applied textually.
    /// The one validator of written grants: the command-line flags and the manifest both
    /// come here, so `KIND:` with an empty resource, control characters and malformed
    /// resources are refused the same way in both.
    public static func parse(_ text: String, baseDirectory: String) -> Result<Capability, CapabilityError> {
        let (kindText, resource): (Substring, Substring?) = {
            guard let colon = text.firstIndex(of: ":") else { return (text[...], nil) }
            return (text[..<colon], text[text.index(after: colon)...])
        }()
        guard let kind = Kind(rawValue: String(kindText)) else {
            let known = Kind.allCases.map(\.rawValue).joined(separator: ", ")
            return .failure(CapabilityError("unknown capability kind '\(sanitized(String(kindText)))' (known: \(known))"))
        }
        guard let resource else { return .success(Capability(kind)) }
        if resource.isEmpty {
            // `fs.read:` is not `fs.read`: an empty resource is a mistake (an unset variable
            // in `--allow-read=$DIR`), never every resource (write the bare kind for that).
            return .failure(CapabilityError("capability \(kind.rawValue): the resource is empty (to grant every resource, give the kind alone)"))
        }
        if !kind.hasResource {
            return .failure(CapabilityError("capability \(kind.rawValue) takes no resource (write just '\(kind.rawValue)')"))
        }
        let value = String(resource)
        if value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) {
            return .failure(CapabilityError("capability \(kind.rawValue): the resource contains a control character"))
        }
        switch kind {
        case .fsRead, .fsWrite:
            return .success(Capability(kind, normalizedPath(value, relativeTo: baseDirectory, applyingParent: true)))
        case .netConnect:
            guard let (host, port) = splitHostPort(value, portRequired: false), !host.isEmpty else {
                return .failure(CapabilityError("net.connect: expected HOST or HOST:PORT, got '\(value)'"))
            }
            let shownHost = host.contains(":") ? "[\(host)]" : host
            return .success(Capability(kind, port.map { "\(shownHost):\($0)" } ?? shownHost))
        case .netListen:
            if let port = UInt16(value) { return .success(Capability(kind, String(port))) }
            guard let (host, port) = splitHostPort(value, portRequired: true), let port else {
                return .failure(CapabilityError("net.listen: expected PORT or HOST:PORT, got '\(value)'"))
            }
            return .success(Capability(kind, host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"))
        case .ffi:
            let (library, symbols) = splitLibrary(value)
            if let symbols, symbols.isEmpty || symbols.contains(where: \.isEmpty) {
                return .failure(CapabilityError("ffi: expected LIBRARY or LIBRARY:SYMBOL,SYMBOL…, got '\(value)'"))
            }
            return .success(Capability(kind, symbols.map { "\(library):\($0.joined(separator: ","))" } ?? library))
        case .run where value.contains("/"):
            // A path: made absolute like fs grants; a bare name stays a name (PATH lookup).
            return .success(Capability(kind, normalizedPath(value, relativeTo: baseDirectory, applyingParent: true)))
        case .env, .run, .clock, .random:
            return .success(Capability(kind, value))
        }
    }

    /// True when this capability, as a grant, allows `request` (a capability of the same
    /// kind naming one resource).
    public func covers(_ request: Capability) -> Bool {
        guard kind == request.kind else { return false }
        guard let granted = resource else { return true }
        guard let wanted = request.resource else { return false }
        switch kind {
        case .fsRead, .fsWrite:
            return Capability.path(wanted, isWithin: granted)
        case .env:
            return Capability.glob(granted, matches: wanted)
        case .run:
            return granted == wanted
        case .netConnect:
            guard let g = Capability.splitHostPort(granted, portRequired: false),
                  let w = Capability.splitHostPort(wanted, portRequired: false) else { return false }
            return g.host.lowercased() == w.host.lowercased() && (g.port == nil || g.port == w.port)
        case .netListen:
            guard let g = Capability.listenParts(granted), let w = Capability.listenParts(wanted),
                  g.port == w.port else { return false }
            return g.host == nil || g.host?.lowercased() == w.host?.lowercased()
        case .ffi:
            let g = Capability.splitLibrary(granted), w = Capability.splitLibrary(wanted)
            guard g.library == w.library else { return false }
            guard let grantedSymbols = g.symbols else { return true }
            // A grant of some symbols allows opening the library and binding those symbols.
            guard let wantedSymbols = w.symbols else { return true }
            return wantedSymbols.allSatisfy(grantedSymbols.contains)
        case .clock, .random:
            return true
        }
    }

    // MARK: helpers (pure text)

    /// `path` made absolute against `base`, with empty and `.` components dropped. With
    /// `applyingParent`, `..` removes the previous component (for grants, which are
    /// trusted); otherwise `..` is kept for the confinement to resolve (for requests).
    public static func normalizedPath(_ path: String, relativeTo base: String, applyingParent: Bool) -> String {
        let full = path.hasPrefix("/") ? path : base + "/" + path
        var parts: [Substring] = []
        for part in full.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == "..", applyingParent { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// True when normalized absolute `path` is `root` or below it (component-wise).
    public static func path(_ path: String, isWithin root: String) -> Bool {
        if root == "/" || path == root { return true }
        return path.hasPrefix(root) && path.utf8.dropFirst(root.utf8.count).first == UInt8(ascii: "/")
    }

    /// `*` matches any run of characters; everything else matches itself.
    static func glob(_ pattern: String, matches text: String) -> Bool {
        let p = Array(pattern.utf8), t = Array(text.utf8)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count, p[pi] != UInt8(ascii: "*"), p[pi] == t[ti] { pi += 1; ti += 1 }
            else if pi < p.count, p[pi] == UInt8(ascii: "*") { star = pi; mark = ti; pi += 1 }
            else if star >= 0 { pi = star + 1; mark += 1; ti = mark }
            else { return false }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }

    /// `HOST`, `HOST:PORT` or `[V6]:PORT` split; nil when the port is not a number.
    package static func splitHostPort(_ text: String, portRequired: Bool) -> (host: String, port: UInt16?)? {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return portRequired ? nil : (host, nil) }
            guard rest.first == ":", let port = UInt16(rest.dropFirst()) else { return nil }
            return (host, port)
        }
        guard let colon = text.lastIndex(of: ":") else {
            if portRequired { return nil }
            return (text, nil)
        }
        guard let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        return (String(text[..<colon]), port)
    }

    /// `PORT` (any address: host nil) or `HOST:PORT`.
    package static func listenParts(_ text: String) -> (host: String?, port: UInt16)? {
        if let port = UInt16(text) { return (nil, port) }
        guard let (host, port) = splitHostPort(text, portRequired: true), let port else { return nil }
        return (host, port)
    }

    /// `LIBRARY[:SYM,…]`: the symbols follow the last `:` after the last `/`.
    static func splitLibrary(_ text: String) -> (library: String, symbols: [String]?) {
        let tail = text.lastIndex(of: "/").map { text[text.index(after: $0)...] } ?? text[...]
        guard let colon = tail.lastIndex(of: ":") else { return (text, nil) }
        let symbols = text[text.index(after: colon)...].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        return (String(text[..<colon]), symbols)
    }

    /// `text` safe to echo: control characters (C0, DEL, C1) and bidirectional formatting
    /// characters become `?` (`TerminalText.safe`, the one mechanism).
    public static func sanitized(_ text: String) -> String {
        TerminalText.safe(text)
    }
}

/// Why a written capability could not be parsed.
public struct CapabilityError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The message, without position.
    public var message: String
    /// Creates the error.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}
