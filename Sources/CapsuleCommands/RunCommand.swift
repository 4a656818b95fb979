import ArgumentParser
import CapsuleHost

/// `capsule run FILE [ARGS…]`, `capsule run -e CODE [ARGS…]` or `capsule run - [ARGS…]`:
/// runs a script.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a script.",
        discussion: """
            Everything after FILE is passed to the script as `args`, even words that look \
            like options, so put capsule's own options before FILE.

            Examples:
              capsule run hello.cap
              capsule run -e 'print(sum([1, 2, 3]))'
              echo 'print(args)' | capsule run - a b
              capsule run --module-path lib tool.cap --verbose input.txt
              capsule run --plugin-path build/plugins uses_zlib.cap
              capsule run --watch --plugin-path build/plugins app.cap   (hot reload on rebuild)
              capsule run --allow-ffi calls_libc.cap
              capsule run --timeout 2s --max-heap 64M --max-instructions 100000000 untrusted.cap
              capsule run --allow-read=data --allow-env=HOME --audit audit.jsonl tool.cap
              CAPSULE_PATH=lib:vendor capsule run tool.cap

            With -e, CODE is the script (named `<-e>` in messages) and every positional \
            argument goes to `args`; FILE `-` reads the script from standard input (named \
            `<stdin>`). Either way imports are found from the current directory.

            Exits with 0 on success (or the code given to `exit(code)`), 65 if the script does not compile, 70 on an uncaught \
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

    @Option(name: .customShort("e"), help: ArgumentHelp("Run CODE instead of a file.", valueName: "code"))
    var code: String? = nil

    @Argument(help: "The script to run, or `-` to read it from standard input.")
    var file: String? = nil

    @Argument(parsing: .captureForPassthrough, help: "Arguments for the script (its `args`).")
    var arguments: [String] = []

    func validate() throws {
        if code == nil && file == nil { throw ValidationError("Missing expected argument '<file>' (or -e CODE)") }
    }

    func run() throws {
        let console = Console.standard
        var watchError: (any Error)? = nil
        // With -e, FILE is the script's first argument.
        var arguments = arguments
        if code != nil, let file { arguments.insert(file, at: 0) }
        let script = code == nil && file != "-" ? file : nil
        let vm = try options.makeVM(arguments: arguments, script: script, console: console) { host in
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
        if let timeout = options.timeout { TimeoutWatchdog.start(timeout: timeout) }
        let outcome: RunOutcome
        if let code {
            outcome = vm.run(source: code, name: "<-e>")
        } else if let script {
            outcome = vm.runFile(path: script, name: script)
        } else {
            switch readStandardInput() {
            case .success(let text): outcome = vm.run(source: text, name: "<stdin>")
            case .failure(let error): outcome = error.outcome
            }
        }
        TimeoutWatchdog.stop()
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
