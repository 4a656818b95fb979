import ArgumentParser

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
/// exits the process with the command's status on any failure.
public func capsuleMain() {
    CapsuleCommand.main(CapabilityOptions.normalize(Array(CommandLine.arguments.dropFirst())))
}
