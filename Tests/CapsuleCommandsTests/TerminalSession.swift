import CapsuleHost
import Foundation
import Glibc
import Testing

/// The built `capsule` on a pseudo-terminal, as a person at a terminal runs it: the child
/// starts a session whose controlling terminal is the pty's secondary side, so readline edits
/// lines and the line discipline turns a typed Ctrl-C (`\u{03}`) into SIGINT for it.
final class TerminalSession {
    private let primary: Int32
    let pid: pid_t
    /// Everything the child wrote so far, terminal controls included.
    private(set) var output = ""
    /// Where the next `expect` starts looking, in UTF-8 bytes of `output`.
    private var mark = 0
    private var reaped = false

    /// TIOCSPTLCK and TIOCGPTN (`_IOW('T', 0x31, int)`, `_IOR('T', 0x30, unsigned)`): the
    /// importer skips function-like macros. The same numbers on x86-64 and arm64.
    private static let setLock: UInt = 0x4004_5431
    private static let getNumber: UInt = 0x8004_5430

    /// glibc's `POSIX_SPAWN_SETSID` (a GNU extension the Swift overlay does not import).
    private static let spawnSetsid: Int32 = 0x80

    init(_ arguments: [String], home: String) throws {
        // posix_openpt, unlockpt and ptsname are not imported into Swift: their Linux form.
        primary = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        var unlock: Int32 = 0, number: UInt32 = 0
        guard primary >= 0, ioctl(primary, Self.setLock, &unlock) == 0, ioctl(primary, Self.getNumber, &number) == 0 else {
            if primary >= 0 { close(primary) }
            throw POSIXError(.ENXIO)
        }
        let name = "/dev/pts/\(number)"
        var size = winsize(ws_row: 24, ws_col: 200, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(primary, UInt(TIOCSWINSZ), &size)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Opened after setsid (glibc applies the flag first): it becomes the controlling terminal.
        posix_spawn_file_actions_addopen(&actions, 0, name, O_RDWR, 0)
        posix_spawn_file_actions_adddup2(&actions, 0, 1)
        posix_spawn_file_actions_adddup2(&actions, 0, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The test runner may block or ignore signals: the child starts with the defaults.
        var none = sigset_t(), defaults = sigset_t()
        sigemptyset(&none)
        sigemptyset(&defaults)
        for s in [SIGINT, SIGURG, SIGPIPE, SIGTERM, SIGHUP] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(Self.spawnSetsid | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let binary = try #require(PluginHost.executableDirectory()).appending("/capsule")
        let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + arguments).map { strdup($0) } + [nil]
        // TERM=dumb: plain output; INPUTRC: no key bindings from the machine's settings.
        let environment: [String] = ["HOME=\(home)", "TERM=dumb", "INPUTRC=/dev/null", "PATH=/usr/bin:/bin"]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child = pid_t()
        let rc = posix_spawn(&child, binary, &actions, &attributes, argv, envp)
        guard rc == 0 else { close(primary); throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EINVAL) }
        pid = child
    }

    deinit {
        if !reaped {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        close(primary)
    }

    /// Types `text` (a Ctrl-C is `\u{03}`, Tab `\t`, Ctrl-D `\u{04}`).
    func type(_ text: String) {
        var bytes = Array(text.utf8)
        _ = write(primary, &bytes, bytes.count)
    }

    /// Reads until `text` appears after the previous match (then moves past it); false if
    /// it has not appeared within `seconds` or the child is gone.
    @discardableResult
    func expect(_ text: String, within seconds: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let unread = rest
            if let r = unread.range(of: text) {
                mark += unread[..<r.upperBound].utf8.count
                return true
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return false }
            var p = pollfd(fd: primary, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, Int32(min(left, 1) * 1000) + 1) >= 0 else { continue }
            if p.revents == 0 { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = read(primary, &buffer, buffer.count)
            // EIO: the child closed the terminal (it ended).
            guard n > 0 else { return false }
            output += String(decoding: buffer[..<n], as: UTF8.self)
        }
    }

    /// Output from the last match on, for messages.
    var rest: String { String(decoding: output.utf8.dropFirst(mark), as: UTF8.self) }

    /// Waits for the child to end; its exit status, or 128 + the signal that ended it, or nil
    /// if it is still running after `seconds`.
    func exitStatus(within seconds: Double = 20) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            _ = expect("\u{0}", within: 0.05)  // keep draining, so the child never blocks on output
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                reaped = true
                let signal = status & 0x7f
                return signal == 0 ? (status >> 8) & 0xff : 128 + signal
            }
        }
        return nil
    }
}
