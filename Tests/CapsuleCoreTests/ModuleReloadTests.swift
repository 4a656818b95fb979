import Foundation
import Testing
@testable import CapsuleCore

/// `modules.reload(m)`: an imported script module's file runs again in the same module
/// object; refusals (parse or compile errors) change nothing and name file:line:col.
@Suite struct ModuleReloadTests {
    let directory: String
    var file: String { directory + "/counter.cap" }

    init() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("capsule-modreload-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func write(_ text: String) {
        #expect(FileManager.default.createFile(atPath: file, contents: Data(text.utf8)))
    }

    /// A VM importing `counter` from the directory, and a function evaluating lines in it.
    func session(gcStress: Bool = false) -> (String) -> String {
        let capture = OutputCapture()
        var config = Configuration()
        config.gcStress = gcStress
        config.output = { capture.append($0) }
        config.modulePaths = [directory]
        let vm = VM(configuration: config)
        return { line in
            let before = capture.text.count
            let outcome = vm.evaluateREPL(line)
            let printed = String(capture.text.dropFirst(before))
            if case .ok = outcome { return printed }
            return printed + "ERROR: " + outcome.errorText
        }
    }

    static let version1 = """
        var hits = 0
        fn answer() {
            hits += 1
            return 1
        }
        fn keep() { return "kept" }
        """

    @Test(arguments: [false, true]) func testReloadRebindsTheModulesNames(gcStress: Bool) {
        write(Self.version1)
        let evaluate = session(gcStress: gcStress)
        #expect(evaluate("import \"modules\"\nimport \"counter\"\nlet a = counter.answer\nprint(counter.answer(), a())") == "1 1\n")
        write("fn answer() { return 2 }\nfn twice(x) { return 2 * x }\n")
        #expect(evaluate("print(modules.reload(counter) == counter)") == "true\n")
        // New code through the module object; the old function value keeps the old code (and
        // the module's variables, which the new file does not redeclare, so keep their values).
        #expect(evaluate("print(counter.answer(), a(), counter.keep(), counter.hits, counter.twice(21))") == "2 1 kept 3 42\n")
    }

    @Test func testSyntaxErrorRefusesAndTheOldCodeKeepsServing() {
        write(Self.version1)
        let evaluate = session()
        #expect(evaluate("import \"modules\"\nimport \"counter\"\nprint(counter.answer())") == "1\n")
        write("let extra = 5\nfn answer( {\n    return 2\n}\n")
        let refused = evaluate("modules.reload(counter)")
        #expect(refused.hasPrefix("ERROR: error: reload of module '\(file)' refused:\n\(file):2:"), "\(refused)")
        #expect(refused.contains("error: "))
        #expect(evaluate("print(counter.answer())") == "1\n")
    }

    @Test func testCompileErrorRefusesWithoutTouchingTheModule() {
        write(Self.version1)
        let evaluate = session()
        #expect(evaluate("import \"modules\"\nimport \"counter\"\nprint(counter.answer())") == "1\n")
        write("let extra = 5\nfn answer() {\n    return nope\n}\n")
        let refused = evaluate("modules.reload(counter)")
        #expect(refused.contains("\(file):3:12: error: undefined variable 'nope'"), "\(refused)")
        #expect(evaluate("print(counter.answer())") == "1\n")
        // The refused file's new name was never added to the module.
        let missing = evaluate("print(counter.extra)")
        #expect(missing.hasPrefix("ERROR: "), "\(missing)")
        #expect(!missing.contains("undefined value"), "\(missing)")
        // A good file goes through afterwards.
        write("fn answer() { return 3 }\n")
        #expect(evaluate("modules.reload(counter)\nprint(counter.answer())") == "3\n")
    }

    @Test func testRuntimeErrorInTheNewTopLevelPropagates() {
        write(Self.version1)
        let evaluate = session()
        #expect(evaluate("import \"modules\"\nimport \"counter\"\nprint(counter.answer())") == "1\n")
        write("fn answer() { return 4 }\nlet boom = 1 / 0\n")
        let failed = evaluate("modules.reload(counter)")
        #expect(failed.hasPrefix("ERROR: \(file):2:12: error: division by zero\n    let boom = 1 / 0\n"), "\(failed)")
        // Like Python: the names bound before the error are rebound.
        #expect(evaluate("print(counter.answer())") == "4\n")
    }

    @Test func testOnlyScriptModulesReload() {
        write(Self.version1)
        let evaluate = session()
        #expect(evaluate("import \"modules\"\nimport \"math\"\nmodules.reload(math)").hasPrefix("ERROR: <repl>:3:1: error: modules.reload: 'math' is not a script module\n"))
        #expect(evaluate("modules.reload(\"counter\")").hasPrefix("ERROR: <repl>:1:1: error: modules.reload: argument 1: expected a module, got string\n"))
    }
}
