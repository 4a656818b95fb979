#if canImport(Glibc)
import Glibc
#endif
import CapsuleCore

/// A TCP socket of the `net` module: a listener or a connection. Non-blocking underneath:
/// each operation is tried without waiting (`tryRead`, `tryAccept`…), and what must wait is
/// the caller's choice (NetModule.perform): the fiber parks on the descriptor, or, where it
/// cannot, the thread blocks in a `poll`. Either way the wait is bounded by the socket's
/// timeout and the VM's deadline. Closed by `net.close` or when the script's handle is
/// collected.
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

    /// Waits until `fd` is ready for `events`: the thread blocks in `poll` (used where the
    /// calling fiber cannot park, and by plugins' `connect_tcp`).
    static func wait(_ fd: Int32, _ events: Int32, _ d: Deadlines) -> Result<Void, Failure> {
        while true {
            let now = MonotonicClock.now()
            if let vm = d.vm, now >= vm { return .failure(.vmDeadline) }
            if let at = d.at, now >= at { return .failure(.timedOut(d.timeout ?? 0)) }
            var p = pollfd(fd: fd, events: Int16(events), revents: 0)
            let n = poll(&p, 1, MonotonicClock.pollTimeout(until: [d.at, d.vm], now: now))
            if n < 0 {
                if errno == EINTR { if RunDeadline.interrupted { return .failure(.interrupted) }; continue }
                return .failure(.system(errno))
            }
            if n > 0 { return .success(()) }
        }
    }

    /// What one non-blocking try of an operation came to: its result, or the direction it
    /// must wait for on `fd` before trying again.
    enum Attempt<T> {
        case done(Result<T, Failure>)
        case wait(fd: Int32, write: Bool)
    }

    /// Tries `attempt` until it is done, blocking the thread in `poll` between tries.
    static func blocking<T>(_ d: Deadlines, _ attempt: () -> Attempt<T>) -> Result<T, Failure> {
        while true {
            switch attempt() {
            case .done(let r): return r
            case .wait(let fd, let write):
                if case .failure(let f) = wait(fd, Int32(write ? POLLOUT : POLLIN), d) { return .failure(f) }
            }
        }
    }

    /// An operation a fiber parked in, kept for the call's rerun after the wake-up: the
    /// deadlines set when the call began and (a write) how much is sent. By fiber, so a
    /// fiber's own rerun finds its own; one left by a fiber cancelled out of its wait is
    /// replaced by that fiber's next park, or goes with the socket.
    struct Pending {
        let deadlines: Deadlines
        var offset = 0
    }
    var pendingReads: [Int: Pending] = [:]
    var pendingWrites: [Int: Pending] = [:]

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

    /// Connects to the first address of `host` that accepts, within `timeout` seconds in all,
    /// blocking the thread (plugins' `connect_tcp`, and scripts where a fiber cannot park).
    package static func connect(host: String, port: UInt16, timeout: Double?, vm: Int?) -> Result<NetSocket, Failure> {
        let d = Deadlines(timeout: timeout, vm: vm)
        switch Connecting.start(host: host, port: port, deadlines: d) {
        case .failure(let f): return .failure(f)
        case .success(let c):
            while true {
                switch c.step() {
                case .done(let r): return r
                case .wait(let fd, _):
                    switch wait(fd, Int32(POLLOUT), d) {
                    case .success: continue
                    case .failure(.system(let e)): c.abandonCandidate(e)  // the next address
                    case .failure(let f): return .failure(f)
                    }
                }
            }
        }
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

    /// The next connection (a listener only), without waiting: `.wait` when none is queued.
    func tryAccept() -> Attempt<NetSocket> {
        while true {
            // (accept4 is hidden from Swift's Glibc module, which is built without _GNU_SOURCE.)
            let fd = Glibc.accept(self.fd, nil, nil)
            if fd >= 0 {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                return .done(.success(NetSocket(fd: fd, isListener: false)))
            }
            if errno == EINTR || errno == ECONNABORTED { continue }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { return .done(.failure(.system(errno))) }
            return .wait(fd: self.fd, write: false)
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

    /// Up to `count` bytes (at most 64 KiB), without waiting: what has arrived, empty at the
    /// end of the stream, `.wait` when nothing has.
    func tryRead(_ count: Int) -> Attempt<[UInt8]> {
        if !buffer.isEmpty {
            let out = Array(buffer.prefix(count))
            buffer.removeFirst(out.count)
            return .done(.success(out))
        }
        // At most 64 KiB per call: "up to n" lets a huge n cost no more than a small one.
        var chunk = [UInt8](repeating: 0, count: min(count, 65536))
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n >= 0 { return .done(.success(Array(chunk[0..<n]))) }
            if errno == EINTR { continue }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { return .done(.failure(.system(errno))) }
            return .wait(fd: fd, write: false)
        }
    }

    /// The next line without its `\n` (a `\r` before it is kept); nil at the end of the
    /// stream with nothing left; `.wait` when the line is not complete yet (what arrived
    /// stays in `buffer`, so the next try goes on from there).
    func tryReadLine() -> Attempt<[UInt8]?> {
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let line = Array(buffer[..<nl])
                buffer.removeFirst(nl + 1)
                return .done(.success(line))
            }
            if buffer.count > Self.maxLine { return .done(.failure(.lineTooLong)) }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { buffer += chunk[0..<n]; continue }
            if n == 0 {
                if buffer.isEmpty { return .done(.success(nil)) }
                defer { buffer = [] }
                return .done(.success(buffer))
            }
            if errno == EINTR { continue }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { return .done(.failure(.system(errno))) }
            return .wait(fd: fd, write: false)
        }
    }

    /// Sends what the socket takes of `data` from `offset` on (MSG_NOSIGNAL: a closed peer is
    /// EPIPE, never SIGPIPE), advancing `offset`; done when all of it is sent.
    func tryWrite(_ data: UnsafeBufferPointer<UInt8>, from offset: inout Int) -> Attempt<Int> {
        guard let base = data.baseAddress else { return .done(.success(0)) }
        // NOTE: `base + offset` stays inside `data`: offset only grows by what send took of
        // the rest, and a caller resuming clamps it to the current count first.
        offset = min(max(offset, 0), data.count)
        while offset < data.count {
            let n = send(fd, base + offset, data.count - offset, Int32(MSG_NOSIGNAL))
            if n >= 0 { offset += n; continue }
            if errno == EINTR { continue }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { return .done(.failure(.system(errno))) }
            return .wait(fd: fd, write: true)
        }
        return .done(.success(data.count))
    }
}

