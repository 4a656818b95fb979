import ArgumentParser
import CapsuleHost

/// `capsule run FILE [ARGS…]`: runs a script.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a script.",
        discussion: """
            Everything after FILE is passed to the script as `args`, even words that look \
            like options, so put capsule's own options before FILE.

            Examples:
              capsule run hello.cap
              capsule run --module-path lib tool.cap --verbose input.txt
              capsule run --plugin-path build/plugins uses_zlib.cap
              capsule run --watch --plugin-path build/plugins app.cap   (hot reload on rebuild)
              capsule run --allow-ffi calls_libc.cap
              capsule run --timeout 2s --max-heap 64M --max-instructions 100000000 untrusted.cap
              capsule run --allow-read=data --allow-env=HOME --audit audit.jsonl tool.cap
              CAPSULE_PATH=lib:vendor capsule run tool.cap

            Exits with 0 on success, 65 if the script does not compile, 70 on an uncaught \
            error (including an exceeded limit) and 74 if the file cannot be read.
            """
    )

    @OptionGroup var options: VMOptions

    @Flag(help: ArgumentHelp(
        "Hot-reload plugins when their .so files are replaced (rebuilt), and imported .cap modules when they change, logging each reload to standard error.",
        discussion: "Lines: `capsule: reloaded NAME OLD -> NEW in T ms`, `capsule: reload of NAME refused: WHY; OLD keeps serving`, and for script modules `capsule: reloaded script module FILE in T ms` or `capsule: reload of script module FILE refused: WHY` (docs/plugins.md#script-modules)."))
    var watch = false

    @Option(
        help: ArgumentHelp("With --watch: how long a replaced plugin file must stay quiet before it is reloaded.",
                           discussion: "Default 1ms (docs/performance.md, \"Reload latency\").", valueName: "duration"),
        transform: { try LimitParsing.duration($0, what: "debounce", minimum: 0) })
    var watchDebounce: Duration? = nil

    @Argument(help: "The script to run.")
    var file: String

    @Argument(parsing: .captureForPassthrough, help: "Arguments for the script (its `args`).")
    var arguments: [String] = []

    func run() throws {
        let console = Console.standard
        var watchError: (any Error)? = nil
        let vm = try options.makeVM(arguments: arguments, script: file, console: console) { host in
            guard watch else { return }
            host.observeReloads { event in console.err("capsule: \(event)\n") }
            host.reportHandlerErrors { message in console.err("capsule: \(message)\n") }
            let debounce = watchDebounce.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }
            do { try host.watchPlugins(debounce: debounce ?? PluginHost.defaultWatchDebounce) } catch { watchError = error }
        }
        if let watchError {
            console.err("capsule: --watch: \(watchError)\n")
            throw ExitCode(74)
        }
        TerminationSignals.flushOutputOnTermination()
        let outcome = vm.runFile(path: file, name: file)
        try finish(outcome, console: .standard)
    }
}

/// Writes an outcome's error text to standard error and exits with its code (returns on 0).
/// Once standard output has failed, that I/O error is the outcome (`endStandardOutput`).
func finish(_ outcome: RunOutcome, console: Console) throws {
    if console.outputFailed() { throw ExitCode(74) }
    let text = outcome.errorText
    if !text.isEmpty { console.err(text) }
    if outcome.exitCode != 0 { throw ExitCode(outcome.exitCode) }
}
