/// The one JSON reader of the code base: strict RFC 8259 (no comments, no trailing commas,
/// UTF-8 text), over raw bytes, handing each value to a `JSONBuilder`. The policy manifest
/// builds `JSONNode` trees with it (API/JSONText.swift); `json.parse` builds VM values
/// directly (Builtins/JSONModule.swift).
///
/// Nesting deeper than `maxDepth` is an error, so the recursion is bounded. Ints that fit in
/// Int64 stay ints; other ints become the nearest float. Strings must be valid UTF-8 and a
/// `\u` escape of a lone surrogate is an error. Errors carry a byte offset; `position(of:in:)`
/// turns it into a 1-based line and column (in Unicode scalars), computed only on error.
package protocol JSONBuilder {
    associatedtype Node
    associatedtype ArrayBuilder
    associatedtype ObjectBuilder
    associatedtype Key
    mutating func null(at offset: Int) throws(JSONScanError) -> Node
    mutating func bool(_ b: Bool, at offset: Int) throws(JSONScanError) -> Node
    mutating func int(_ i: Int64, at offset: Int) throws(JSONScanError) -> Node
    mutating func double(_ d: Double, at offset: Int) throws(JSONScanError) -> Node
    mutating func string(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) throws(JSONScanError) -> Node
    mutating func beginArray(at offset: Int) throws(JSONScanError) -> ArrayBuilder
    mutating func append(_ array: inout ArrayBuilder, _ value: Node)
    mutating func endArray(_ array: ArrayBuilder) -> Node
    mutating func beginObject(at offset: Int) throws(JSONScanError) -> ObjectBuilder
    mutating func key(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) throws(JSONScanError) -> Key
    mutating func set(_ object: inout ObjectBuilder, _ key: Key, _ value: Node)
    mutating func endObject(_ object: ObjectBuilder) -> Node
}

/// A JSON syntax error (or a builder's refusal) at a byte offset of the text.
package struct JSONScanError: Error {
    package var message: String
    package var offset: Int
    package init(message: String, offset: Int) { self.message = message; self.offset = offset }
}

