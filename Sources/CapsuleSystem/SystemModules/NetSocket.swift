#if canImport(Glibc)
import Glibc
#endif
import CapsuleCore

/// A TCP socket of the `net` module: a listener or a connection. Non-blocking underneath;
/// every wait is a `poll` bounded by the socket's timeout and the VM's deadline, so no call
/// blocks past either. Closed by `net.close` or when the script's handle is collected.
package final class NetSocket {
    package var fd: Int32
    let isListener: Bool
    /// Bytes read ahead by `readLine`, served first by later reads.
    var buffer: [UInt8] = []
    /// Seconds each blocking operation may wait; nil: only the VM's deadline bounds it.
    var timeout: Double? = NetSocket.defaultTimeout

    /// Each blocking operation's limit until `net.set_timeout` changes it.
    static let defaultTimeout = 30.0
    /// The longest line `read_line` collects.
    static let maxLine = 16 << 20

    init(fd: Int32, isListener: Bool) {
        self.fd = fd
        self.isListener = isListener
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Why an operation ended without a result.
    package enum Failure: Error {
        /// The socket's timeout passed (seconds).
        case timedOut(Double)
        /// The VM's deadline passed.
        case vmDeadline
        /// The VM was interrupted (Ctrl-C in the REPL, `RunDeadline.interrupted`).
        case interrupted
        /// A system call failed (errno).
        case system(Int32)
        /// getaddrinfo failed (its message).
        case resolve(String)
        /// A line passed `maxLine` bytes.
        case lineTooLong
    }

    /// When an operation starting now must end: the socket's timeout and the VM's deadline.
    struct Deadlines {
        let timeout: Double?
        let at: Int?
        let vm: Int?
        init(timeout: Double?, vm: Int?) {
            self.timeout = timeout
            at = timeout.map { RunDeadline.after(seconds: $0, from: MonotonicClock.now()) }
            self.vm = vm
        }
    }

    /// Waits until `fd` is ready for `events`.
    static func wait(_ fd: Int32, _ events: Int32, _ d: Deadlines) -> Result<Void, Failure> {
        while true {
            let now = MonotonicClock.now()
            if let vm = d.vm, now >= vm { return .failure(.vmDeadline) }
            if let at = d.at, now >= at { return .failure(.timedOut(d.timeout!)) }
            var p = pollfd(fd: fd, events: Int16(events), revents: 0)
            let n = poll(&p, 1, MonotonicClock.pollTimeout(until: [d.at, d.vm], now: now))
            if n < 0 {
                if errno == EINTR { if RunDeadline.interrupted { return .failure(.interrupted) }; continue }
                return .failure(.system(errno))
            }
            if n > 0 { return .success(()) }
        }
    }

    // MARK: connecting and listening

    /// The addresses of `host`:`port` (numeric port), or the resolver's message.
    static func addresses(_ host: String, _ port: UInt16, passive: Bool) -> Result<[(Int32, [UInt8])], Failure> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0 else {
            return .failure(status == EAI_SYSTEM ? .system(errno) : .resolve(String(cString: gai_strerror(status))))
        }
        defer { freeaddrinfo(list) }
        var result: [(Int32, [UInt8])] = []
        var entry = list
        while let e = entry {
            if let address = e.pointee.ai_addr {
                let bytes = Array(UnsafeRawBufferPointer(start: address, count: Int(e.pointee.ai_addrlen)))
                result.append((e.pointee.ai_family, bytes))
            }
            entry = e.pointee.ai_next
        }
        return .success(result)
    }

    static func newSocket(_ family: Int32) -> Int32 {
        socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
    }

    /// Connects to the first address of `host` that accepts, within `timeout` seconds in all.
    package static func connect(host: String, port: UInt16, timeout: Double?, vm: Int?) -> Result<NetSocket, Failure> {
        let d = Deadlines(timeout: timeout, vm: vm)
        let candidates: [(Int32, [UInt8])]
        switch addresses(host, port, passive: false) {
        case .failure(let f): return .failure(f)
        case .success(let list): candidates = list
        }
        var last = Failure.system(EADDRNOTAVAIL)
        for (family, address) in candidates {
            let fd = newSocket(family)
            if fd < 0 { last = .system(errno); continue }
            let r = address.withUnsafeBytes { Glibc.connect(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count)) }
            if r == 0 { return .success(NetSocket(fd: fd, isListener: false)) }
            guard errno == EINPROGRESS else { last = .system(errno); close(fd); continue }
            switch wait(fd, Int32(POLLOUT), d) {
            case .failure(let f):
                close(fd)
                if case .system = f { last = f; continue }
                return .failure(f)
            case .success:
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                if error == 0 { return .success(NetSocket(fd: fd, isListener: false)) }
                last = .system(error)
                close(fd)
            }
        }
        return .failure(last)
    }

    /// A listener bound to `host`:`port` (0: the kernel picks a free port).
    static func listen(host: String, port: UInt16) -> Result<NetSocket, Failure> {
        let candidates: [(Int32, [UInt8])]
        switch addresses(host, port, passive: true) {
        case .failure(let f): return .failure(f)
        case .success(let list): candidates = list
        }
        guard let (family, address) = candidates.first else { return .failure(.system(EADDRNOTAVAIL)) }
        let fd = newSocket(family)
        if fd < 0 { return .failure(.system(errno)) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = address.withUnsafeBytes { bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count)) }
        guard bound == 0, Glibc.listen(fd, 128) == 0 else { let e = errno; close(fd); return .failure(.system(e)) }
        return .success(NetSocket(fd: fd, isListener: true))
    }

    /// The next connection (a listener only).
    func accept(vm: Int?) -> Result<NetSocket, Failure> {
        let d = Deadlines(timeout: timeout, vm: vm)
        while true {
            let fd = Glibc.accept(self.fd, nil, nil)
            if fd >= 0 {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                return .success(NetSocket(fd: fd, isListener: false))
            }
            if errno == EINTR || errno == ECONNABORTED { continue }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { return .failure(.system(errno)) }
            if case .failure(let f) = Self.wait(self.fd, Int32(POLLIN), d) { return .failure(f) }
        }
    }

    /// The local port.
    func localPort() -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { return nil }
        return withUnsafeBytes(of: &storage) { raw in
            // sin_port and sin6_port sit at the same offset, in network byte order.
            Int(UInt16(raw[2]) << 8 | UInt16(raw[3]))
        }
    }

    // MARK: reading and writing

    /// Up to `count` bytes (at most 64 KiB), as soon as any arrive; empty at the end of the
    /// stream.
    func read(_ count: Int, vm: Int?) -> Result<[UInt8], Failure> {
        if !buffer.isEmpty {
            let out = Array(buffer.prefix(count))
            buffer.removeFirst(out.count)
            return .success(out)
        }
        let d = Deadlines(timeout: timeout, vm: vm)
        // At most 64 KiB per call: "up to n" lets a huge n cost no more than a small one.
        var chunk = [UInt8](repeating: 0, count: min(count, 65536))
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n >= 0 { return .success(Array(chunk[0..<n])) }
            if errno == EINTR { continue }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { return .failure(.system(errno)) }
            if case .failure(let f) = Self.wait(fd, Int32(POLLIN), d) { return .failure(f) }
        }
    }

    /// The next line without its `\n` (a `\r` before it is kept); nil at the end of the
    /// stream with nothing left. The timeout bounds the whole line.
    func readLine(vm: Int?) -> Result<[UInt8]?, Failure> {
        let d = Deadlines(timeout: timeout, vm: vm)
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let line = Array(buffer[..<nl])
                buffer.removeFirst(nl + 1)
                return .success(line)
            }
            if buffer.count > Self.maxLine { return .failure(.lineTooLong) }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { buffer += chunk[0..<n]; continue }
            if n == 0 {
                if buffer.isEmpty { return .success(nil) }
                defer { buffer = [] }
                return .success(buffer)
            }
            if errno == EINTR { continue }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { return .failure(.system(errno)) }
            if case .failure(let f) = Self.wait(fd, Int32(POLLIN), d) { return .failure(f) }
        }
    }

    /// Writes all of `data` (MSG_NOSIGNAL: a closed peer is EPIPE, never SIGPIPE).
    func write(_ data: UnsafeBufferPointer<UInt8>, vm: Int?) -> Result<Int, Failure> {
        let d = Deadlines(timeout: timeout, vm: vm)
        var offset = 0
        while offset < data.count {
            let n = send(fd, data.baseAddress! + offset, data.count - offset, Int32(MSG_NOSIGNAL))
            if n >= 0 { offset += n; continue }
            if errno == EINTR { continue }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { return .failure(.system(errno)) }
            if case .failure(let f) = Self.wait(fd, Int32(POLLOUT), d) { return .failure(f) }
        }
        return .success(data.count)
    }
}
