@testable import CapsuleHost
import Foundation
import Synchronization
import Testing

/// A Swift counterpart of cmath's counter handle.
final class SwiftCounter: CapsuleHandle {
    /// Made and freed on VMs' threads.
    static let alive = Atomic<Int>(0)
    var value: Int64 = 0
    init() { SwiftCounter.alive.add(1, ordering: .relaxed) }
    deinit { SwiftCounter.alive.subtract(1, ordering: .relaxed) }
}

final class OtherThing: CapsuleHandle {}

/// `smath`: the Swift twin of the bundled cmath plugin (same signatures), so a script's
/// calls can be compared error message for error message.
func registerSmath(_ host: PluginHost) throws {
    try host.register(module: "smath", version: "1.2.3", description: "cmath in Swift") { m in
        try m.handleType("Counter", SwiftCounter.self)
        try m.function("add", "(i64, i64) -> i64", doc: "a + b") { (a: Int64, b: Int64) in a &+ b }
        try m.function("hypot", "(f64, f64) -> f64") { (a: Double, b: Double) in (a * a + b * b).squareRoot() }
        try m.function("strlen", "(str) -> u64") { (s: String) in s.utf8.count }
        try m.function("clamp_u8", "(i64) -> u8") { (v: Int64) in min(max(v, 0), 255) }
        try m.function("checked_div", "(i64, i64) -> i64") { (a: Int64, b: Int64) in
            guard b != 0 else { throw ScriptError("division by zero") }
            return a / b
        }
        try m.function("divmod", "(i64, i64, out i64, out i64) -> void") { (a: Int64, b: Int64, q: Out<Int64>, r: Out<Int64>) in
            guard b != 0 else { throw ScriptError("division by zero") }
            q.value = a / b
            r.value = a % b
        }
        try m.function("greeting", "() -> str") { "hello from Swift" }
        try m.function("is_even", "(i64) -> bool") { (v: Int64) in v % 2 == 0 }
        try m.function("byte_sum", "(bytes) -> u64") { (b: [UInt8]) in b.reduce(0) { $0 + Int($1) } }
        try m.function("counter_new", "() -> handle<Counter>") { SwiftCounter() }
        try m.function("counter_incr", "(handle<Counter>) -> i64") { (c: SwiftCounter) in
            c.value += 1
            return c.value
        }
        try m.function("counter_close", "(handle<Counter>) -> void", closesHandle: true) { (c: SwiftCounter) in }
        // Beyond cmath: narrow types both ways, f32, buf, bytes results, a bad result.
        try m.function("narrow", "(u8, i16, f32, out u8) -> i32") { (a: Int, b: Int, c: Double, o: Out<Int>) in
            o.value = a
            return b * 2 + Int(c)
        }
        try m.function("fill", "(buf, u8) -> void") { (b: UnsafeMutableRawBufferPointer, v: Int) in
            for i in b.indices { b[i] = UInt8(v) }
        }
        try m.function("reversed", "(bytes) -> bytes") { (b: [UInt8]) in Array(b.reversed()) }
        try m.function("too_big", "() -> u8") { 300 }
        try m.function("fails_plainly", "() -> void") { throw CocoaError(.fileNoSuchFile) }
    }
}

/// Runs `source` in a fresh VM whose host has the Swift module `smath` and searches the
/// build directory (cmath). Returns what it printed, then "ERROR: " and the first line.
func runWithSwift(_ source: String, gcStress: Bool = false, register: (PluginHost) throws -> Void = registerSmath) throws -> String {
    let capture = OutputCapture()
    var configuration = Configuration()
    configuration.gcStress = gcStress
    configuration.output = { capture.append($0) }
    let vm = VM(configuration: configuration)
    let host = PluginHost(environment: [:])
    try register(host)
    host.install(on: vm)
    let outcome = vm.run(source: source, name: "test.cap")
    if case .ok = outcome { return capture.text }
    return capture.text + "ERROR: " + firstErrorLine(outcome)
}

@Suite(.serialized) struct SwiftModuleTests {
    @Test func scriptsImportASwiftModuleLikeAPlugin() throws {
        let out = try runWithSwift("""
            import "smath"
            print(smath.add(2, 3), smath.hypot(3, 4), smath.strlen("héllo"), smath.clamp_u8(999))
            print(smath.divmod(17, 5), smath.greeting(), smath.is_even(4), smath.byte_sum("ab"))
            print(smath.narrow(200, -3, 2.5, ), smath.reversed("abc"), smath.reversed(""))
            let c = smath.counter_new()
            smath.counter_incr(c)
            print(smath.counter_incr(c), type(c))
            """)
        #expect(out == "5 5.0 6 255\n[3, 2] hello from Swift true 195\n[-4, 200] b\"cba\" b\"\"\n2 handle\n")
    }