package struct JSONScanner<Builder: JSONBuilder> {
    let base: UnsafePointer<UInt8>
    let end: Int
    var index = 0
    let maxDepth: Int
    package var builder: Builder
    /// Decoded bytes of a string with escapes (reused).
    let scratch = JSONScratch()

    /// `text` must stay valid while the scanner runs.
    package init(_ text: UnsafeBufferPointer<UInt8>, maxDepth: Int, builder: Builder) {
        // NOTE: an empty buffer may have no base address; a static byte stands in (never read,
        // since `end` is 0).
        self.base = text.baseAddress ?? JSONScanner.emptyText
        self.end = text.count
        self.maxDepth = maxDepth
        self.builder = builder
    }

    private static var emptyText: UnsafePointer<UInt8> { UnsafePointer(bitPattern: 1)! }

    /// Reads the whole text as one JSON value (with only whitespace around it).
    package mutating func document() throws(JSONScanError) -> Builder.Node {
        skipSpace()
        let v = try value(depth: 0)
        skipSpace()
        if index < end { throw error("unexpected text after the JSON value") }
        return v
    }

    func error(_ message: String) -> JSONScanError { JSONScanError(message: message, offset: index) }

    /// The byte at `i` (0 past the end).
    @inline(__always) func byte(_ i: Int) -> UInt8 { i < end ? base[i] : 0 }

    @inline(__always) mutating func skipSpace() {
        while index < end {
            let b = base[index]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            index += 1
        }
    }

    /// What the next byte is, for messages: `got 'x'` or `got end of input`.
    func got() -> String {
        guard index < end else { return "end of input" }
        let b = base[index]
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return b < 0x80 ? "byte 0x\(String(b, radix: 16))" : "a non-ASCII character"
    }

    mutating func value(depth: Int) throws(JSONScanError) -> Builder.Node {
        guard index < end else { throw error("unexpected end of input, expected a value") }
        let start = index
        switch base[index] {
        case UInt8(ascii: "{"):
            guard depth < maxDepth else { throw error("nested too deeply (limit \(maxDepth))") }
            index += 1
            var object = try builder.beginObject(at: start)
            skipSpace()
            if byte(index) == UInt8(ascii: "}") { index += 1; return builder.endObject(object) }
            while true {
                skipSpace()
                guard byte(index) == UInt8(ascii: "\"") else {
                    if index >= end { throw error("unexpected end of input, expected a string key") }
                    throw error("expected a string key")
                }
                let keyStart = index
                let k = try builder.key(try string(), at: keyStart)
                skipSpace()
                guard byte(index) == UInt8(ascii: ":") else {
                    if index >= end { throw error("unexpected end of input, expected ':' after the key") }
                    throw error("expected ':' after the key")
                }
                index += 1
                skipSpace()
                let v = try value(depth: depth + 1)
                builder.set(&object, k, v)
                skipSpace()
                guard index < end else { throw error("unexpected end of input, expected ',' or '}'") }
                let b = base[index]
                index += 1
                if b == UInt8(ascii: ",") { continue }
                if b == UInt8(ascii: "}") { return builder.endObject(object) }
                index -= 1
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            guard depth < maxDepth else { throw error("nested too deeply (limit \(maxDepth))") }
            index += 1
            var array = try builder.beginArray(at: start)
            skipSpace()
            if byte(index) == UInt8(ascii: "]") { index += 1; return builder.endArray(array) }
            while true {
                skipSpace()
                let v = try value(depth: depth + 1)
                builder.append(&array, v)
                skipSpace()
                guard index < end else { throw error("unexpected end of input, expected ',' or ']'") }
                let b = base[index]
                index += 1
                if b == UInt8(ascii: ",") { continue }
                if b == UInt8(ascii: "]") { return builder.endArray(array) }
                index -= 1
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return try builder.string(try string(), at: start)
        case UInt8(ascii: "t"): try word("true"); return try builder.bool(true, at: start)
        case UInt8(ascii: "f"): try word("false"); return try builder.bool(false, at: start)
        case UInt8(ascii: "n"): try word("null"); return try builder.null(at: start)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try number()
        default:
            throw error("expected a value")
        }
    }

    mutating func word(_ w: StaticString) throws(JSONScanError) {
        let n = w.utf8CodeUnitCount
        let p = w.utf8Start
        for k in 0..<n where byte(index + k) != p[k] { throw error("expected a value") }
        index += n
    }

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }

    mutating func number() throws(JSONScanError) -> Builder.Node {
        let start = index
        let negative = base[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard Self.isDigit(byte(index)) else { throw error("expected a digit after '-'") }
        // Accumulated as a negative number, so Int64.min fits.
        var acc: Int64 = 0
        var overflow = false
        if base[index] == UInt8(ascii: "0") {
            index += 1
            if Self.isDigit(byte(index)) { throw error("a number cannot have a leading zero") }
        } else {
            while index < end, Self.isDigit(base[index]) {
                let d = Int64(base[index] &- 0x30)
                if !overflow {
                    let (m, o1) = acc.multipliedReportingOverflow(by: 10)
                    let (s, o2) = m.subtractingReportingOverflow(d)
                    if o1 || o2 { overflow = true } else { acc = s }
                }
                index += 1
            }
        }
        var isFloat = false
        if byte(index) == UInt8(ascii: ".") {
            isFloat = true
            index += 1
            guard Self.isDigit(byte(index)) else { throw error("expected a digit after '.'") }
            while index < end, Self.isDigit(base[index]) { index += 1 }
        }
        if byte(index) == UInt8(ascii: "e") || byte(index) == UInt8(ascii: "E") {
            isFloat = true
            index += 1
            if byte(index) == UInt8(ascii: "+") || byte(index) == UInt8(ascii: "-") { index += 1 }
            guard Self.isDigit(byte(index)) else { throw error("expected a digit in the exponent") }
            while index < end, Self.isDigit(base[index]) { index += 1 }
        }
        if !isFloat && !overflow {
            if negative { return try builder.int(acc, at: start) }
            if acc != Int64.min { return try builder.int(-acc, at: start) }
        }
        let text = String(decoding: UnsafeBufferPointer(start: base + start, count: index - start), as: UTF8.self)
        guard let d = Double(text), d.isFinite else {
            index = start
            throw error("number \(text.count > 40 ? String(text.prefix(40)) + "…" : text) is out of range")
        }
        return try builder.double(d, at: start)
    }

    /// Reads a string literal at `index` (its opening quote) and returns its decoded bytes:
    /// a slice of the text when it has no escapes, else `scratch`. Valid until the next call.
    mutating func string() throws(JSONScanError) -> UnsafeBufferPointer<UInt8> {
        index += 1
        let start = index
        // Fast path: plain bytes up to the closing quote.
        while index < end {
            let b = base[index]
            if b == UInt8(ascii: "\"") {
                index += 1
                return UnsafeBufferPointer(start: base + start, count: index - 1 - start)
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw error("control character in a string (escape it)") }
            if b >= 0x80 { try skipUTF8() } else { index += 1 }
        }
        guard index < end else { throw error("unterminated string") }
        scratch.count = 0
        scratch.append(contentsOf: UnsafeBufferPointer(start: base + start, count: index - start))
        while true {
            guard index < end else { throw error("unterminated string") }
            let b = base[index]
            if b == UInt8(ascii: "\"") { index += 1; break }
            if b < 0x20 { throw error("control character in a string (escape it)") }
            if b >= 0x80 {
                let s = index
                try skipUTF8()
                scratch.append(contentsOf: UnsafeBufferPointer(start: base + s, count: index - s))
                continue
            }
            if b != UInt8(ascii: "\\") { scratch.append(b); index += 1; continue }
            let escape = index
            index += 1
            guard index < end else { throw error("unterminated string") }
            let e = base[index]
            index += 1
            switch e {
            case UInt8(ascii: "\""): scratch.append(0x22)
            case UInt8(ascii: "\\"): scratch.append(0x5C)
            case UInt8(ascii: "/"): scratch.append(0x2F)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if code >= 0xDC00 && code < 0xE000 {
                    index = escape
                    throw error("lone surrogate \\u\(String(code, radix: 16, uppercase: true)) (a low surrogate without a high one)")
                }
                if code >= 0xD800 && code < 0xDC00 {
                    guard byte(index) == UInt8(ascii: "\\"), byte(index + 1) == UInt8(ascii: "u") else {
                        index = escape
                        throw error("lone surrogate \\u\(String(code, radix: 16, uppercase: true)) (a high surrogate must be followed by a low one)")
                    }
                    index += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low < 0xE000 else {
                        index = escape
                        throw error("lone surrogate \\u\(String(code, radix: 16, uppercase: true)) (followed by \\u\(String(low, radix: 16, uppercase: true)), not a low surrogate)")
                    }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                appendUTF8(code)
            default:
                index -= 1
                throw error("unknown escape '\\\(got().dropFirst().dropLast())'")
            }
        }
        return scratch.buffer
    }

    /// Checks one UTF-8 sequence at `index` (a byte >= 0x80) and steps over it.
    @inline(never)
    mutating func skipUTF8() throws(JSONScanError) {
        let b0 = base[index]
        var need = 0, min: UInt32 = 0, code: UInt32 = 0
        switch b0 {
        case 0xC2...0xDF: need = 1; code = UInt32(b0 & 0x1F); min = 0x80
        case 0xE0...0xEF: need = 2; code = UInt32(b0 & 0x0F); min = 0x800
        case 0xF0...0xF4: need = 3; code = UInt32(b0 & 0x07); min = 0x10000
        default: throw error("invalid UTF-8 in a string")
        }
        for k in 1...need {
            let c = byte(index + k)
            guard c & 0xC0 == 0x80 else { throw error("invalid UTF-8 in a string") }
            code = code << 6 | UInt32(c & 0x3F)
        }
        guard code >= min, code <= 0x10FFFF, !(code >= 0xD800 && code < 0xE000) else { throw error("invalid UTF-8 in a string") }
        index += need + 1
    }

    func appendUTF8(_ c: UInt32) {
        switch c {
        case 0..<0x80: scratch.append(UInt8(c))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | c >> 6)); scratch.append(UInt8(0x80 | c & 0x3F))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | c >> 12)); scratch.append(UInt8(0x80 | (c >> 6) & 0x3F))
            scratch.append(UInt8(0x80 | c & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | c >> 18)); scratch.append(UInt8(0x80 | (c >> 12) & 0x3F))
            scratch.append(UInt8(0x80 | (c >> 6) & 0x3F)); scratch.append(UInt8(0x80 | c & 0x3F))
        }
    }

    mutating func hex4() throws(JSONScanError) -> UInt32 {
        var v: UInt32 = 0
        for k in 0..<4 {
            let b = byte(index + k)
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - 0x30
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - 0x61 + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - 0x41 + 10
            default: throw error("expected four hex digits after \\u")
            }
            v = v << 4 | UInt32(d)
        }
        index += 4
        return v
    }
}

