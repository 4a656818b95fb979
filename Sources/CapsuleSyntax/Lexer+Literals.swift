/// Number and string literals.
extension Lexer {
    /// The largest integer magnitude a literal may have: 2^63, the magnitude of `Int64.min`.
    /// The parser rejects 2^63 unless it directly follows a unary minus.
    static let maximumIntegerMagnitude = UInt64(1) << 63

    // MARK: - Numbers

    mutating func scanNumber(from start: Int, at loc: SourceLocation) {
        if bytes[pos] == UInt8(ascii: "0") {
            switch peek(1) | 0x20 {
            case UInt8(ascii: "x"): scanRadixInteger(from: start, at: loc, radix: 16, name: "hexadecimal")
            case UInt8(ascii: "b"): scanRadixInteger(from: start, at: loc, radix: 2, name: "binary")
            case UInt8(ascii: "o"): scanRadixInteger(from: start, at: loc, radix: 8, name: "octal")
            default: scanDecimal(from: start, at: loc)
            }
        } else {
            scanDecimal(from: start, at: loc)
        }
    }

    mutating func scanDecimal(from start: Int, at loc: SourceLocation) {
        var value: UInt64 = 0
        var overflow = false
        scanDigits(radix: 10, value: &value, overflow: &overflow)
        var isFloat = false
        // `1.5` is a float; `2.` is the int 2 then `.`; `1..3` is a range.
        if peek() == UInt8(ascii: ".") && peek(1).isDecimalDigit {
            isFloat = true
            pos += 1
            skipDigitsAndUnderscores()
        }
        if peek() | 0x20 == UInt8(ascii: "e") {
            var exponent = pos + 1
            if exponent < bytes.count && (bytes[exponent] == UInt8(ascii: "+") || bytes[exponent] == UInt8(ascii: "-")) {
                exponent += 1
            }
            isFloat = true
            if exponent < bytes.count && bytes[exponent].isDecimalDigit {
                pos = exponent
                skipDigitsAndUnderscores()
            } else {
                pos = exponent
                report("expected digits in the exponent of a float literal", at: location(at: pos))
            }
        }
        rejectTrailingLetters(kind: isFloat ? "float" : "decimal")
        if isFloat {
            let digits = bytes[start..<pos].filter { $0 != UInt8(ascii: "_") }
            let number = Double(String(decoding: digits, as: UTF8.self)) ?? 0
            if !number.isFinite { report("float literal is too large", at: loc) }
            emit(.float, from: start, at: loc, .float(number.isFinite ? number : 0))
        } else {
            emitInteger(value, overflow: overflow, from: start, at: loc)
        }
    }

    mutating func scanRadixInteger(from start: Int, at loc: SourceLocation, radix: UInt64, name: String) {
        pos += 2
        var value: UInt64 = 0
        var overflow = false
        let digitsStart = pos
        scanDigits(radix: radix, value: &value, overflow: &overflow)
        let sawDigit = bytes[digitsStart..<pos].contains { $0 != UInt8(ascii: "_") }
        if pos < bytes.count && bytes[pos].isIdentifierContinue {
            rejectTrailingLetters(kind: name)
        } else if !sawDigit {
            let prefix = String(decoding: bytes[start..<(start + 2)], as: UTF8.self)
            report("expected \(name) digits after '\(prefix)'", at: location(at: pos))
        }
        emitInteger(value, overflow: overflow, from: start, at: loc)
    }

    /// Accumulates digits of `radix` (and `_` separators) into `value`.
    mutating func scanDigits(radix: UInt64, value: inout UInt64, overflow: inout Bool) {
        while pos < bytes.count {
            let byte = bytes[pos]
            if byte == UInt8(ascii: "_") { pos += 1; continue }
            guard let digit = byte.digitValue, digit < radix else { return }
            let (shifted, o1) = value.multipliedReportingOverflow(by: radix)
            let (sum, o2) = shifted.addingReportingOverflow(digit)
            overflow = overflow || o1 || o2
            value = sum
            pos += 1
        }
    }

    mutating func skipDigitsAndUnderscores() {
        while pos < bytes.count && (bytes[pos].isDecimalDigit || bytes[pos] == UInt8(ascii: "_")) { pos += 1 }
    }

    /// `123abc`, `0b102`: reports the first bad character and skips the rest of the word.
    mutating func rejectTrailingLetters(kind: String) {
        guard pos < bytes.count && bytes[pos].isIdentifierContinue else { return }
        let bad = String(UnicodeScalar(bytes[pos]))
        report("invalid character '\(bad)' in \(kind) literal", at: location(at: pos))
        while pos < bytes.count && bytes[pos].isIdentifierContinue { pos += 1 }
    }

