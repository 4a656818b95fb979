import Foundation
@testable import CapsuleCore

/// Collects what scripts `print`, for VMs whose output a test checks.
/// NOTE: `@unchecked Sendable` because every field is read and written with `lock` held.
final class OutputCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = ""

    var text: String { lock.lock(); defer { lock.unlock() }; return buffer }

    func append(_ s: String) { lock.lock(); buffer += s; lock.unlock() }
}

/// A VM whose printed output goes to the returned capture.
func capturingVM(gcStress: Bool = false) -> (VM, OutputCapture) {
    let capture = OutputCapture()
    var config = Configuration()
    config.gcStress = gcStress
    config.output = { capture.append($0) }
    return (VM(configuration: config), capture)
}

/// Runs `source` and returns what it printed, or the error text after "ERROR: ".
func output(of source: String, gcStress: Bool = false) -> String {
    let (vm, capture) = capturingVM(gcStress: gcStress)
    let outcome = vm.run(source: source, name: "test.cap")
    if case .ok = outcome { return capture.text }
    return capture.text + "ERROR: " + outcome.errorText
}

/// The value of `source` in a fresh VM, or the failure's message after "ERROR: ".
func value(of source: String, gcStress: Bool = false) -> ScriptValue {
    var config = Configuration()
    config.gcStress = gcStress
    config.output = { _ in }
    switch VM(configuration: config).evaluate(source) {
    case .success(let v): return v
    case .failure(let f): return .string("ERROR: " + f.message)
    }
}

/// The disassembly of `source` (or its rendered diagnostics).
func listing(_ source: String) -> String {
    switch VM().disassemble(source: source, name: "test.cap") {
    case .success(let text): return text
    case .failure(let f): return "COMPILE ERROR: " + f.rendered
    }
}

/// Compile errors of `source` as `line:col: message`.
func compileErrors(_ source: String) -> [String] {
    VM().check(source: source, name: "test.cap").map { "\($0.location.line):\($0.location.column): \($0.message)" }
}

/// The lines of `listing` that hold instructions, without their position and line columns:
/// `"LOADI      1 3"`.
func instructions(_ listing: String) -> [String] {
    listing.split(separator: "\n").compactMap { line in
        let parts = line.split(separator: "]", maxSplits: 1)
        guard parts.count == 2, line.contains("[") else { return nil }
        var text = parts[1].trimmingCharacters(in: .whitespaces)
        if let semicolon = text.firstIndex(of: ";") { text = text[..<semicolon].trimmingCharacters(in: .whitespaces) }
        return text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }
}