/// The 1-based line and column (counted in Unicode scalars) of byte `offset` in `text`.
package func jsonPosition(of offset: Int, in text: UnsafeBufferPointer<UInt8>) -> (line: Int, column: Int) {
    var line = 1, column = 1
    for i in 0..<min(offset, text.count) {
        let b = text[i]
        if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
    }
    return (line, column)
}

/// A growable byte buffer whose storage stays put until the next append, so a decoded string
/// can be handed to a builder as a buffer pointer without a copy.
final class JSONScratch {
    var storage: UnsafeMutablePointer<UInt8>
    var count = 0
    var capacity = 64

    init() { storage = .allocate(capacity: 64) }
    deinit { storage.deallocate() }

    var buffer: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: storage, count: count) }

    @inline(__always) func append(_ b: UInt8) {
        if count == capacity { grow(count + 1) }
        storage[count] = b
        count += 1
    }

    func append(contentsOf bytes: UnsafeBufferPointer<UInt8>) {
        guard let src = bytes.baseAddress, bytes.count > 0 else { return }
        if count + bytes.count > capacity { grow(count + bytes.count) }
        (storage + count).update(from: src, count: bytes.count)
        count += bytes.count
    }

    private func grow(_ needed: Int) {
        var c = capacity * 2
        while c < needed { c *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        bigger.update(from: storage, count: count)
        storage.deallocate()
        storage = bigger
        capacity = c
    }
}