    mutating func emitInteger(_ value: UInt64, overflow: Bool, from start: Int, at loc: SourceLocation) {
        if overflow || value > Lexer.maximumIntegerMagnitude {
            report("integer literal is too large", at: loc)
            emit(.integer, from: start, at: loc, .integer(0))
        } else {
            emit(.integer, from: start, at: loc, .integer(value))
        }
    }

    // MARK: - Strings

    /// Scans string text after `"` (or after the `}` closing an interpolation) up to the
    /// closing `"` or the next `${`, and emits the matching string token.
    mutating func scanString(tokenStart: Int, at loc: SourceLocation, stringStart: SourceLocation, isContinuation: Bool) {
        var text: [UInt8] = []
        while true {
            let runStart = pos
            while pos < bytes.count {
                let byte = bytes[pos]
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "$")
                    || byte == UInt8(ascii: "\n") { break }
                pos += 1
            }
            text.append(contentsOf: bytes[runStart..<pos])
            guard pos < bytes.count else {
                report("unterminated string", at: stringStart)
                endsInsideLiteralOrComment = true
                emit(isContinuation ? .interpolationEnd : .string, from: tokenStart, at: loc, .text(String(decoding: text, as: UTF8.self)))
                return
            }
            switch bytes[pos] {
            case UInt8(ascii: "\""):
                pos += 1
                emit(isContinuation ? .interpolationEnd : .string, from: tokenStart, at: loc, .text(String(decoding: text, as: UTF8.self)))
                return
            case UInt8(ascii: "$") where peek(1) == UInt8(ascii: "{"):
                pos += 2
                interpolations.append(OpenInterpolation(braceDepth: 0, stringStart: stringStart))
                emit(isContinuation ? .interpolationMiddle : .interpolationStart, from: tokenStart, at: loc, .text(String(decoding: text, as: UTF8.self)))
                return
            case UInt8(ascii: "\n"):
                text.append(UInt8(ascii: "\n"))
                pos += 1
                startLine()
            case UInt8(ascii: "\\"):
                scanEscape(into: &text)
            default:
                text.append(bytes[pos])
                pos += 1
            }
        }
    }

    /// Decodes the escape sequence at `pos` (a backslash). An invalid escape is reported and
    /// only the backslash is skipped.
    mutating func scanEscape(into text: inout [UInt8]) {
        let backslash = location(at: pos)
        pos += 1
        guard pos < bytes.count else { return }
        let byte = bytes[pos]
        switch byte {
        case UInt8(ascii: "n"): text.append(UInt8(ascii: "\n"))
        case UInt8(ascii: "t"): text.append(UInt8(ascii: "\t"))
        case UInt8(ascii: "r"): text.append(UInt8(ascii: "\r"))
        case UInt8(ascii: "0"): text.append(0)
        case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "$"), UInt8(ascii: "{"): text.append(byte)
        case UInt8(ascii: "u"):
            pos += 1
            scanUnicodeEscape(into: &text, at: backslash)
            return
        default:
            let end = min(pos + byte.utf8SequenceLength, bytes.count)
            let character = String(decoding: bytes[pos..<end], as: UTF8.self)
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                report("invalid escape sequence: '\\' at end of line", at: backslash)
            } else {
                report("invalid escape sequence '\\\(character)'", at: backslash)
            }
            return
        }
        pos += 1
    }

    /// `\u{1F600}`: one to eight hex digits naming a Unicode scalar; `pos` is after the `u`.
    mutating func scanUnicodeEscape(into text: inout [UInt8], at backslash: SourceLocation) {
        guard peek() == UInt8(ascii: "{") else {
            report("invalid unicode escape: expected '{' after '\\u'", at: backslash)
            return
        }
        pos += 1
        var value: UInt32 = 0
        var digits = 0
        while pos < bytes.count, let digit = bytes[pos].digitValue, digit < 16 {
            if digits < 8 { value = value << 4 | UInt32(digit) }
            digits += 1
            pos += 1
        }
        guard peek() == UInt8(ascii: "}"), (1...8).contains(digits) else {
            report("invalid unicode escape: expected 1 to 8 hex digits and '}'", at: backslash)
            return
        }
        pos += 1
        guard let scalar = Unicode.Scalar(value) else {
            report("invalid unicode escape: U+\(String(value, radix: 16, uppercase: true)) is not a Unicode scalar", at: backslash)
            return
        }
        text.append(contentsOf: String(Character(scalar)).utf8)
    }
}

extension UInt8 {
    /// The value of an ASCII digit or letter as a digit (`a`/`A` = 10 …), or nil.
    var digitValue: UInt64? {
        switch self {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt64(self - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return UInt64(self - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return UInt64(self - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}
