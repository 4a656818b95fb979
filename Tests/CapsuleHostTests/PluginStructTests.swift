@testable import CapsuleHost
import Testing

/// Struct types declared by a plugin's descriptor (`capsule_struct_type`), passed by value.
@Suite struct PluginStructTests {
    func runStructs(_ body: String, gcStress: Bool = false) -> String {
        run("import \"structs\"\n" + body, pluginPaths: [Fixtures.directory], gcStress: gcStress)
    }

    @Test func structsPassAndReturnByValueAsMaps() {
        #expect(runStructs("""
            let a = {"x": 1.5, "y": 2}
            print(structs.add(a, {"x": 0.5, "y": -1.0}))
            print(structs.length2({"x": 3, "y": 4}))
            let r = structs.bounds({"x": 4, "y": 0}, {"x": 0, "y": 2})
            print(r)
            print(structs.centre(r))
            print(structs.brighter({"r": 250, "g": 10, "b": 0, "opaque": true, "id": -7}, 10))
            print(structs.split({"x": 3, "y": 4}))
            """) == """
            {"x": 2.0, "y": 1.0}
            25.0
            {"min": {"x": 0.0, "y": 0.0}, "max": {"x": 4.0, "y": 2.0}}
            {"x": 2.0, "y": 1.0}
            {"r": 255, "g": 20, "b": 10, "opaque": true, "id": -7}
            [{"x": 3.0, "y": 0.0}, {"x": 0.0, "y": 4.0}]

            """)
    }

    @Test func structArgumentsAreCheckedFieldByField() {
        #expect(runStructs("structs.add(1, {\"x\": 0, \"y\": 0})")
            == "ERROR: error: structs.add: argument 1: expected point (a map with fields x, y), got int")
        #expect(runStructs("structs.add({\"x\": 0}, {\"x\": 0, \"y\": 0})")
            == "ERROR: error: structs.add: argument 1: expected point, got a map without the field 'y'")
        #expect(runStructs("structs.add({\"x\": 0, \"y\": 0}, {\"x\": 0, \"y\": 0, \"z\": 0})")
            == "ERROR: error: structs.add: argument 2: expected point, got a map with the unknown field 'z'")
        #expect(runStructs("structs.add({\"x\": \"0\", \"y\": 0}, {\"x\": 0, \"y\": 0})")
            == "ERROR: error: structs.add: argument 1: field 'x': expected f64, got string")
        #expect(runStructs("structs.brighter({\"r\": 300, \"g\": 0, \"b\": 0, \"opaque\": false, \"id\": 0}, 1)")
            == "ERROR: error: structs.brighter: argument 1: field 'r': expected u8 (0 to 255), got 300")
        #expect(runStructs("structs.centre({\"min\": {\"x\": 0, \"y\": 0}, \"max\": {\"x\": 0}})")
            == "ERROR: error: structs.centre: argument 1: field 'max': expected point, got a map without the field 'y'")
        #expect(runStructs("structs.brighter({\"r\": 1, \"g\": 0, \"b\": 0, \"opaque\": false, \"id\": 0}, -1)")
            == "ERROR: error: structs.brighter: brighter by a negative amount")
    }

    /// libffi passes a struct over 16 bytes (rect) through a stack copy and repoints the
    /// argument pointer at it: the second call used to read that stale pointer.
    @Test func aLargeStructArgumentIsRightOnEveryCall() {
        #expect(runStructs("""
            let r = {"min": {"x": 1, "y": 1}, "max": {"x": 3, "y": 5}}
            print(structs.centre(r), structs.centre(r), structs.centre(r))
            """) == "{\"x\": 2.0, \"y\": 3.0} {\"x\": 2.0, \"y\": 3.0} {\"x\": 2.0, \"y\": 3.0}\n")
    }

    @Test func structCallsSurviveGCStress() {
        #expect(runStructs("""
            var p = {"x": 0, "y": 0}
            for i in 0..200 { p = structs.add(p, structs.centre(structs.bounds({"x": 1, "y": 1}, {"x": 1, "y": 1}))) }
            print(p)
            """, gcStress: true) == "{\"x\": 200.0, \"y\": 200.0}\n")
    }

    @Test func theManifestHasTheLaidOutStructTypes() throws {
        let manifest = try PluginLoader.inspect(path: Fixtures.path("structs")).get()
        #expect(manifest.structTypes.map(\.name) == ["point", "rect", "color"])
        let color = try #require(manifest.structTypes.last)
        #expect(color.fields.map(\.offset) == [0, 1, 2, 3, 4])
        #expect(color.size == 8)
        #expect(manifest.structTypes[1].size == 32)
        #expect(manifest.report.contains("struct types: point {f64 x, f64 y}; rect {point min, point max}; color {u8 r, u8 g, u8 b, bool opaque, i32 id}\n"))
    }

    @Test func aDescriptorOfTheOlderLayoutStillLoads() throws {
        #expect(PluginManifest.knownStructSizes.first == PluginManifest.hostStructSize - 16)
        #expect(run("import \"old_descriptor\"\nprint(old_descriptor.twice(21))", pluginPaths: [Fixtures.directory]) == "42\n")
        let manifest = try PluginLoader.inspect(path: Fixtures.path("old_descriptor")).get()
        #expect(manifest.structTypes.isEmpty)
    }

    @Test func reloadRefusesAChangedStructLayout() throws {
        let old = try PluginLoader.inspect(path: Fixtures.path("structs")).get()
        var new = old
        new.version = "1.1.0"
        #expect(PluginRegistry.incompatibility(old: old, new: new) == nil)
        new.structTypes[0] = StructType(name: "point", fields: [("x", .f32), ("y", .f32)])!
        #expect(PluginRegistry.incompatibility(old: old, new: new)
            == "structs 1.1.0 changes struct type 'point' from {f64 x, f64 y} to {f32 x, f32 y}")
    }

    /// The declarations no fixture covers, checked on descriptor fields directly.
    @Test func structDeclarationsAreChecked() {
        func refusal(_ types: [(String?, String?)], hasTable: Bool = true) -> String? {
            let d = DescriptorFields(
                name: "p", version: "1", description: nil, capabilities: [],
                handleTypeCount: 0, hasHandleTypes: false, handleType: { _ in .init() },
                structTypeCount: types.count, hasStructTypes: hasTable, structType: { (types[$0].0, types[$0].1) },
                exportCount: 0, hasExports: false, export: { _ in .init(flags: 0) }, initHook: nil)
            if case .refused(let reason) = PluginManifest.readStructTypes(d, plugin: "p") { return reason }
            return nil
        }
        #expect(refusal([("i64", "{f64 x}")]) == "plugin p: struct type 'i64' has the name of a built-in type")
        #expect(refusal([("handle", "{f64 x}")]) == "plugin p: struct type 'handle' has the name of a built-in type")
        #expect(refusal([("2d", "{f64 x}")]) == "plugin p: struct type 0 has name '2d', which is not an identifier")
        #expect(refusal([(nil, "{f64 x}")]) == "plugin p: struct type 0 has name NULL, which is not an identifier")
        #expect(refusal([("p", nil)]) == "plugin p: struct type 'p' has no fields (NULL)")
        #expect(refusal([("p", "{}")]) == "plugin p: malformed fields '{}' for struct type 'p': expected a type at column 2")
        #expect(refusal([("p", "{str s}")]) == "plugin p: malformed fields '{str s}' for struct type 'p': a struct field cannot be str (fields take numbers, bool, ptr or structs) at column 2")
        #expect(refusal([("outer", "{inner i}"), ("inner", "{f64 x}")]) == "plugin p: malformed fields '{inner i}' for struct type 'outer': unknown type 'inner' at column 2")
        #expect(refusal([("p", "{f64 x}")], hasTable: false) == "plugin p declares 1 struct types but struct_types is NULL")
        #expect(refusal([("inner", "{f64 x}"), ("outer", "{inner i, u8 tag}")]) == nil)
    }

    @Test func anIsolatedPluginCannotDeclareStructTypes() {
        #expect(run("import \"structs\"", pluginPaths: [Fixtures.directory], isolation: .plugins(["structs"])).contains(
            "the plugin declares struct types, which an isolated plugin cannot use"))
    }
}
