import CapsuleHost
import Foundation
import Testing

/// A handle type: scripts hold instances as opaque `handle<Path>` values.
final class Path: CapsuleHandle {
    var points: [(Double, Double)] = []
}

/// The Swift-module example of docs/embedding.md, compiled and run: `documentedExample`
/// holds the doc's code, and a test checks that every line of the doc's block appears here
/// in order, so the two cannot drift apart.
@Suite struct SwiftModuleDocExampleTests {
    /// The doc's code, between the markers. NOTE: `VM()` and `print` are shadowed by local
    /// functions so the test can read what the example prints.
    func documentedExample() throws -> String {
        let capture = OutputCapture()
        func VM() -> CapsuleCore.VM {
            var configuration = Configuration()
            configuration.output = { capture.append($0) }
            return CapsuleCore.VM(configuration: configuration)
        }
        func print(_ text: String) { capture.append(text + "\n") }
        // BEGIN doc example
        let vm = VM()
        let host = PluginHost()
        try host.register(module: "geo", version: "1.0.0", description: "plane geometry") { m in
            try m.handleType("Path", Path.self)
            try m.function("dist", "(f64, f64, f64, f64) -> f64", doc: "distance between two points") {
                (x1: Double, y1: Double, x2: Double, y2: Double) in
                ((x2 - x1) * (x2 - x1) + (y2 - y1) * (y2 - y1)).squareRoot()
            }
            try m.function("path", "() -> handle<Path>") { Path() }
            try m.function("add", "(handle<Path>, f64, f64) -> i64") { (p: Path, x: Double, y: Double) in
                p.points.append((x, y))
                return p.points.count
            }
            try m.function("bounds", "(handle<Path>, out f64, out f64) -> bool") { (p: Path, w: Out<Double>, h: Out<Double>) in
                guard !p.points.isEmpty else { throw ScriptError("the path is empty") }
                let xs = p.points.map(\.0), ys = p.points.map(\.1)
                w.value = xs.max()! - xs.min()!
                h.value = ys.max()! - ys.min()!
                return true
            }
            try m.function("label", "(str, u8) -> str") { (name: String, size: Int) in "\(name)@\(size)" }
        }
        host.install(on: vm)
        _ = vm.run(source: """
            import "geo"
            print(geo.dist(0, 0, 3, 4))                // 5.0
            let p = geo.path()
            geo.add(p, 1, 1)
            geo.add(p, 4, 3)
            print(geo.bounds(p))                       // [true, 3.0, 2.0]: the result, then each out value
            try { geo.bounds(geo.path()) } catch e { print(e.message) }   // geo.bounds: the path is empty
            try { geo.label("x", 300) } catch e { print(e.message) }
            // geo.label: argument 2: expected u8 (0 to 255), got 300
            """, name: "main.cap")
        print(host.manifest(ofModule: "geo")!.report)   // what `capsule plugin inspect` prints for a plugin
        // END doc example
        return capture.text
    }

    @Test func theExamplePrintsWhatTheDocSays() throws {
        let output = try documentedExample()
        #expect(output == ("""
            5.0
            [true, 3.0, 2.0]
            geo.bounds: the path is empty
            geo.label: argument 2: expected u8 (0 to 255), got 300
            name: geo
            version: 1.0.0
            abi: 1
            description: plane geometry
            capabilities: none
            handle types: Path
            struct types: none
            exports:
              dist (f64, f64, f64, f64) -> f64                 distance between two points
              path () -> handle<Path>
              add (handle<Path>, f64, f64) -> i64
              bounds (handle<Path>, out f64, out f64) -> bool
              label (str, u8) -> str


            """))
    }

    @Test func theDocBlockIsTheCodeTestedHere() throws {
        let doc = try String(contentsOfFile: Paths.repository + "/docs/embedding.md", encoding: .utf8)
        let marker = try #require(doc.range(of: "<!-- swift-module-example"))
        let afterMarker = doc[marker.upperBound...]
        let start = try #require(afterMarker.range(of: "```swift\n"))
        let end = try #require(afterMarker[start.upperBound...].range(of: "```\n"))
        let docLines = afterMarker[start.upperBound..<end.lowerBound].split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let testLines = source.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        // The class and import are at file scope here; everything else is in documentedExample.
        var at = 0
        for line in docLines {
            guard let found = testLines[at...].firstIndex(of: line) else {
                Issue.record("docs/embedding.md line not in the tested example: \(line)")
                return
            }
            at = found + 1
        }
        #expect(docLines.count > 30)
    }
}
