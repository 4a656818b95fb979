#if canImport(Glibc)
import Glibc
#endif
import CapsuleCore

/// The arguments of `proc.run(program, args, options)`, read and checked before anything is
/// granted or started: every string copied out of the heap, every bad value a clear error.
package struct ProcRequest {
    var program = ""
    var arguments: [String] = []
    /// Variables given explicitly (`env`), in the order given.
    var environment: [(String, String)] = []
    /// `inherit_env`: nil (none), every granted variable (`true`), or these names.
    enum Inherit { case granted, names([String]) }
    var inherit: Inherit? = nil
    /// `cwd`, as given.
    var directory: UnsafeBufferPointer<UInt8>? = nil
    var input: [UInt8]? = nil
    /// `inherit_stdin`: the child reads the host's own standard input.
    var inheritStdin = false
    var asBytes = false
    /// `timeout` in seconds.
    var timeout: Double? = nil
    var outputLimit = ProcRequest.defaultOutputLimit

    /// The default `max_output`: 16 MiB for each of stdout and stderr.
    package static let defaultOutputLimit = 16 << 20
    static let maxOutputLimit = 1 << 30
    static let options = ["env", "inherit_env", "cwd", "input", "inherit_stdin", "bytes", "timeout", "max_output"]

    /// Reads the call's arguments; nil after raising.
    static func read(_ call: NativeCall) -> ProcRequest? {
        var r = ProcRequest()
        func fail(_ message: String) -> ProcRequest? { _ = call.raise("proc.run: " + message); return nil }
        guard call.count >= 1 && call.count <= 3 else {
            return fail("expected 1 to 3 arguments (program, args, options), got \(call.count)")
        }
        guard let program = call.string(0) else { return fail("argument 1: expected a program (str), got \(call.typeName(0))") }
        guard let text = plainString(program), !text.isEmpty else {
            return fail("argument 1: the program must be a non-empty string without NUL bytes")
        }
        r.program = text
        if call.count >= 2 && !call.isNil(1) {
            let list = call.value(1)
            guard call.kind(of: list) == .list, let n = call.lengthOf(list) else {
                return fail("argument 2: expected a list of str arguments, got \(call.typeName(1))")
            }
            for i in 0..<n {
                guard let item = call.item(of: list, at: i), let bytes = call.stringOf(item) else {
                    return fail("argument 2: item \(i): expected a str, got \(call.item(of: list, at: i).map(call.typeName(of:)) ?? "nothing")")
                }
                guard let arg = plainString(bytes) else { return fail("argument 2: item \(i): the str has a NUL byte") }
                r.arguments.append(arg)
            }
        }
        guard call.count == 3 && !call.isNil(2) else { return r }
        guard let entries = call.mapEntries(2) else { return fail("argument 3: expected a map of options, got \(call.typeName(2))") }
        for (key, value) in entries {
            guard let key, options.contains(key) else {
                let shown = key.map { "'\(Capability.sanitized($0))'" } ?? "of type \(call.typeName(of: value)) as a key"
                return fail("unknown option \(shown) (known: \(options.joined(separator: ", ")))")
            }
            let got = ", got \(call.typeName(of: value))"
            let problem: String?
            switch key {
            case "env": problem = r.readEnvironment(call, value)
            case "inherit_env": problem = r.readInherit(call, value)
            case "cwd":
                if let s = call.stringOf(value) { r.directory = s; problem = nil } else { problem = "expected a directory (str)" + got }
            case "input":
                if let s = call.stringOf(value) { r.input = Array(s); problem = nil }
                else if let b = call.bytesOf(value) { r.input = Array(b); problem = nil }
                else { problem = "expected str or bytes" + got }
            case "inherit_stdin":
                if let b = call.boolOf(value) { r.inheritStdin = b; problem = nil } else { problem = "expected a bool" + got }
            case "bytes":
                if let b = call.boolOf(value) { r.asBytes = b; problem = nil } else { problem = "expected a bool" + got }
            case "timeout":
                if let s = call.doubleOf(value), s > 0, s <= 1e7 { r.timeout = s; problem = nil }
                else { problem = "expected a number of seconds > 0 (at most 1e7)" + got }
            default: // max_output
                if let n = call.intOf(value), n > 0, n <= maxOutputLimit { r.outputLimit = Int(n); problem = nil }
                else { problem = "expected a positive int of bytes (at most 2^30)" + got }
            }
            if let problem { return fail("option '\(key)': \(problem)") }
        }
        if r.inheritStdin && r.input != nil {
            return fail("options 'input' and 'inherit_stdin' cannot both be given (the child has one stdin)")
        }
        return r
    }

    private mutating func readEnvironment(_ call: NativeCall, _ map: Value) -> String? {
        guard call.kind(of: map) == .map else { return "expected a map of str to str, got \(call.typeName(of: map))" }
        var cursor = 0
        while let e = call.entry(of: map, from: cursor) {
            cursor = e.next
            guard let k = call.stringOf(e.key), let name = Self.plainString(k), Self.isVariableName(name) else {
                let shown = call.stringOf(e.key).map { "'\(Capability.sanitized(String(decoding: $0, as: UTF8.self)))'" } ?? call.typeName(of: e.key)
                return "\(shown) is not a variable name (a non-empty str without '=' or NUL)"
            }
            guard let v = call.stringOf(e.value), let text = Self.plainString(v) else {
                return "the value of \(Capability.sanitized(name)) must be a str without NUL bytes, got \(call.typeName(of: e.value))"
            }
            environment.append((name, text))
        }
        return nil
    }

    private mutating func readInherit(_ call: NativeCall, _ value: Value) -> String? {
        if let b = call.boolOf(value) { inherit = b ? .granted : nil; return nil }
        guard call.kind(of: value) == .list, let n = call.lengthOf(value) else {
            return "expected true or a list of variable names, got \(call.typeName(of: value))"
        }
        var names: [String] = []
        for i in 0..<n {
            guard let item = call.item(of: value, at: i), let s = call.stringOf(item), let name = Self.plainString(s),
                  Self.isVariableName(name) else { return "item \(i) is not a variable name (a non-empty str without '=' or NUL)" }
            names.append(name)
        }
        inherit = .names(names)
        return nil
    }

    /// The text of `bytes` when it has no NUL byte.
    static func plainString(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        bytes.contains(0) ? nil : String(decoding: bytes, as: UTF8.self)
    }

    package static func isVariableName(_ name: String) -> Bool { !name.isEmpty && !name.utf8.contains(UInt8(ascii: "=")) }
}
