// libFuzzer harness for the compiler (CapsuleSyntax + CapsuleCore/Compiler), without running.
//
// Each input goes through `VM.check`, which parses and compiles to bytecode; successful
// compiles are also disassembled, which walks every emitted instruction and constant.
// A compile error must come back as diagnostics with a position, never as a crash.
// A fresh VM per input keeps runs independent. Build and run with fuzz/run.sh.
import CapsuleCore
import CapsuleSyntax

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCompiler(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var configuration = Configuration()
    configuration.threadStackSize = 64 << 20
    configuration.output = { _ in }
    let vm = VM(configuration: configuration)
    let diagnostics = vm.check(source: text, name: "fuzz.cap")
    for diagnostic in diagnostics {
        precondition(diagnostic.location.line >= 1 && diagnostic.location.column >= 1,
                     "diagnostic without a position: \(diagnostic)")
        precondition(!diagnostic.message.isEmpty, "empty diagnostic message")
    }
    switch vm.disassemble(source: text, name: "fuzz.cap") {
    case .success(let listing):
        precondition(diagnostics.isEmpty, "check reported errors but disassemble compiled")
        _ = listing
    case .failure(let failure):
        precondition(!failure.diagnostics.isEmpty, "compile failed without diagnostics")
    }
    return 0
}
