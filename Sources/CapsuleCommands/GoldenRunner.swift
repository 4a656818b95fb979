import CapsuleHost
import FoundationEssentials
import Glibc

/// Runs golden scripts: every `*.cap` under a root directory, compared byte for byte with its
/// `.out` (expected standard output) and `.err` (expected error text) files. A missing
/// expectation file means "expect nothing". `capsule test` and `swift test` both use this.
///
/// ```swift
/// let runner = GoldenRunner(root: "Tests/Scripts")
/// for testCase in runner.discover() {
///     let result = runner.run(testCase, gcStress: true)
///     if !result.passed { print(result.diff()) }
/// }
/// ```
public struct GoldenRunner: Sendable {
    /// Produces a script's output. The default runs a fresh `VM`; tests of the runner itself
    /// pass a fake.
    public typealias Executor = @Sendable (GoldenInvocation) -> GoldenOutput

    /// The absolute directory the cases are found under.
    public let root: String
    private let execute: Executor

    /// A runner for the cases under `root` (relative paths are taken from the current
    /// directory), producing output with `execute`.
    public init(root: String, execute: @escaping Executor = GoldenRunner.virtualMachine) {
        let absolute = root.hasPrefix("/")
            ? root
            : FileManager.default.currentDirectoryPath + "/" + root
        self.root = URL(fileURLWithPath: absolute).standardizedFileURL.path
        self.execute = execute
    }

    /// Every `*.cap` file under `root`, recursively, sorted by relative path. Directories
    /// named `lib` hold modules that the cases import, not cases, and are skipped.
    /// Symbolic links are not followed into directories (not even when `root` itself is one);
    /// a link to a file counts as a file.
    public func discover() -> [GoldenCase] {
        guard isDirectory(atPath: root, followingLinks: false) == true else { return [] }
        var cases: [GoldenCase] = []
        func walk(_ prefix: String) {
            for name in directoryEntries(atPath: prefix.isEmpty ? root : root + "/" + prefix) {
                let relative = prefix.isEmpty ? name : prefix + "/" + name
                let path = root + "/" + relative
                if isDirectory(atPath: path) == true {
                    if name != "lib" && isDirectory(atPath: path, followingLinks: false) == true {
                        walk(relative)
                    }
                } else if relative.hasSuffix(".cap") {
                    cases.append(GoldenCase(root: root, name: relative))
                }
            }
        }
        walk("")
        return cases.sorted { $0.name < $1.name }
    }

    /// Runs one case and compares its output with the expectation files.
    public func run(_ testCase: GoldenCase, gcStress: Bool = false) -> GoldenResult {
        let actual: GoldenOutput
        do {
            let source = try readTextFile(atPath: testCase.path)
            actual = execute(GoldenInvocation(
                source: source, name: testCase.name, path: testCase.path, gcStress: gcStress))
        } catch {
            actual = GoldenOutput(stdout: "", stderr: error.outcome.errorText)
        }
        return GoldenResult(testCase: testCase, expected: expectation(for: testCase), actual: actual)
    }

    /// The expected output of a case: the contents of its `.out` and `.err` files.
    public func expectation(for testCase: GoldenCase) -> GoldenOutput {
        GoldenOutput(
            stdout: (try? readTextFile(atPath: testCase.stdoutPath)) ?? "",
            stderr: (try? readTextFile(atPath: testCase.stderrPath)) ?? ""
        )
    }

    /// Makes `result`'s actual output the expectation: writes `.out`/`.err`, or removes the
    /// file when the output is empty. Returns the paths it changed, relative to `root`.
    @discardableResult
    public func record(_ result: GoldenResult) throws -> [String] {
        var changed: [String] = []
        let files: [(path: String, expected: String, actual: String)] = [
            (result.testCase.stdoutPath, result.expected.stdout, result.actual.stdout),
            (result.testCase.stderrPath, result.expected.stderr, result.actual.stderr),
        ]
        for file in files where !file.expected.utf8.elementsEqual(file.actual.utf8) {
            if file.actual.isEmpty {
                try removeFile(atPath: file.path)
            } else {
                try writeTextFile(file.actual, atPath: file.path)
            }
            changed.append(String(file.path.dropFirst(root.count + 1)))
        }
        return changed
    }
}

extension GoldenRunner {
    /// Runs the case in a fresh `VM` (with the plugin host installed, so cases may import
    /// the bundled plugins) whose `print` output is captured; the error text of the outcome
    /// is the case's standard error. A case's `// flags:` lines grant capabilities and set
    /// limits as `capsule run` flags would (GoldenFlags.swift). What the script writes to
    /// standard error (`eprint`) comes before the outcome's error text; its standard input is
    /// the file `name.in` beside it, or empty.
    public static let virtualMachine: Executor = { invocation in
        let buffer = OutputBuffer()
        let errors = OutputBuffer()
        var configuration = Configuration()
        configuration.gcStress = invocation.gcStress
        configuration.output = { text in buffer.append(text) }
        configuration.errorOutput = { text in errors.append(text) }
        let base = invocation.path.hasSuffix(".cap") ? String(invocation.path.dropLast(4)) : invocation.path
        var input = open(base + ".in", O_RDONLY | O_CLOEXEC)
        if input < 0 { input = open("/dev/null", O_RDONLY | O_CLOEXEC) }
        defer { if input >= 0 { close(input) } }
        configuration.standardInput = input
        configuration.scriptPath = invocation.name
        let flags = GoldenFlags.words(in: invocation.source)
        if !flags.isEmpty {
            switch GoldenFlags.configuration(flags, base: configuration, scriptPath: invocation.path) {
            case .failure(let error): return GoldenOutput(stdout: "", stderr: "error: bad // flags: line: \(error.message)\n")
            case .success(let c): configuration = c
            }
        }
        let outcome = makeVirtualMachine(configuration)
            .run(source: invocation.source, name: invocation.name, path: invocation.path)
        return GoldenOutput(stdout: buffer.contents, stderr: errors.contents + outcome.errorText)
    }
}
