@testable import CapsuleCommands
import CapsuleHost
import Foundation
import Testing

/// A scratch directory of golden cases, removed when the test ends.
final class ScratchDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("capsule-runner-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` to `relative`, creating directories on the way.
    func write(_ relative: String, _ text: String) throws {
        let url = URL(fileURLWithPath: path).appendingPathComponent(relative)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func read(_ relative: String) -> String? {
        FileManager.default.contents(atPath: path + "/" + relative).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// A stand-in for the VM: `print X` lines print X, a `fail X` line stops with `error: X`,
/// `name` prints the invocation's name and `stress` prints whether GC stress is on.
let fakeExecutor: GoldenRunner.Executor = { invocation in
    var stdout = ""
    for line in invocation.source.split(separator: "\n") {
        if line.hasPrefix("print ") { stdout += line.dropFirst(6) + "\n" }
        if line == "name" { stdout += invocation.name + "\n" }
        if line == "stress" { stdout += "\(invocation.gcStress)\n" }
        if line.hasPrefix("fail ") { return GoldenOutput(stdout: stdout, stderr: "error: \(line.dropFirst(5))\n") }
    }
    return GoldenOutput(stdout: stdout, stderr: "")
}

/// A console that collects what a command writes.
final class CapturedConsole {
    var out = ""
    var err = ""
    var console: Console { Console(out: { self.out += $0 }, err: { self.err += $0 }) }
}

/// Runs the built `capsule` in `directory` (with this process's environment, plus `environment`;
/// with the file `input` on standard input when given); returns its exit status, stdout and stderr.
func capsule(_ arguments: [String], in directory: String,
             environment: [String: String] = [:], input: String? = nil) throws -> (status: Int32, out: String, err: String) {
    let binary = try #require(PluginHost.executableDirectory()).appending("/capsule")
    return try runProgram(binary, arguments, in: directory, environment: environment, input: input)
}

/// Runs `executable` with `arguments` in `directory`, as `capsule(_:in:environment:input:)` does.
func runProgram(_ executable: String, _ arguments: [String], in directory: String,
                environment: [String: String] = [:], input: String? = nil) throws -> (status: Int32, out: String, err: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    if let input { process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: input)) }
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// Parses `arguments` as the command line of `capsule run`.
func runCommand(_ arguments: [String]) throws -> RunCommand {
    try #require(try CapsuleCommand.parseAsRoot(arguments) as? RunCommand)
}

/// Expects `arguments` to be refused by the parser as a usage error (exit 64) with `message`.
func expectUsageError(_ arguments: [String], _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        _ = try CapsuleCommand.parseAsRoot(arguments)
        Issue.record("parsed \(arguments)", sourceLocation: sourceLocation)
    } catch {
        #expect(CapsuleCommand.exitCode(for: error).rawValue == 64, sourceLocation: sourceLocation)
        #expect(CapsuleCommand.message(for: error) == message, sourceLocation: sourceLocation)
    }
}
