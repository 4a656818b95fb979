// libFuzzer harness that calls every built-in function and every method of strings, lists,
// maps and bytes (and the `math` module's functions) with extreme arguments chosen by the
// input's bytes: 0, -1, ±2^63, ±2^47, ±inf, NaN, 1e300, huge and non-ASCII strings, nested
// lists, maps, bytes, functions. Each call runs inside `try`, so errors are fine; what
// counts as a bug is a trap, a sanitizer report, or memory past the heap limit (libFuzzer's
// RSS limit). The VM runs with an instruction budget, a timeout and a 64 MiB heap limit, so
// every input ends. Host modules (fs, env, time, random, proc, net) are swept by
// `HostModuleSweepTests` in the test suite instead (they live in CapsuleSystem, which this
// build does not compile).
import CapsuleCore
import CapsuleSyntax

/// Argument expressions, picked by one input byte each.
let extremeArguments: [String] = [
    "0", "-1", "1", "2", "255", "256",
    "9223372036854775807", "(-9223372036854775807 - 1)", "140737488355328", "(-140737488355328)",
    "140737488355327", "(-140737488355329)", "4294967296", "2147483648",
    "(1.0 / 0.0)", "(-1.0 / 0.0)", "(0.0 / 0.0)", "1e300", "(-1e300)", "0.5", "(-0.0)", "1e18", "9.3e18", "(-9.3e18)",
    "\"\"", "\"a\"", "\"é☃\"", "\"abc,def\"", "\"%d %s {} {0}\"", "\"\\u{0}\"",
    "BIG", "WIDE", "\"9223372036854775808\"", "\"-1e300\"", "\"nan\"",
    "[]", "[1, 2, 3]", "[[[[]]]]", "LONG", "[\"b\", \"a\"]", "[1, \"a\", nil]",
    "{}", "{\"a\": 1, 2: [3]}", "bytes(0)", "bytes(16)",
    "nil", "true", "false", "fn(a, b) { return a }", "fn() { throw \"x\" }", "fn(a) { return a }",
]

/// Receivers for methods, by type.
let receivers: [String: [String]] = [
    "string": ["\"\"", "\"hello, world\"", "\"é☃x\"", "BIG", "WIDE"],
    "list": ["[]", "[3, 1, 2]", "LONG", "[\"b\", \"a\", \"c\"]", "[1, \"a\", nil, [2]]"],
    "map": ["{}", "{\"a\": 1, 2: [3]}", "BIGMAP"],
    "bytes": ["bytes(0)", "bytes(16)", "BIGBYTES"],
]

/// Built once: the names the VM offers (a fresh VM has the same ones every time).
nonisolated(unsafe) var callables: [(receiverType: String?, name: String)] = []
// NOTE: libFuzzer calls the harness from one thread; this is filled on the first call.

let prelude = """
let BIG = "x" * 100000
let WIDE = "é" * 20000
let LONG = range(10000)
let BIGBYTES = bytes(10000)
let BIGMAP = {}
for i in 0..100 { BIGMAP[i] = i }
import "math"

"""

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBuiltins(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var configuration = Configuration()
    configuration.maxCallDepth = 200
    configuration.maxNativeDepth = 20
    configuration.maxInstructions = 2_000_000
    configuration.timeout = .seconds(5)
    configuration.maxHeapBytes = 64 << 20
    configuration.threadStackSize = 64 << 20
    configuration.modulePaths = []
    configuration.output = { _ in }
    let vm = VM(configuration: configuration)
    if callables.isEmpty {
        callables = vm.builtinFunctionNames.map { (nil, $0) }
        for (type, names) in vm.builtinMethodNames { callables += names.map { (type, $0) } }
        for name in ["sqrt", "floor", "ceil", "abs", "sin", "cos", "log", "exp", "pow", "min", "max", "round", "atan2"] {
            callables.append(("math", name))
        }
    }
    var bytes = UnsafeBufferPointer(start: data, count: size)[...]
    func next() -> Int? { bytes.popFirst().map(Int.init) }
    var script = prelude
    var calls = 0
    while calls < 8, let hi = next(), let lo = next(), let argc = next() {
        let callable = callables[(hi << 8 | lo) % callables.count]
        var args: [String] = []
        for _ in 0..<(argc % 5) { args.append(extremeArguments[(next() ?? 0) % extremeArguments.count]) }
        let target: String
        switch callable.receiverType {
        case nil: target = callable.name
        case "math"?: target = "math." + callable.name
        case let type?:
            let options = receivers[type] ?? ["nil"]
            target = "(\(options[(next() ?? 0) % options.count])).\(callable.name)"
        }
        script += "try { let r = \(target)(\(args.joined(separator: ", "))); str(r) } catch e { str(e) }\n"
        calls += 1
    }
    let outcome = vm.run(source: script, name: "builtins-fuzz.cap")
    switch outcome {
    case .ok, .runtimeError, .exited: break
    case .compileError(let report): preconditionFailure("the harness wrote a script that does not compile:\n\(script)\n\(report)")
    case .ioError(let message): preconditionFailure("I/O error from a source string: \(message)")
    }
    return 0
}
