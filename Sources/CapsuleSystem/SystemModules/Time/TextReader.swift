import CapsuleSyntax

/// Reading text, for `time.parse` (a `strptime` pattern) and `time.parse_iso`.
///
/// Written here rather than on glibc's `strptime`, which has no `%f`, accepts February 30
/// and `24` as a `%Y`, and on a mismatch says nothing of where (called one directive at a
/// time it would lose the `%I`/`%p` pairing): each failure here names the offset in the
/// text and what the pattern expected.
struct TextReader {
    let text: UnsafeBufferPointer<UInt8>
    var i = 0

    init(_ text: UnsafeBufferPointer<UInt8>) { self.text = text }

    var atEnd: Bool { i >= text.count }
    var peek: UInt8? { i < text.count ? text[i] : nil }

    /// The offset of byte `i` in Unicode scalars, as messages count.
    func offset(_ at: Int? = nil) -> Int {
        var n = 0
        for k in 0..<min(at ?? i, text.count) where text[k] & 0xC0 != 0x80 { n += 1 }
        return n
    }

    /// What is at `i`, for a message: up to 12 characters, quoted, or "the end of the text".
    var found: String {
        if atEnd { return "the end of the text" }
        let slice = String(decoding: text[i..<min(i + 64, text.count)], as: UTF8.self)
        var scalars = String.UnicodeScalarView()
        var more = false
        for (n, s) in slice.unicodeScalars.enumerated() {
            if n == 12 { more = true; break }
            scalars.append(s)
        }
        return quoted(String(scalars) + (more || i + 64 < text.count ? "…" : ""))
    }

    /// An error at the current offset.
    func fail(_ what: String) -> TimeError {
        .message("at offset \(offset()) of the text: \(what), found \(found)")
    }

    static func isSpace(_ c: UInt8) -> Bool { c == 32 || (9...13).contains(c) }
    static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    /// Between `min` and `max` ASCII digits as a number (at most 9 digits: no overflow).
    mutating func digits(_ min: Int, _ max: Int, _ what: @autoclosure () -> String) throws(TimeError) -> Int {
        var n = 0, count = 0
        while count < max, let c = peek, Self.isDigit(c) { n = n * 10 + Int(c - 48); count += 1; i += 1 }
        if count < min { i -= count; throw fail(what()) }
        return n
    }

    /// Digits of a fraction of a second as nanoseconds; digits past the ninth are read and dropped.
    mutating func fraction(_ what: @autoclosure () -> String) throws(TimeError) -> Int {
        var ns = 0, count = 0
        while let c = peek, Self.isDigit(c) {
            if count < 9 { ns = ns * 10 + Int(c - 48) }
            count += 1; i += 1
        }
        if count == 0 { throw fail(what()) }
        for _ in min(count, 9)..<9 { ns *= 10 }
        return ns
    }

    /// Consumes `c` (ASCII letters in either case) when it is next.
    mutating func take(_ c: UInt8) -> Bool {
        guard let p = peek else { return false }
        if p == c || (Self.lower(p) == Self.lower(c) && Self.isLetter(c)) { i += 1; return true }
        return false
    }

    static func isLetter(_ c: UInt8) -> Bool { (65...90).contains(c) || (97...122).contains(c) }
    static func lower(_ c: UInt8) -> UInt8 { (65...90).contains(c) ? c + 32 : c }

    /// The index in `names` of the name next in the text (full name or its first three
    /// letters, any case), longest match first.
    mutating func name(_ names: [[UInt8]], _ what: @autoclosure () -> String) throws(TimeError) -> Int {
        for full in [true, false] {
            for (k, name) in names.enumerated() {
                let n = full ? name.count : min(3, name.count)
                if i + n <= text.count, (0..<n).allSatisfy({ Self.lower(text[i + $0]) == Self.lower(name[$0]) }) {
                    i += n
                    return k
                }
            }
        }
        throw fail(what())
    }

    /// `Z`, `+hh:mm`, `+hhmm` or `+hh` (or `-`): seconds east of UTC.
    mutating func offsetFromUTC(_ what: String) throws(TimeError) -> Int {
        if take(UInt8(ascii: "Z")) { return 0 }
        guard let sign = peek, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { throw fail(what) }
        i += 1
        let h = try digits(2, 2, what)
        var m = 0
        if take(UInt8(ascii: ":")) {
            m = try digits(2, 2, what)
        } else if let c = peek, Self.isDigit(c) {
            m = try digits(2, 2, what)
        }
        guard h <= 23, m <= 59 else { throw .message("offset \(sign == 45 ? "-" : "+")\(twoDigits(h)):\(twoDigits(m)) is out of range (-23:59 to +23:59)") }
        let seconds = h * 3600 + m * 60
        return sign == UInt8(ascii: "-") ? -seconds : seconds
    }
}
