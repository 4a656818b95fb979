import CapsuleHost
import Glibc

/// A file that could not be read, with the system's reason (`No such file or directory`).
struct FileReadError: Error, Equatable {
    var path: String
    var reason: String

    /// `cannot read PATH: REASON`, the wording `VM.runFile` uses for `.ioError`.
    var message: String { "cannot read \(path): \(reason)" }

    /// The matching run outcome, so callers report it like any other I/O error.
    var outcome: RunOutcome { .ioError(message: message) }
}

/// Reads a whole file the user named on the command line (a script, an audit log) as UTF-8
/// text, through the VM's own reader (`readSourceFile`); pipes and FIFOs are read too.
func readTextFile(atPath path: String) throws(FileReadError) -> String {
    switch readSourceFile(atPath: path, allowingStreams: true) {
    case .success(let text): return text
    case .failure(let error): throw FileReadError(path: error.path, reason: error.reason)
    }
}

/// A file that could not be written or removed, with the system's reason.
struct FileWriteError: Error, Equatable, CustomStringConvertible {
    var path: String
    var reason: String
    /// `write` or `remove`.
    var action: String

    /// `cannot write PATH: REASON`.
    var description: String { "cannot \(action) \(path): \(reason)" }
}

/// Replaces the contents of the file at `path` with `text` (creating it if needed).
func writeTextFile(_ text: String, atPath path: String) throws(FileWriteError) {
    func failure() -> FileWriteError {
        FileWriteError(path: path, reason: String(cString: strerror(errno)), action: "write")
    }
    guard let file = fopen(path, "wb") else { throw failure() }
    var text = text
    let written = text.withUTF8 { bytes in
        bytes.isEmpty ? 0 : fwrite(bytes.baseAddress, 1, bytes.count, file)
    }
    if written != text.utf8.count {
        let error = failure()
        fclose(file)
        throw error
    }
    if fclose(file) != 0 { throw failure() }
}

/// Removes the file at `path`.
func removeFile(atPath path: String) throws(FileWriteError) {
    if unlink(path) != 0 {
        throw FileWriteError(path: path, reason: String(cString: strerror(errno)), action: "remove")
    }
}

/// Reads all of standard input as UTF-8 text (`capsule run -`), like `readSourceFile` reads
/// a file (invalid sequences become U+FFFD, which the lexer rejects).
func readStandardInput() -> Result<String, FileReadError> {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
        if n > 0 { bytes.append(contentsOf: chunk[..<n]); continue }
        if n == 0 { break }
        if errno == EINTR { continue }
        return .failure(FileReadError(path: "<stdin>", reason: String(cString: strerror(errno))))
    }
    return .success(String(decoding: bytes, as: UTF8.self))
}
