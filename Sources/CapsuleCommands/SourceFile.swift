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

/// Reads a whole file as UTF-8 text (invalid sequences become U+FFFD, as the lexer would
/// reject them anyway). Uses stdio rather than Foundation to get the `errno` reason.
func readTextFile(atPath path: String) throws(FileReadError) -> String {
    var info = stat()
    if stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
        throw FileReadError(path: path, reason: String(cString: strerror(EISDIR)))
    }
    guard let file = fopen(path, "rb") else {
        throw FileReadError(path: path, reason: String(cString: strerror(errno)))
    }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    var readError: Int32 = 0
    while true {
        errno = 0
        let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        // Taken at once: later calls (even array appends) may change errno.
        readError = errno
        bytes.append(contentsOf: chunk[..<count])
        if count < chunk.count { break }
    }
    if ferror(file) != 0 {
        // Reading a directory fails here (EISDIR), not in fopen.
        throw FileReadError(path: path, reason: String(cString: strerror(readError == 0 ? EIO : readError)))
    }
    return String(decoding: bytes, as: UTF8.self)
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
