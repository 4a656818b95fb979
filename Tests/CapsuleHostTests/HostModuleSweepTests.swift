@testable import CapsuleHost
import CapsuleCore
import Foundation
import Testing

/// Every function of the host modules (fs, env, time, random, proc, net) called with
/// extreme arguments: 0, -1, ±2^63, ±2^47, ±inf, NaN, 1e300, a huge string, lists, maps,
/// bytes, nil, and handles of the wrong kind. Each call runs in a fresh VM with a 64 MiB heap
/// limit and a 300 ms timeout; it may fail with any catchable error or the timeout, but
/// never trap (a trap ends the test process) or pass the heap limit. The core's built-in
/// functions and methods get the same treatment from fuzz/BuiltinsFuzz.swift.
@Suite struct HostModuleSweepTests {
    static let extremes = [
        "0", "-1", "1", "65535", "65536", "9223372036854775807", "(-9223372036854775807 - 1)",
        "140737488355328", "(-140737488355328)", "(1.0 / 0.0)", "(-1.0 / 0.0)", "(0.0 / 0.0)", "1e300", "(-1e300)", "0.5",
        "\"\"", "BIG", "D", "D + \"/f.txt\"", "D + \"/missing\"", "\"127.0.0.1\"", "\"/bin/true\"", "\"X\"", "\"\\u{0}\"",
        "[]", "[1, \"a\", nil]", "[BIG]", "{}", "{\"timeout\": 1e300, \"max_output\": -1, \"cwd\": 0, \"env\": {\"A\": BIG}}",
        "bytes(4)", "nil", "true", "F", "S", "fn() { return 1 }",
    ]

    @Test func everyHostModuleFunctionSurvivesExtremeArguments() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-sweep-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "hello\nworld\n".write(toFile: dir + "/f.txt", atomically: true, encoding: .utf8)
        let policy = Policy(grants: [
            Capability(.fsRead, dir), Capability(.fsWrite, dir), Capability(.run, "/bin/true"),
            Capability(.netConnect, "127.0.0.1"), Capability(.netListen, "127.0.0.1:0"), Capability(.env, "X"),
            Capability(.clock), Capability(.random),
        ])
        let modules = ["fs", "env", "time", "random", "proc", "net"]
        var functions: [(module: String, name: String, arity: Int)] = []
        let probe = PluginHost(environment: [:])
        for module in modules {
            guard case .found(let definition) = probe.resolve(module, directory: nil) else {
                Issue.record("no module \(module)")
                continue
            }
            functions += definition.functions.map { (module, $0.name, $0.arity) }
        }
        #expect(functions.count > 30)
        var calls = 0
        for f in functions {
            for arguments in Self.argumentLists(arity: f.arity) {
                let call = "\(f.module).\(f.name)(\(arguments.joined(separator: ", ")))"
                let outcome = Self.run(call, module: f.module, dir: dir, policy: policy)
                switch outcome {
                case .ok, .runtimeError, .exited: break
                case .compileError(let d): Issue.record("\(call) did not compile: \(d)")
                case .ioError(let m): Issue.record("\(call): \(m)")
                case .exited(let code): Issue.record("\(call) ended the run with exit(\(code))")
                }
                if case .runtimeError(let report) = outcome, !report.hasPrefix("error: timeout of 300ms exceeded") {
                    Issue.record("\(call) raised past try: \(report)")
                }
                calls += 1
            }
        }
        #expect(calls > 800)
    }

    /// The argument lists for a function of `arity` (-1: any): every extreme alone in each
    /// of the first two positions, the others a plain value.
    static func argumentLists(arity: Int) -> [[String]] {
        let counts = arity < 0 ? [0, 1, 2, 3] : [arity]
        var lists: [[String]] = []
        for n in counts {
            if n == 0 { lists.append([]); continue }
            for position in 0..<min(n, 2) {
                for v in extremes {
                    var list = Array(repeating: "1", count: n)
                    if position > 0 { list[0] = "F" }
                    list[position] = v
                    lists.append(list)
                }
            }
        }
        return lists
    }

    static func run(_ call: String, module: String, dir: String, policy: Policy) -> RunOutcome {
        // Earlier calls may have removed or rewritten the file (or the directory).
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try? "hello\nworld\n".write(toFile: dir + "/f.txt", atomically: true, encoding: .utf8)
        var configuration = Configuration()
        configuration.policy = policy
        configuration.timeout = .milliseconds(300)
        configuration.maxHeapBytes = 64 << 20
        configuration.maxInstructions = 10_000_000
        configuration.output = { _ in }
        let vm = VM(configuration: configuration)
        PluginHost(environment: ["X": "x"]).install(on: vm)
        let source = """
            import "fs"
            import "net"
            \(module == "fs" || module == "net" ? "" : "import \"\(module)\"")
            let D = "\(dir)"
            let BIG = "x" * 300000
            let F = fs.open(D + "/f.txt", "r")
            let S = net.listen("127.0.0.1", 0)
            net.set_timeout(S, 0.01)
            try { \(call) } catch e { }
            """
        return vm.run(source: source, name: "sweep.cap")
    }
}
