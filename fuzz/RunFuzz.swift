// libFuzzer harness that compiles *and runs* each input in a small VM.
//
// The VM has no instruction or memory budget yet, so a generated `while true {}` runs
// forever and `s = s + s` in a loop exhausts memory. fuzz/run.sh therefore runs this harness
// in libFuzzer's fork mode with `-timeout` and `-ignore_timeouts=1 -ignore_ooms=1`: hangs
// and out-of-memory kills are skipped, crashes (traps, sanitizer reports) still stop it.
// `import` is not resolved against the disk: inputs that import anything but the built-in
// `math` module are skipped so the fuzzer never reads or runs files from this machine.
import CapsuleCore
import CapsuleSyntax

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRun(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let text = String(decoding: bytes, as: UTF8.self)
    if text.contains("import") && !onlyImportsMath(text) { return -1 }
    var configuration = Configuration()
    configuration.maxCallDepth = 200
    configuration.maxNativeDepth = 20
    configuration.threadStackSize = 64 << 20
    configuration.modulePaths = []
    configuration.output = { _ in }
    let vm = VM(configuration: configuration)
    let outcome = vm.run(source: text, name: "fuzz.cap")
    switch outcome {
    case .ok, .compileError, .runtimeError, .exited: break
    case .ioError(let message): preconditionFailure("I/O error from a source string: \(message)")
    }
    return 0
}

/// True if every `import` in `text` is followed by `"math"` (spaces and tabs allowed between).
func onlyImportsMath(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    let keyword = Array("import".utf8), math = Array("\"math\"".utf8)
    var i = 0
    while i + keyword.count <= bytes.count {
        if bytes[i..<(i + keyword.count)].elementsEqual(keyword) {
            var j = i + keyword.count
            while j < bytes.count && (bytes[j] == 0x20 || bytes[j] == 0x09) { j += 1 }
            guard j + math.count <= bytes.count, bytes[j..<(j + math.count)].elementsEqual(math) else { return false }
            i = j
        } else {
            i += 1
        }
    }
    return true
}
