import CapsuleSyntax
import Glibc

/// The environment variables among `names` that are set, read with `getenv`: the
/// dictionary the commands take as their environment, without reading all of `environ`
/// (or starting Foundation's `ProcessInfo`) on every run.
func environmentVariables(_ names: String...) -> [String: String] {
    var result: [String: String] = [:]
    for name in names {
        if let value = getenv(name) { result[name] = String(cString: value) }
    }
    return result
}

/// Writes `text` to file descriptor 2 unbuffered (as `FileHandle.standardError` did),
/// retrying partial writes and `EINTR`. Other errors are ignored: there is nowhere left to
/// report them. Everything the CLI writes to standard error passes here and is made
/// terminal-safe (`TerminalText`, keeping line feeds and tabs): messages quote file, module,
/// plugin and symbol names and plugin text.
func writeStandardError(_ text: String) {
    var text = TerminalText.safe(text, multiline: true)
    text.withUTF8 { bytes in
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = write(STDERR_FILENO, base + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }
}

/// The kind of file at `path`, following symbolic links (`stat`) or not (`lstat`); nil if
/// there is nothing there (or it cannot be examined).
func isDirectory(atPath path: String, followingLinks: Bool = true) -> Bool? {
    var info = stat()
    let status = followingLinks ? stat(path, &info) : lstat(path, &info)
    guard status == 0 else { return nil }
    return (info.st_mode & S_IFMT) == S_IFDIR
}

/// The names in directory `path` other than `.` and `..`, in no particular order; empty if
/// it cannot be read.
func directoryEntries(atPath path: String) -> [String] {
    guard let directory = opendir(path) else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}
