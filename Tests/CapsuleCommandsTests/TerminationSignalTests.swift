import CapsuleHost
import Foundation
import Testing

/// `capsule run` with standard output on a pipe (block-buffered) killed by Ctrl-C, SIGTERM or
/// SIGHUP: what the script printed still arrives, and the process ends by that signal.
@Suite struct TerminationSignalTests {
    @Test(arguments: [SIGINT, SIGTERM, SIGHUP])
    func printedOutputSurvivesTheSignal(_ signal: Int32) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-signal-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ready = directory + "/ready"
        try """
            import "fs"
            import "time"
            for i in 0..100 { print("line " + str(i)) }
            fs.write(args[0], "")
            time.sleep(60)
            print("not reached")
            """.write(toFile: directory + "/app.cap", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(PluginHost.executableDirectory()) + "/capsule")
        process.arguments = ["run", "--allow-clock", "--allow-write=\(directory)", directory + "/app.cap", ready]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // The lines are printed (into stdio's buffer) once the marker exists.
        let deadline = Date().addingTimeInterval(15)
        while !FileManager.default.fileExists(atPath: ready) && Date() < deadline && process.isRunning { usleep(2000) }
        #expect(FileManager.default.fileExists(atPath: ready))
        kill(process.processIdentifier, signal)
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(text == (0..<100).map { "line \($0)\n" }.joined())
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(process.terminationStatus == signal)
    }
}
