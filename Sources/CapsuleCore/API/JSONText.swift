/// A small JSON reader that remembers where every value starts, so a policy manifest's
/// errors can say `capsule.json:3:7: error: …` (and the audit log reader can name the line).
/// Strict RFC 8259: no comments, no trailing commas.
package struct JSONNode {
    package enum Kind {
        case object([(key: String, keyLine: Int, keyColumn: Int, value: JSONNode)])
        case array([JSONNode])
        case string(String)
        case number(Double)
        case bool(Bool)
        case null
    }
    package var kind: Kind
    package var line: Int
    package var column: Int

    /// The value's type in messages.
    package var typeName: String {
        switch kind {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }

    /// Parses `text` as one JSON value.
    package static func parse(_ text: String) -> Result<JSONNode, JSONSyntaxError> {
        parse(bytes: Array(text.utf8))
    }

    /// Parses `bytes` as one JSON value. Invalid UTF-8 anywhere is an error at the line and
    /// column of its first byte, and so is a `\u` escape of a lone surrogate. Linear in the
    /// size of the input.
    package static func parse(bytes: [UInt8]) -> Result<JSONNode, JSONSyntaxError> {
        if let bad = firstInvalidUTF8(bytes) {
            var line = 1, lineStart = 0
            for i in 0..<bad where bytes[i] == UInt8(ascii: "\n") { line += 1; lineStart = i + 1 }
            let hex = String(bytes[bad], radix: 16, uppercase: true)
            return .failure(JSONSyntaxError(message: "invalid UTF-8 (byte 0x\(hex.count == 1 ? "0" : "")\(hex))", line: line, column: bad - lineStart + 1))
        }
        var reader = Reader(bytes: bytes)
        do {
            reader.skipSpace()
            let value = try reader.value(depth: 0)
            reader.skipSpace()
            if reader.index < reader.bytes.count { throw reader.error("unexpected text after the JSON value") }
            return .success(value)
        } catch let error as JSONSyntaxError {
            return .failure(error)
        } catch {
            return .failure(JSONSyntaxError(message: "\(error)", line: reader.line, column: reader.column))
        }
    }

    /// The offset of the first byte that does not start or continue a valid UTF-8 sequence
    /// (overlong forms, surrogates and code points past U+10FFFF are invalid), or nil.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if b < 0x80 { i += 1; continue }
            let length: Int, low: UInt8, high: UInt8
            switch b {
            case 0xC2...0xDF: (length, low, high) = (2, 0x80, 0xBF)
            case 0xE0: (length, low, high) = (3, 0xA0, 0xBF)
            case 0xED: (length, low, high) = (3, 0x80, 0x9F)
            case 0xE1...0xEC, 0xEE...0xEF: (length, low, high) = (3, 0x80, 0xBF)
            case 0xF0: (length, low, high) = (4, 0x90, 0xBF)
            case 0xF1...0xF3: (length, low, high) = (4, 0x80, 0xBF)
            case 0xF4: (length, low, high) = (4, 0x80, 0x8F)
            default: return i
            }
            guard i + length <= n, (low...high).contains(bytes[i + 1]) else { return i }
            for k in 2..<max(length, 2) where !(0x80...0xBF).contains(bytes[i + k]) { return i }
            i += length
        }
        return nil
    }

    /// Escapes `text` as a JSON string literal (with quotes).
    package static func quote(_ text: String) -> String {
        var out = "\""
        for s in text.unicodeScalars {
            switch s {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if s.value < 0x20 || s.value == 0x7f {
                    let hex = String(s.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(s)
                }
            }
        }
        return out + "\""
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0
        var line = 1
        var lineStart = 0
        var column: Int { index - lineStart + 1 }

        init(bytes: [UInt8]) { self.bytes = bytes }

        func error(_ message: String) -> JSONSyntaxError {
            JSONSyntaxError(message: message, line: line, column: column)
        }

        mutating func skipSpace() {
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"): index += 1
                case UInt8(ascii: "\n"): index += 1; line += 1; lineStart = index
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws -> JSONNode {
            guard depth < 64 else { throw error("nested too deeply") }
            guard index < bytes.count else { throw error("unexpected end of input, expected a value") }
            let (l, c) = (line, column)
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var members: [(key: String, keyLine: Int, keyColumn: Int, value: JSONNode)] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return JSONNode(kind: .object(members), line: l, column: c) }
                while true {
                    skipSpace()
                    let (kl, kc) = (line, column)
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                    let key = try string()
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':' after the key") }
                    index += 1
                    skipSpace()
                    members.append((key, kl, kc, try value(depth: depth + 1)))
                    skipSpace()
                    guard index < bytes.count else { throw error("unexpected end of input, expected ',' or '}'") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "}") { index += 1; return JSONNode(kind: .object(members), line: l, column: c) }
                    throw error("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                index += 1
                var items: [JSONNode] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return JSONNode(kind: .array(items), line: l, column: c) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard index < bytes.count else { throw error("unexpected end of input, expected ',' or ']'") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "]") { index += 1; return JSONNode(kind: .array(items), line: l, column: c) }
                    throw error("expected ',' or ']'")
                }
            case UInt8(ascii: "\""):
                return JSONNode(kind: .string(try string()), line: l, column: c)
            case UInt8(ascii: "t"): try word("true"); return JSONNode(kind: .bool(true), line: l, column: c)
            case UInt8(ascii: "f"): try word("false"); return JSONNode(kind: .bool(false), line: l, column: c)
            case UInt8(ascii: "n"): try word("null"); return JSONNode(kind: .null, line: l, column: c)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                let start = index
                while index < bytes.count, "+-.eE0123456789".utf8.contains(bytes[index]) { index += 1 }
                guard let d = Double(String(decoding: bytes[start..<index], as: UTF8.self)) else {
                    index = start
                    throw error("malformed number")
                }
                return JSONNode(kind: .number(d), line: l, column: c)
            default:
                throw error("expected a value")
            }
        }

        mutating func word(_ w: String) throws {
            let w = Array(w.utf8)
            guard index + w.count <= bytes.count, Array(bytes[index..<index + w.count]) == w else { throw error("expected a value") }
            index += w.count
        }

        mutating func string() throws -> String {
            index += 1   // the opening quote
            var out: [UInt8] = []
            while true {
                guard index < bytes.count else { throw error("unterminated string") }
                let b = bytes[index]
                if b == UInt8(ascii: "\"") { index += 1; break }
                if b < 0x20 { throw error("control character in a string (escape it)") }
                if b != UInt8(ascii: "\\") { out.append(b); index += 1; continue }
                index += 1
                guard index < bytes.count else { throw error("unterminated string") }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5c)
                case UInt8(ascii: "/"): out.append(0x2f)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    let escapeAt = (line, index - 1 - lineStart)   // the backslash, 1-based column
                    var code = try hex4()
                    if (0xd800..<0xdc00).contains(code) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw JSONSyntaxError(message: "lone surrogate \\u\(String(code, radix: 16, uppercase: true)) (a high surrogate must be followed by a low one)",
                                                  line: escapeAt.0, column: escapeAt.1)
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xdc00..<0xe000).contains(low) else {
                            throw JSONSyntaxError(message: "lone surrogate \\u\(String(code, radix: 16, uppercase: true)) (followed by \\u\(String(low, radix: 16, uppercase: true)), not a low surrogate)",
                                                  line: escapeAt.0, column: escapeAt.1)
                        }
                        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00)
                    } else if (0xdc00..<0xe000).contains(code) {
                        throw JSONSyntaxError(message: "lone surrogate \\u\(String(code, radix: 16, uppercase: true)) (a low surrogate without a high one)",
                                              line: escapeAt.0, column: escapeAt.1)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
                    out.append(contentsOf: Array(String(scalar).utf8))
                default: index -= 1; throw error("unknown escape")
                }
            }
            guard let s = String(validating: out, as: UTF8.self) else { throw error("string is not valid UTF-8") }
            return s
        }

        mutating func hex4() throws -> UInt32 {
            guard index + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else {
                throw error("expected four hex digits after \\u")
            }
            index += 4
            return v
        }
    }
}

/// A JSON syntax error at a 1-based line and column.
package struct JSONSyntaxError: Error {
    package var message: String
    package var line: Int
    package var column: Int
}
