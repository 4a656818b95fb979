/// One golden script: `name.cap` with optional `name.out` and `name.err` beside it.
public struct GoldenCase: Sendable, Hashable, CustomStringConvertible {
    /// The path relative to the runner's root, e.g. `arith/overflow.cap`. Also the name the
    /// script runs under, so messages in `.err` files do not depend on the checkout's path.
    public let name: String
    /// The absolute path of the `.cap` file.
    public let path: String

    /// A case for the file `name` under the absolute directory `root`.
    public init(root: String, name: String) {
        self.name = name
        self.path = root + "/" + name
    }

    /// The absolute path of the expected standard output.
    public var stdoutPath: String { basePath + ".out" }
    /// The absolute path of the expected error text.
    public var stderrPath: String { basePath + ".err" }
    /// The case's name, so test reports show `arith/overflow.cap`.
    public var description: String { name }

    private var basePath: String { path.hasSuffix(".cap") ? String(path.dropLast(4)) : path }
}

/// What the runner hands the executor for one case.
public struct GoldenInvocation: Sendable {
    /// The script's text.
    public var source: String
    /// The case's relative path, used as the source name in messages.
    public var name: String
    /// The script's absolute path, for resolving imports.
    public var path: String
    /// Whether to collect garbage on every allocation.
    public var gcStress: Bool

    /// An invocation with every field given.
    public init(source: String, name: String, path: String, gcStress: Bool) {
        self.source = source; self.name = name; self.path = path; self.gcStress = gcStress
    }
}

/// The two texts a case is judged on.
public struct GoldenOutput: Sendable {
    /// Everything the script printed.
    public var stdout: String
    /// The outcome's error text (`RunOutcome.errorText`): empty on success.
    public var stderr: String

    /// An output with both texts given.
    public init(stdout: String, stderr: String) { self.stdout = stdout; self.stderr = stderr }
}

/// A case's expected and actual output.
public struct GoldenResult: Sendable {
    /// The case that ran.
    public let testCase: GoldenCase
    /// The contents of the `.out` and `.err` files ("" when missing).
    public let expected: GoldenOutput
    /// What the run produced.
    public let actual: GoldenOutput

    /// An expected/actual pair.
    public init(testCase: GoldenCase, expected: GoldenOutput, actual: GoldenOutput) {
        self.testCase = testCase; self.expected = expected; self.actual = actual
    }

    /// Whether both texts match byte for byte (not by Unicode canonical equivalence, which
    /// `String ==` uses).
    public var passed: Bool { stdoutMatches && stderrMatches }
    var stdoutMatches: Bool { expected.stdout.utf8.elementsEqual(actual.stdout.utf8) }
    var stderrMatches: Bool { expected.stderr.utf8.elementsEqual(actual.stderr.utf8) }

    /// A unified diff of each mismatched stream, at most `maxLines` lines of hunks per
    /// stream; "" when the case passed.
    public func diff(maxLines: Int = 20) -> String {
        var text = ""
        let base = String(testCase.name.dropLast(testCase.name.hasSuffix(".cap") ? 4 : 0))
        if !stdoutMatches {
            text += TextDiff(expected: expected.stdout, actual: actual.stdout)
                .render(expectedLabel: base + ".out", actualLabel: "stdout", maxLines: maxLines)
        }
        if !stderrMatches {
            text += TextDiff(expected: expected.stderr, actual: actual.stderr)
                .render(expectedLabel: base + ".err", actualLabel: "stderr", maxLines: maxLines)
        }
        return text
    }
}