/// A connection being made without blocking: the addresses left to try and the socket whose
/// `connect` is in progress. Kept across a parked fiber's wake-up (`NetModule.connect`);
/// closes the socket in progress if dropped before it connects.
final class Connecting {
    let deadlines: NetSocket.Deadlines
    private var candidates: [(Int32, [UInt8])]
    private var next = 0
    /// The socket whose connect is in progress, or -1.
    private(set) var fd: Int32 = -1
    private var last = NetSocket.Failure.system(EADDRNOTAVAIL)

    private init(candidates: [(Int32, [UInt8])], deadlines: NetSocket.Deadlines) {
        self.candidates = candidates
        self.deadlines = deadlines
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Resolves `host` (getaddrinfo blocks the thread: names are looked up as before).
    static func start(host: String, port: UInt16, deadlines: NetSocket.Deadlines) -> Result<Connecting, NetSocket.Failure> {
        switch NetSocket.addresses(host, port, passive: false) {
        case .failure(let f): return .failure(f)
        case .success(let list): return .success(Connecting(candidates: list, deadlines: deadlines))
        }
    }

    /// The socket in progress failed with `error`: closes it; the next step tries the next
    /// address.
    func abandonCandidate(_ error: Int32) {
        if fd >= 0 { close(fd); fd = -1 }
        last = .system(error)
    }

    /// Goes on without blocking: a connected socket, the last failure once every address
    /// failed, or `.wait` for the socket in progress to become writable.
    func step() -> NetSocket.Attempt<NetSocket> {
        if fd >= 0 {
            // Writable means the connect finished, one way or the other; SO_ERROR says which.
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            if poll(&p, 1, 0) == 0 { return .wait(fd: fd, write: true) }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            if getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 { error = errno }
            if error == 0 {
                let connected = NetSocket(fd: fd, isListener: false)
                fd = -1
                return .done(.success(connected))
            }
            abandonCandidate(error)
        }
        while next < candidates.count {
            let (family, address) = candidates[next]
            next += 1
            let s = NetSocket.newSocket(family)
            if s < 0 { last = .system(errno); continue }
            let r = address.withUnsafeBytes { raw -> Int32 in
                // NOTE: the bytes are a sockaddr getaddrinfo made, ai_addrlen long.
                guard let base = raw.baseAddress else { return -1 }
                return Glibc.connect(s, base.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
            }
            if r == 0 { return .done(.success(NetSocket(fd: s, isListener: false))) }
            guard errno == EINPROGRESS else { last = .system(errno); close(s); continue }
            fd = s
            return .wait(fd: s, write: true)
        }
        return .done(.failure(last))
    }
}
