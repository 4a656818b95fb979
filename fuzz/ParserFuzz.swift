// libFuzzer harness for the lexer and parser (CapsuleSyntax).
//
// Each input is decoded as UTF-8 the way `capsule run` reads a file (invalid bytes become
// U+FFFD), then lexed, parsed, dumped and checked for completeness. Any trap, sanitizer
// report or stack overflow is a bug; diagnostics are fine but must point inside the input.
// Build and run with fuzz/run.sh.
import CapsuleSyntax

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let source = Source(name: "fuzz.cap", text: text)
    let (program, diagnostics) = parse(source)
    _ = dump(program)
    _ = isIncomplete(text)
    let length = text.utf8.count
    for diagnostic in diagnostics {
        let location = diagnostic.location
        precondition(location.line >= 1 && location.column >= 1, "diagnostic without a position: \(diagnostic)")
        precondition(Int(location.offset) <= length, "diagnostic past the end: \(diagnostic)")
        precondition(!diagnostic.message.isEmpty, "empty diagnostic message")
    }
    // Every diagnostic rendered, as the CLI renders its first 100 (one line table for all).
    _ = Diagnostic.render(diagnostics, source: source, limit: .max)
    return 0
}
