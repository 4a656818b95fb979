#if canImport(Glibc)
import Glibc
#endif

/// Text that natives build for a script (`str`, interpolation, `join`, `format`, `print`)
/// outside the heap. It never grows past `limit` bytes (what is left under the heap limit)
/// and grows with `realloc`, which can fail: either way it stops and sets `failed` instead
/// of trapping, and the native raises `out of memory` (docs/limits.md). Swift's own String
/// growth traps when memory runs out, so text of a size the script chooses is built here.
final class TextBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>? = nil
    private(set) var count = 0
    private var capacity = 0
    /// The most bytes the text may hold.
    private(set) var limit: Int
    /// Asked once, when the text would pass `limit`, for a new limit (the runtime collects
    /// garbage and answers what is left under the heap limit then).
    private var roomAfterCollecting: (() -> Int)?
    /// Set once an append did not fit under `limit` or memory ran out; appends then do nothing.
    private(set) var failed = false

    init(limit: Int, roomAfterCollecting: (() -> Int)? = nil) {
        self.limit = limit
        self.roomAfterCollecting = roomAfterCollecting
    }
    deinit { free(base) }

    /// The text so far.
    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }
    var string: String { String(decoding: bytes, as: UTF8.self) }

    /// Whether `n` more bytes fit; grows the storage (fallibly) when they do.
    private func room(_ n: Int) -> Bool {
        if failed { return false }
        let (needed, overflow) = count.addingReportingOverflow(n)
        if !overflow && needed > limit, let more = roomAfterCollecting {
            roomAfterCollecting = nil
            limit = more()
        }
        if overflow || needed > limit { failed = true; return false }
        if needed <= capacity { return true }
        let grown = capacity > limit / 2 ? limit : max(64, capacity * 2)
        let newCapacity = max(needed, min(grown, limit))
        guard let p = realloc(base, newCapacity) else { failed = true; return false }
        base = p.assumingMemoryBound(to: UInt8.self)
        capacity = newCapacity
        return true
    }

    func append(_ p: UnsafePointer<UInt8>, count n: Int) {
        guard n > 0, room(n), let base else { return }
        memcpy(base + count, p, n)
        count += n
    }

    func append(_ byte: UInt8) {
        guard room(1), let base else { return }
        base[count] = byte
        count += 1
    }

    func append(_ text: String) {
        var text = text
        text.withUTF8 { if let p = $0.baseAddress { append(p, count: $0.count) } }
    }

    /// The bytes that `quoted` escapes, NUL-terminated for `strcspn` (NUL itself ends its
    /// scan anyway): `"`, `\\`, 0x01–0x1F and 0x7F.
    private static let escaped: [CChar] = [0x22, 0x5C] + (1...0x1F).map { CChar($0) } + [0x7F, 0]

    /// The bytes of a string as `quoted` (CapsuleSyntax/Quoting.swift) writes them, escaped
    /// as they are copied, so no copy of the string is made first. `p[n]` must be readable and
    /// 0 (string objects end with a NUL): runs without escapes are found with `strcspn`.
    func appendQuoted(_ p: UnsafePointer<UInt8>, count n: Int) {
        append(UInt8(ascii: "\""))
        var i = 0
        while i < n && !failed {
            // NOTE: `escaped` is a non-empty array, so its base address exists.
            let run = Self.escaped.withUnsafeBufferPointer { set in
                UnsafeRawPointer(p + i).withMemoryRebound(to: CChar.self, capacity: n - i + 1) { strcspn($0, set.baseAddress.unsafelyUnwrapped) }
            }
            let plain = min(run, n - i)
            append(p + i, count: plain)
            i += plain
            if i >= n { break }
            let c = p[i]
            switch c {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case UInt8(ascii: "\n"): append("\\n")
            case UInt8(ascii: "\t"): append("\\t")
            case UInt8(ascii: "\r"): append("\\r")
            case 0: append("\\0")
            default: append("\\u{" + String(c, radix: 16) + "}")
            }
            i += 1
        }
        append(UInt8(ascii: "\""))
    }
}