    /// The same bad calls, to the C plugin and to its Swift twin, fail with the same
    /// messages (module name aside): both go through the one binding path.
    @Test func argumentChecksAndMessagesMatchTheCPlugin() throws {
        let calls = [
            "add(1)", "add(1, 2, 3)", #"add("1", 2)"#, "add(1.5, 2)", "add(nil, 2)",
            "clamp_u8(1.5)", #"strlen("a\0b")"#, "strlen(5)", "byte_sum(5)", "hypot(true, 1)",
            "counter_incr(5)", "counter_incr(nil)", "is_even([1])", "checked_div(1, 0)", "divmod(1, 0)",
        ]
        for call in calls {
            let c = try runWithSwift("import \"cmath\"\ncmath.\(call)")
            let s = try runWithSwift("import \"smath\"\nsmath.\(call)")
            #expect(c.hasPrefix("ERROR: "), "cmath.\(call) should fail")
            #expect(s == c.replacingOccurrences(of: "cmath", with: "smath"), "smath.\(call)")
        }
        #expect(try runWithSwift("import \"smath\"\nsmath.add(1.5, 2)")
            == "ERROR: error: smath.add: argument 1: expected i64, got float 1.5")
        #expect(try runWithSwift("import \"smath\"\nsmath.narrow(300, 1, 1, )")
            == "ERROR: error: smath.narrow: argument 1: expected u8 (0 to 255), got 300")
        #expect(try runWithSwift(#"import "smath"\#nsmath.strlen("a\0b")"#)
            == "ERROR: error: smath.strlen: argument 1: expected str, got a string with a NUL byte at index 1")
    }

    @Test func handlesAreCheckedByTypeAndReleasedWhenCollected() throws {
        let before = SwiftCounter.alive.load(ordering: .relaxed)
        let wrongType = try runWithSwift("""
            import "smath"
            import "cmath"
            smath.counter_incr(cmath.counter_new())
            """)
        #expect(wrongType == "ERROR: error: smath.counter_incr: argument 1: expected handle<smath.Counter>, got handle<cmath.Counter>")
        let foreign = try runWithSwift("""
            import "smath"
            import "cmath"
            cmath.counter_incr(smath.counter_new())
            """)
        #expect(foreign == "ERROR: error: cmath.counter_incr: argument 1: expected handle<cmath.Counter>, got handle<smath.Counter>")
        let closed = try runWithSwift("""
            import "smath"
            let c = smath.counter_new()
            smath.counter_close(c)
            smath.counter_incr(c)
            """)
        #expect(closed == "ERROR: error: smath.counter_incr: argument 1: expected handle<smath.Counter>, got a closed handle<smath.Counter>")
        #expect(SwiftCounter.alive.load(ordering: .relaxed) == before)
        let collected = try runWithSwift("""
            import "smath"
            for i in 0..50 { let c = smath.counter_new(); smath.counter_incr(c) }
            """, gcStress: true)
        #expect(collected == "")
        #expect(SwiftCounter.alive.load(ordering: .relaxed) == before)
    }

    @Test func thrownErrorsAreCatchableScriptErrors() throws {
        let out = try runWithSwift("""
            import "smath"
            try { smath.checked_div(1, 0) } catch e { print(e.message) }
            try { smath.too_big() } catch e { print(e.message) }
            try { smath.fails_plainly() } catch e { print(len(e.message) > 0) }
            print(smath.checked_div(9, 3))
            """)
        #expect(out == "smath.checked_div: division by zero\nsmath.too_big: the result 300 does not fit u8 (0 to 255)\ntrue\n3\n")
    }

    @Test func bufArgumentsAreWritable() throws {
        let out = try runWithSwift("""
            import "smath"
            let b = bytes(3)
            smath.fill(b, 7)
            print(b)
            """)
        #expect(out == "b\"\\x07\\x07\\x07\"\n")
    }

    @Test func theManifestListsTheFunctionsLikeAPluginsDoes() throws {
        let host = PluginHost(environment: [:])
        try registerSmath(host)
        let manifest = try #require(host.manifest(ofModule: "smath"))
        #expect(manifest.version == "1.2.3")
        #expect(manifest.handleTypes.map(\.name) == ["Counter"])
        #expect(manifest.exports.first { $0.name == "divmod" }?.signature.description == "(i64, i64, out i64, out i64) -> void")
        let report = manifest.report
        #expect(report.contains("name: smath\n"))
        #expect(report.contains("  add (i64, i64) -> i64"))
        #expect(report.contains("a + b"))
        #expect(host.manifest(ofModule: "nothing") == nil)
    }

    @Test func registrationRefusesMismatchesWithClearErrors() throws {
        func refusal(_ build: (SwiftModule) throws -> Void) -> String {
            do {
                try PluginHost(environment: [:]).register(module: "m", build)
                return "registered"
            } catch {
                return String(describing: error)
            }
        }
        #expect(refusal { try $0.function("f", "(f64) -> f64") { (a: Int64) in Double(a) } }
            == "cannot load plugin swift:m: function 'f': parameter 1 is declared f64, which Swift type Int64 cannot receive")
        #expect(refusal { try $0.function("f", "(f64, f64) -> f64") { (a: Double) in a } }
            == "cannot load plugin swift:m: function 'f' declares 2 parameters, but its Swift closure takes 1")
        #expect(refusal { try $0.function("f", "(f64) -> str") { (a: Double) in a } }
            == "cannot load plugin swift:m: function 'f' declares result str, which Swift type Double cannot be returned as")
        #expect(refusal { try $0.function("f", "(f64) -> ") { (a: Double) in a } }
            == "cannot load plugin swift:m: malformed signature '(f64) -> ' for function 'f': expected a type at column 10")
        #expect(refusal { try $0.function("f", "() -> i64") { () -> Void in } }
            == "cannot load plugin swift:m: function 'f' declares result i64, but the Swift closure returns nothing")
        #expect(refusal { try $0.function("f", "(handle<Nope>) -> void") { (c: SwiftCounter) in } }
            == "cannot load plugin swift:m: function 'f' uses handle<Nope>, which the module does not declare")
        #expect(refusal {
            try $0.handleType("A", OtherThing.self)
            try $0.function("f", "(handle<A>) -> void") { (c: SwiftCounter) in }
        } == "cannot load plugin swift:m: function 'f': parameter 1 is declared handle<A>, which Swift type SwiftCounter cannot receive")
        #expect(refusal { try $0.function("f", "(out i64) -> void") { (a: Int64) in } }
            == "cannot load plugin swift:m: function 'f': parameter 1 is declared out i64, which Swift type Int64 cannot receive")
        #expect(refusal { try $0.function("f", "(ptr) -> void") { (a: Int64) in } }
            == "cannot load plugin swift:m: function 'f': Swift functions take numbers, bool, str, bytes, buf, handle<T> and out parameters; '(ptr) -> void' has more")
        #expect(refusal {
            try $0.function("f", "() -> void") {}
            try $0.function("f", "() -> void") {}
        } == "cannot load plugin swift:m: module m exports 'f' twice")
        #expect(refusal { try $0.function("f", "(i64) -> void", closesHandle: true) { (a: Int64) in } }
            == "cannot load plugin swift:m: function 'f' closes a handle, but its first parameter is not a handle")
        #expect(refusal { try $0.function("2f", "() -> void") {} }
            == "cannot load plugin swift:m: function name '2f' is not an identifier ([A-Za-z_][A-Za-z0-9_]*)")
        let host = PluginHost(environment: [:])
        #expect(throws: PluginLoadError.self) { try host.register(module: "fs") { _ in } }
        try host.register(module: "once") { _ in }
        #expect(throws: PluginLoadError.self) { try host.register(module: "once") { _ in } }
    }

    @Test func aSwiftModuleShadowsNothingElseAndCannotBeReloaded() throws {
        let out = try runWithSwift("""
            import "plugins"
            import "smath"
            print(plugins.version("smath"))
            try { plugins.reload("smath") } catch e { print(e.message) }
            """)
        #expect(out == "1.2.3\nreload of smath refused: smath is a Swift module registered by the host, not a plugin file\n")
    }

    @Test func callsSurviveGCStress() throws {
        let out = try runWithSwift("""
            import "smath"
            var s = ""
            for i in 0..20 { s = s + str(len(smath.greeting())) + str(len(smath.reversed("xy"))) }
            print(len(s))
            """, gcStress: true)
        #expect(out == "60\n")
    }
}
