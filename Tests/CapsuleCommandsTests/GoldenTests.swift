import CapsuleCommands
import Foundation
import Testing

/// The golden scripts under `Tests/Scripts`, run by the same runner as `capsule test`.
@Suite struct GoldenTests {
    static let runner = GoldenRunner(
        root: URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("Scripts").path)
    static let cases = runner.discover()

    @Test(arguments: cases)
    func script(_ testCase: GoldenCase) {
        let result = Self.runner.run(testCase)
        #expect(result.passed, "\(testCase.name) differs:\n\(result.diff())")
    }

    @Test(arguments: cases)
    func scriptUnderGCStress(_ testCase: GoldenCase) {
        let result = Self.runner.run(testCase, gcStress: true)
        #expect(result.passed, "\(testCase.name) differs under GC stress:\n\(result.diff())")
    }
}
