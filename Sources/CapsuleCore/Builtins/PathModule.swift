#if canImport(Glibc)
import Glibc
#endif

/// `import "path"`: POSIX path strings, worked on as text. No function touches the file system
/// (`absolute` and `relative` read the current directory), so none needs a grant.
extension Runtime {
    func makePathModule() -> Value {
        let m = newModule(name: "path", sourceName: "<path>", directory: nil)
        pushRoot(Value(m))
        defer { popRoot() }
        func define(_ name: String, arity: Int, _ body: @escaping NativeBody) {
            setModuleVariable(m, name, newNative(name: name, arity: arity, body))
        }
        /// A one-argument function from string to string.
        func unary(_ name: String, _ f: @escaping (String) -> String) {
            define(name, arity: 1) { rt, a, _ in
                guard let s = rt.expectString(a[0], "path") else { return Runtime.failure }
                return Value(rt.makeString(f(s.string)))
            }
        }
        define("join", arity: -1) { rt, a, argc in
            guard argc >= 1 else { return rt.fail("join expects at least 1 argument, got 0") }
            var parts: [String] = []
            for j in 0..<argc {
                guard let s = rt.expectString(a[j], "path") else { return Runtime.failure }
                parts.append(s.string)
            }
            return Value(rt.makeString(PathText.join(parts)))
        }
        unary("dirname", PathText.dirname)
        unary("basename", PathText.basename)
        unary("extension", PathText.extensionOf)
        unary("normalize", PathText.normalize)
        unary("normalise", PathText.normalize)
        unary("absolute") { PathText.absolute($0, cwd: PathText.currentDirectory()) }
        define("relative", arity: 2) { rt, a, _ in
            guard let from = rt.expectString(a[0], "path"), let to = rt.expectString(a[1], "path") else { return Runtime.failure }
            let cwd = PathText.currentDirectory()
            return Value(rt.makeString(PathText.relative(from: from.string, to: to.string, cwd: cwd)))
        }
        return Value(m)
    }
}

/// The text operations behind the `path` module.
enum PathText {
    /// The parts joined with `/`; an absolute part discards everything before it; empty
    /// parts are skipped.
    static func join(_ parts: [String]) -> String {
        var out = ""
        for p in parts where !p.isEmpty {
            if p.hasPrefix("/") || out.isEmpty { out = p } else if out.hasSuffix("/") { out += p } else { out += "/" + p }
        }
        return out
    }

    /// The path without trailing slashes (but `/` stays `/`).
    static func trimmed(_ p: String) -> Substring {
        var s = Substring(p)
        while s.count > 1 && s.hasSuffix("/") { s = s.dropLast() }
        return s
    }

    /// Everything before the last component: `a/b` → `a`, `a` → `.`, `/a` → `/`.
    static func dirname(_ p: String) -> String {
        let s = trimmed(p)
        if s.isEmpty { return "." }
        if s == "/" { return "/" }
        guard let slash = s.lastIndex(of: "/") else { return "." }
        var head = s[..<slash]
        while head.count > 1 && head.hasSuffix("/") { head = head.dropLast() }
        return head.isEmpty ? "/" : String(head)
    }

    /// The last component, ignoring trailing slashes: `a/b.txt` → `b.txt`, `/` → `/`.
    static func basename(_ p: String) -> String {
        let s = trimmed(p)
        if s == "/" { return "/" }
        guard let slash = s.lastIndex(of: "/") else { return String(s) }
        return String(s[s.index(after: slash)...])
    }

    /// The last component's extension with its dot (`.gz` for `a.tar.gz`), or "" when it has
    /// none; a leading dot (`.bashrc`) does not start an extension.
    static func extensionOf(_ p: String) -> String {
        let name = basename(p)
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex, name != ".." else { return "" }
        return String(name[dot...])
    }

    /// Without `.` components, repeated slashes and `x/..` pairs (text only: symbolic links
    /// are not resolved); `..` at the start of a relative path stays, and `/..` is `/`.
    static func normalize(_ p: String) -> String {
        if p.isEmpty { return "." }
        let absolute = p.hasPrefix("/")
        var out: [Substring] = []
        for part in p.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if let last = out.last, last != ".." { out.removeLast(); continue }
                if absolute { continue }
            }
            out.append(part)
        }
        let body = out.joined(separator: "/")
        if absolute { return "/" + body }
        return body.isEmpty ? "." : body
    }

    /// `p` made absolute against `cwd`, normalized.
    static func absolute(_ p: String, cwd: String) -> String {
        normalize(p.hasPrefix("/") ? p : join([cwd, p]))
    }

    /// The path that leads from directory `from` to `to` (both made absolute first).
    static func relative(from: String, to: String, cwd: String) -> String {
        let a = absolute(from, cwd: cwd).split(separator: "/"), b = absolute(to, cwd: cwd).split(separator: "/")
        var common = 0
        while common < a.count && common < b.count && a[common] == b[common] { common += 1 }
        let parts = Array(repeating: "..", count: a.count - common) + b[common...].map(String.init)
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    /// The process's current directory ("/" if it cannot be read).
    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
