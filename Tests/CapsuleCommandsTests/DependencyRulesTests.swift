import Testing
import FoundationEssentials

/// Rules about what the sources may import, checked on the files themselves.
@Suite struct DependencyRulesTests {
    static let sources = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources")

    /// Every Swift file under `Sources/<module>` with its text.
    func files(in module: String) throws -> [(String, String)] {
        let dir = Self.sources.appendingPathComponent(module)
        var result: [(String, String)] = []
        guard let names = FileManager.default.enumerator(atPath: dir.path) else { return [] }
        for case let name as String in names where name.hasSuffix(".swift") {
            let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            result.append(("\(module)/\(name)", text))
        }
        return result
    }

    /// Full Foundation (with ICU) tripled start-up time and memory of `capsule`; only
    /// FoundationEssentials, which swift-argument-parser uses anyway, is allowed.
    @Test(arguments: ["CapsuleSyntax", "CapsuleCore", "CapsuleSystem", "CapsuleRegex", "CapsuleHost", "CapsuleCommands", "capsule"])
    func noFullFoundation(_ module: String) throws {
        let offenders = try files(in: module).filter { _, text in
            text.split(separator: "\n").contains { $0.trimmingCharacters(in: .whitespaces) == "import Foundation" }
        }.map(\.0)
        #expect(offenders.isEmpty, "import Foundation in \(offenders)")
    }

    /// The core VM and the system modules know nothing of dlopen or libffi.
    @Test(arguments: ["CapsuleSyntax", "CapsuleCore", "CapsuleSystem", "CapsuleRegex"])
    func coreHasNoDynamicLoading(_ module: String) throws {
        for (name, text) in try files(in: module) {
            #expect(!text.contains("dlopen("), "dlopen in \(name)")
            #expect(!text.contains("import CFFI"), "libffi in \(name)")
        }
    }

    /// The system modules build on the core alone: the plugin machinery builds on them.
    @Test func systemModulesDoNotImportTheHost() throws {
        for (name, text) in try files(in: "CapsuleSystem") {
            #expect(!text.contains("import CapsuleHost"), "CapsuleHost imported in \(name)")
            #expect(!text.contains("import CapsuleSDK"), "the plugin SDK imported in \(name)")
        }
    }
}
