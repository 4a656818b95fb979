/// A JSON tree that remembers where every value starts, so a policy manifest's errors can say
/// `capsule.json:3:7: error: …` (and the audit log reader can name the line). Read by the
/// shared reader (API/JSONScanner.swift): strict RFC 8259, no comments, no trailing commas.
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

    /// Parses `text` as one JSON value (at most 64 levels deep), with the shared reader
    /// (API/JSONScanner.swift).
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
        return bytes.withUnsafeBufferPointer { bytes in
            var scanner = JSONScanner(bytes, maxDepth: 64, builder: NodeBuilder(text: bytes))
            do throws(JSONScanError) {
                return .success(try scanner.document())
            } catch {
                let (line, column) = jsonPosition(of: error.offset, in: bytes)
                return .failure(JSONSyntaxError(message: error.message, line: line, column: column))
            }
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

    /// Builds `JSONNode`s, tracking line and column as the reader moves forward (every
    /// offset it is given is past the previous one).
    private struct NodeBuilder: JSONBuilder {
        typealias Members = [(key: String, keyLine: Int, keyColumn: Int, value: JSONNode)]
        let text: UnsafeBufferPointer<UInt8>
        var offset = 0, line = 1, column = 1

        init(text: UnsafeBufferPointer<UInt8>) { self.text = text }

        mutating func position(_ target: Int) -> (Int, Int) {
            while offset < target {
                let b = text[offset]
                if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
                offset += 1
            }
            return (line, column)
        }
        mutating func node(_ kind: Kind, _ at: Int) -> JSONNode {
            let (l, c) = position(at)
            return JSONNode(kind: kind, line: l, column: c)
        }
        mutating func null(at offset: Int) -> JSONNode { node(.null, offset) }
        mutating func bool(_ b: Bool, at offset: Int) -> JSONNode { node(.bool(b), offset) }
        mutating func int(_ i: Int64, at offset: Int) -> JSONNode { node(.number(Double(i)), offset) }
        mutating func double(_ d: Double, at offset: Int) -> JSONNode { node(.number(d), offset) }
        mutating func string(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> JSONNode {
            node(.string(String(decoding: bytes, as: UTF8.self)), offset)
        }
        mutating func beginArray(at offset: Int) -> (JSONNode, [JSONNode]) { (node(.null, offset), []) }
        mutating func append(_ array: inout (JSONNode, [JSONNode]), _ value: JSONNode) { array.1.append(value) }
        mutating func endArray(_ array: (JSONNode, [JSONNode])) -> JSONNode {
            JSONNode(kind: .array(array.1), line: array.0.line, column: array.0.column)
        }
        mutating func beginObject(at offset: Int) -> (JSONNode, Members) { (node(.null, offset), []) }
        mutating func key(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> (String, Int, Int) {
            let (l, c) = position(offset)
            return (String(decoding: bytes, as: UTF8.self), l, c)
        }
        mutating func set(_ object: inout (JSONNode, Members), _ key: (String, Int, Int), _ value: JSONNode) {
            object.1.append((key.0, key.1, key.2, value))
        }
        mutating func endObject(_ object: (JSONNode, Members)) -> JSONNode {
            JSONNode(kind: .object(object.1), line: object.0.line, column: object.0.column)
        }
    }
}

/// A JSON syntax error at a 1-based line and column.
package struct JSONSyntaxError: Error {
    package var message: String
    package var line: Int
    package var column: Int
}
