import CapsuleHost
import Foundation

/// A file that could not be read, with the system's reason (`No such file or directory`).
struct FileReadError: Error, Equatable {
    var path: String
    var reason: String

    /// `cannot read PATH: REASON`, the wording `VM.runFile` uses for `.ioError`.
    var message: String { "cannot read \(path): \(reason)" }

    /// The matching run outcome, so callers report it like any other I/O error.
    var outcome: RunOutcome { .ioError(message: message) }
}

/// Reads a whole file as UTF-8 text (invalid sequences become U+FFFD, as the lexer would
/// reject them anyway). Uses stdio rather than Foundation to get the `errno` reason.
func readTextFile(atPath path: String) throws(FileReadError) -> String {
    guard let file = fopen(path, "rb") else {
        throw FileReadError(path: path, reason: String(cString: strerror(errno)))
    }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        bytes.append(contentsOf: chunk[..<count])
        if count < chunk.count { break }
    }
    if ferror(file) != 0 {
        // Reading a directory fails here (EISDIR), not in fopen.
        throw FileReadError(path: path, reason: String(cString: strerror(errno)))
    }
    return String(decoding: bytes, as: UTF8.self)
}
