@testable import CapsuleHost
import Foundation
import Testing

/// The `value` signature type and the host API's value functions, through the `values`
/// fixture (Tests/PluginFixtures/values.c): every kind in and out, deep copies under GC
/// stress, and each misuse refused with a message instead of a crash.
@Suite struct HostValueTests {
    func runValues(_ body: String, gcStress: Bool = false) -> String {
        run("import \"values\"\n" + body, pluginPaths: [Fixtures.directory], gcStress: gcStress)
    }

    @Test func valueParsesAsParameterAndResultButNotOut() throws {
        let s = try Signature.parse("(handle<Db>, str, value) -> value").get()
        #expect(s.parameters.map(\.type) == [.handle("Db"), .str, .value])
        #expect(s.result == .value)
        #expect(s.description == "(handle<Db>, str, value) -> value")
        guard case .failure(let error) = Signature.parse("(out value) -> void") else {
            Issue.record("out value parsed")
            return
        }
        #expect(error.message == "out value is not supported (out takes a number, bool, ptr or struct)")
    }

    @Test(arguments: [false, true])
    func deepCopyKeepsEveryKindAndOrder(gcStress: Bool) {
        let output = runValues("""
            let data = {"a": [1, 2.5, nil, true, "héllo ✓", bytes([0, 255])], 7: {"x": -9223372036854775808},
                        1.5: 9223372036854775807, "e": [], "m": {}, "b": bytes("")}
            let c = values.copy(data)
            print(c)
            print(str(c) == str(data), c["a"][4] == "héllo ✓", c["a"][5] == bytes([0, 255]))
            var big = []
            for i in 0..\(gcStress ? 100 : 2000) { big.push({"i": i, "s": "row ${i}", "l": [i, i * 2]}) }
            print(str(values.copy(big)) == str(big))
            print(values.echo(data) == data, values.echo(nil), values.echo(3))
            """, gcStress: gcStress)
        #expect(output == """
            {"a": [1, 2.5, nil, true, "héllo ✓", b"\\x00\\xff"], 7: {"x": -9223372036854775808}, 1.5: 9223372036854775807, "e": [], "m": {}, "b": b""}
            true true true
            true
            true nil 3

            """)
    }

    @Test func accessorsSeeKindsTypeNamesAndLengths() {
        let output = runValues("""
            for v in [nil, true, 5, 2.5, "hé", bytes(3), [1, 2], {"k": 1}, print, Error("x"), values.probe_new()] {
                print(values.describe(v))
            }
            let m = {"a": 1, 7: "seven"}
            print(values.lookup(m, "a"), values.lookup(m, 7.0), values.lookup(m, "zz"))
            """)
        #expect(output == """
            0 nil -1
            1 bool -1 bool 1
            2 int -1 int 5
            3 float -1 float 2.5
            4 string 3 string 3
            5 bytes 3 bytes 3
            6 list 2
            7 map 1
            8 function -1
            10 error -1
            9 handle -1
            1 seven nil

            """)
    }

    @Test(arguments: [
        ("values.keep([1]); values.use_kept()", "values.use_kept: the result is not a valid capsule_value (made in another call, released, or never made)"),
        ("values.keep([1]); values.kind_of_kept(1)", "values.kind_of_kept: host->value_kind: invalid capsule_value (made in another call, released, or never made)"),
        ("values.released()", "values.released: the result is not a valid capsule_value (made in another call, released, or never made)"),
        ("values.without_value()", "values.without_value: host->new_int can only be used in a call of an export whose signature uses value"),
        ("values.bad_utf8()", "values.bad_utf8: host->new_string: the text is not valid UTF-8"),
        ("values.nil_key()", "values.nil_key: host->map_set: map key cannot be nil"),
        ("values.push_to_map()", "values.push_to_map: host->list_push: expected a list, got map"),
        ("values.out_of_range([1])", "values.out_of_range: host->list_get: index 99 is out of range for a list of length 1"),
        ("values.lookup(1, 2)", "values.lookup: host->map_get: expected a map, got int"),
        ("values.copy([print])", "values.copy: cannot copy a function"),
    ])
    func misusesAreScriptErrors(_ call: String, _ message: String) {
        let output = runValues("""
            try { \(call) } catch e { print(e.message) }
            print(values.copy([1, "ok"]))
            """)
        #expect(output == message + "\n[1, \"ok\"]\n")
    }

    @Test(arguments: [false, true])
    func aClosedHandleIsNotDestroyedAgainWhenCollected(gcStress: Bool) {
        // probe_destroy aborts on NULL: the GC used to pass a closed handle's NULL pointer.
        let output = runValues("""
            var p = values.probe_new()
            values.probe_close(p)
            p = nil
            gc()
            print("ok")
            """, gcStress: gcStress)
        #expect(output == "ok\n")
    }

    @Test func rawFFIRefusesValue() {
        let capture = OutputCapture()
        var configuration = Configuration()
        configuration.output = { capture.append($0) }
        let vm = VM(configuration: configuration)
        PluginHost(environment: [:], allowFFI: true).install(on: vm)
        _ = vm.run(source: """
            import "ffi"
            try { ffi.bind(ffi.open(nil), "strlen", "(value) -> u64") } catch e { print(e.message) }
            """, name: "test.cap")
        #expect(capture.text == "ffi.bind: signature '(value) -> u64' for 'strlen': value is only for plugins (it needs the host API)\n")
    }

    /// Pinned values (SDK 0.3): a hub pins the functions a script gives it and calls them
    /// from later calls, after collections; a handler may call the plugin again; a handler's
    /// error fails the emitting call and is catchable; unpinned handlers are gone.
    @Test(arguments: [false, true])
    func pinnedHandlersAreCalledFromLaterCalls(gcStress: Bool) {
        let output = runValues("""
            let hub = values.hub_new()
            var seen = []
            fn make(k) {
                return fn(x) {
                    seen.push(x)
                    return x * k
                }
            }
            print(values.hub_on(hub, make(2)), values.hub_on(hub, make(10)))
            for i in 0..200 { let junk = [i, str(i)] }
            gc()
            print(values.hub_emit(hub, 3), seen)
            values.hub_on(hub, fn(x) { return values.call_with(fn(y) { return y + 1 }, x) })
            print(values.hub_emit(hub, 1))
            values.hub_on(hub, fn(x) { throw "boom " + str(x) })
            try { values.hub_emit(hub, 7) } catch e { print("caught:", e) }
            print(len(seen))
            values.hub_clear(hub)
            print(values.hub_emit(hub, 1))
            try { values.call_with(5, 1) } catch e { print(e.message) }
            try { values.pinned_unknown() } catch e { print(e.message) }
            print(values.call_with(str, 42) == "42")
            """, gcStress: gcStress)
        #expect(output == """
            1 2
            [6, 30] [3, 3]
            [2, 10, 2]
            caught: boom 7
            6
            []
            values.call_with: host->call_value: expected a function, got int
            values.pinned_unknown: host->pinned_value: id 12345 is not pinned (unpinned, or never made by value_pin)
            true

            """)
    }

    /// A plugin's state is shared by every VM in the process: an id pinned in one VM is
    /// refused in another instead of naming a value there.
    @Test func anIdPinnedInOneVMIsRefusedInAnother() {
        #expect(runValues("print(values.pin_global(fn() { return 1 }))") == "1\n")
        #expect(runValues("try { values.global_pinned() } catch e { print(e.message) }").hasPrefix(
            "values.global_pinned: host->pinned_value: id "))
        #expect(runValues("try { values.global_pinned() } catch e { print(e.message) }").hasSuffix(
            " was pinned in another VM (plugin state is shared by every VM in the process)\n"))
    }

    /// Isolated, the plugin's code runs in a worker without the VM: pinning and calling are
    /// refused with a message, and the rest of the value API still works.
    @Test func anIsolatedPluginCannotPinOrCall() {
        let output = run("""
            import "values"
            let hub = values.hub_new()
            try { values.hub_on(hub, print) } catch e { print(e.message) }
            try { values.call_with(print, 1) } catch e { print(e.message) }
            print(values.echo([1, "two"]))
            """, pluginPaths: [Fixtures.directory], isolation: .plugins(["values"]))
        #expect(output == """
            values.hub_on: value_pin is not available to an isolated plugin
            values.call_with: call_value is not available to an isolated plugin
            [1, "two"]

            """)
    }
}
