import ArgumentParser
import CapsuleHost
import Glibc

/// The `capsule` command: runs, checks, disassembles and tests Capsule scripts.
///
/// The executable's `main.swift` calls ``capsuleMain()``; embedders and tests can parse
/// arguments with `CapsuleCommand.parseAsRoot(_:)` without starting a process.
public struct CapsuleCommand: ParsableCommand {
    /// The version `capsule --version` reports. The only place it is written down.
    public static let version = "0.1.0"

    /// The root command's name, abstract, version and subcommands.
    public static let configuration = CommandConfiguration(
        commandName: "capsule",
        abstract: "Run, check and test Capsule scripts.",
        discussion: """
            Capsule is a small dynamically typed scripting language. Scripts are UTF-8 files \
            ending in .cap.

            Examples:
              capsule run hello.cap
              capsule run tool.cap --verbose input.txt
              capsule check hello.cap
              capsule disasm hello.cap
              capsule repl
              capsule test Tests/Scripts --filter arith
              capsule plugin inspect .build/debug/libcapsule_cmath.so

            Exit codes: 0 success, 64 usage error, 65 compile error, 70 runtime error, \
            74 I/O error (1 from `capsule test` when a case fails).
            """,
        version: "capsule \(version)",
        subcommands: [
            RunCommand.self,
            CheckCommand.self,
            DisasmCommand.self,
            ReplCommand.self,
            TestCommand.self,
            PluginCommand.self,
            PolicyCommand.self,
        ]
    )

    /// Creates the command; ArgumentParser calls this while parsing.
    public init() {}

    /// Parses `arguments` (the process's when nil) after rewriting bare `--allow-KIND`
    /// flags (`CapabilityOptions.normalize`).
    public static func parseAsRoot(_ arguments: [String]?) throws -> ParsableCommand {
        try parseAsRoot(arguments: CapabilityOptions.normalize(arguments ?? Array(CommandLine.arguments.dropFirst())))
    }

    private static func parseAsRoot(arguments: [String]) throws -> ParsableCommand {
        try (Self.self as ParsableCommand.Type).parseAsRoot(arguments)
    }
}

/// Parses the process's arguments and runs the chosen subcommand. Returns on success;
/// exits the process with the command's status on any failure. Either way standard output
/// is flushed first, and a failed write to it (at any point) ends the process with exit
/// status 74 (`endStandardOutput`), whatever the command's own status.
public func capsuleMain() {
    do {
        var command = try CapsuleCommand.parseAsRoot(nil)
        try command.run()
    } catch {
        // What `exit(withError:)` does, with standard output checked before exiting: help
        // and --version go to standard output, other messages to standard error.
        let code = CapsuleCommand.exitCode(for: error)
        let message = CapsuleCommand.fullMessage(for: error)
        if !message.isEmpty {
            if code == .success { writeStandardOutput(message + "\n") } else { writeStandardError(message + "\n") }
        }
        endStandardOutput()
        exit(code.rawValue)
    }
    endStandardOutput()
}

/// Flushes standard output. If any write to it failed, reports
/// `error: write to standard output failed: REASON` on standard error (except for a broken
/// pipe: the reader is gone, which the exit status alone says) and exits with 74.
func endStandardOutput() {
    guard !StandardOutput.flush(), let code = StandardOutput.failure else { return }
    if code != EPIPE, let message = StandardOutput.failureMessage { writeStandardError("error: \(message)\n") }
    exit(74)
}
