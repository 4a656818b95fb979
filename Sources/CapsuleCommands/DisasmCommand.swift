import ArgumentParser
import CapsuleHost

/// `capsule disasm FILE`: prints the bytecode listing.
struct DisasmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disasm",
        abstract: "Compile a script and print its bytecode.",
        discussion: """
            Prints one line per instruction for the script and every function in it. If the \
            script does not compile, prints the diagnostics instead and exits with 65.

            Example:
              capsule disasm hello.cap | less
            """
    )

    @Argument(help: "The script to disassemble.")
    var file: String

    func run() throws {
        let text: String
        do { text = try readTextFile(atPath: file) } catch { return try finish(error.outcome, console: .standard) }
        switch makeVirtualMachine().disassemble(source: text, name: file) {
        case .success(let listing):
            Console.standard.out(listing.hasSuffix("\n") || listing.isEmpty ? listing : listing + "\n")
        case .failure(let failure):
            try finish(.compileError(diagnostics: failure.rendered), console: .standard)
        }
    }
}
