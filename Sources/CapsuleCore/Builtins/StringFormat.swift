#if canImport(Glibc)
import Glibc
#endif

/// `s.format(…)`: Python/Rust-style replacement fields with a format-spec mini-language
/// (docs/stdlib.md#formatting).
///
/// ```
/// "{} + {} = {}".format(1, 2, 3)        // auto-numbered
/// "{1} {0}".format("a", "b")            // by index
/// "{name} is {age}".format({name: "Ann", age: 7})   // keys of a map (the first argument)
/// "{:>8.2f}|{:08x}|{:*^9}|{:+,d}".format(3.14159, 255, "mid", 1234567)
/// ```
/// Spec: `[[fill]align][sign][#][0][width][,|_][.precision][type]`; align `<` `>` `^` `=`,
/// sign `+` `-` ` `, types `s d x X o b c e E f F g G %`. Width counts Unicode scalars.
/// Every error names the 0-based offset (in characters) of the field in the format string.
extension Runtime {
    /// Widths and precisions beyond these are errors (they would only build huge strings).
    static let formatMaxWidth = 1_000_000
    static let formatMaxPrecision = 1_000

    struct FormatSpec {
        var fill: Unicode.Scalar = " "
        var align: Unicode.Scalar? = nil
        var sign: Unicode.Scalar = "-"
        var alternate = false
        var width = 0
        var grouping: Unicode.Scalar? = nil
        var precision: Int? = nil
        var type: Unicode.Scalar? = nil
    }

    /// `args[0]` is the format string, `args[1..<argc]` the values. Nil after raising.
    ///
    /// The format string is scanned as bytes (`{`, `}` and `:` are ASCII, so they never occur
    /// inside a multi-byte scalar): literal runs are copied into the result as they are, and
    /// a field with no spec whose value is a string or an int is written straight from its
    /// bytes or digits. Only a spec, and a value of another type, go through Swift `String`s.
    /// Offsets in messages count characters.
    func formatString(_ args: UnsafeMutablePointer<Value>, _ argc: Int) -> Value? {
        let format = args[0].obj(ObjString.self)
        let b = format.bytes, n = format.pointee.count
        let out = textBuffer()
        var i = 0
        var next = 1
        var usedAuto = false, usedManual = false
        func fail(_ message: String) -> Value? { raise(message); return nil }
        func offset(_ byte: Int) -> Int { scalarIndex(format, byte: byte) }
        func text(_ from: Int, _ to: Int) -> String { String(decoding: UnsafeBufferPointer(start: b + from, count: to - from), as: UTF8.self) }
        let open: UInt8 = 0x7B, close: UInt8 = 0x7D, colon: UInt8 = 0x3A
        while i < n {
            var j = i
            while j < n && b[j] != open && b[j] != close { j += 1 }
            // NOTE: `b[i..<j]` is inside the format string (j <= n).
            out.append(b + i, count: j - i)
            i = j
            if i >= n { break }
            if b[i] == close {
                if i + 1 < n && b[i + 1] == close { out.append(close); i += 2; continue }
                return fail("format string: single '}' at offset \(offset(i)) (write '}}' for a brace)")
            }
            if i + 1 < n && b[i + 1] == open { out.append(open); i += 2; continue }
            let fieldStart = i
            i += 1
            let nameStart = i
            while i < n && b[i] != close && b[i] != colon {
                if b[i] == open { return fail("format string: '{' inside the field at offset \(offset(fieldStart))") }
                i += 1
            }
            let nameEnd = i
            var specStart = i, specEnd = i
            if i < n && b[i] == colon {
                i += 1
                specStart = i
                while i < n && b[i] != close {
                    if b[i] == open { return fail("format string: nested fields are not supported (offset \(offset(i)))") }
                    i += 1
                }
                specEnd = i
            }
            guard i < n else { return fail("format string: '{' at offset \(offset(fieldStart)) is never closed") }
            i += 1  // the '}'
            // The value the field names.
            let value: Value
            var digitsOnly = true
            for k in nameStart..<nameEnd where b[k] < 0x30 || b[k] > 0x39 { digitsOnly = false }
            if nameStart == nameEnd {
                if usedManual { return fail("format string: cannot mix '{}' with numbered fields (offset \(offset(fieldStart)))") }
                usedAuto = true
                guard next < argc else { return fail("format string needs more than \(plural(argc - 1, "argument"))") }
                value = args[next]
                next += 1
            } else if digitsOnly {
                if usedAuto { return fail("format string: cannot mix '{}' with numbered fields (offset \(offset(fieldStart)))") }
                usedManual = true
                let fieldName = text(nameStart, nameEnd)
                guard let k = Int(fieldName), k < argc - 1 else {
                    return fail("format string: field {\(fieldName)} at offset \(offset(fieldStart)) is out of range for \(plural(argc - 1, "argument"))")
                }
                value = args[1 + k]
            } else {
                usedManual = true
                guard argc >= 2, args[1].isObject(.map) else {
                    return fail("format string: field {\(text(nameStart, nameEnd))} at offset \(offset(fieldStart)) needs a map as the first argument, got \(argc >= 2 ? typeName(args[1]) : "no arguments")")
                }
                let key = cutString(b + nameStart, nameEnd - nameStart, ascii: format.isASCII)
                pushRoot(key)
                let found = mapGet(args[1].obj(ObjMap.self), key)
                popRoot()
                guard found != .empty else {
                    return fail("format string: field {\(text(nameStart, nameEnd))} at offset \(offset(fieldStart)): key not found in the map")
                }
                value = found
            }
            if specStart == specEnd && value.isString {
                let v = value.obj(ObjString.self)
                out.append(v.bytes, count: v.pointee.count)
            } else if specStart == specEnd && value.isInt {
                appendDecimal(value.intValue, to: out)
            } else {
                let spec: FormatSpec
                let specText = text(specStart, specEnd)
                switch Runtime.parseFormatSpec(Array(specText.unicodeScalars)) {
                case .success(let s): spec = s
                case .failure(let e): return fail("format string: bad spec '\(specText)' at offset \(offset(fieldStart)): \(e.message)")
                }
                guard let field = formatValue(value, spec, at: offset(fieldStart)) else { return nil }
                out.append(field)
            }
            // The text grows outside the heap, never past what is left under its limit.
            if out.failed { raiseTextOutOfMemory(); return nil }
        }
        if out.failed { raiseTextOutOfMemory(); return nil }
        if usedAuto && next < argc {
            return fail("format string has \(plural(next - 1, "placeholder")) but got \(plural(argc - 1, "argument"))")
        }
        if !usedAuto && !usedManual && argc > 1 {
            return fail("format string has 0 placeholders but got \(plural(argc - 1, "argument"))")
        }
        // Valid UTF-8: cuts of the format string and of strings, and Swift's own text.
        guard reserveHeap(MemoryLayout<ObjString>.stride + out.count + 1) else { return nil }
        let r = allocateString(count: out.count)
        if let base = out.bytes.baseAddress { memcpy(r.bytes, base, out.count) }
        finishValidString(r, ascii: false)
        return Value(r)
    }

    /// Writes the decimal digits of `n` (with a `-` when negative).
    func appendDecimal(_ n: Int64, to out: TextBuffer) {
        if n < 0 { out.append(0x2D) }
        var m = n.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            // NOTE: a UInt64 has at most 20 decimal digits, so `k` stays in 0..<20.
            var k = 20
            repeat {
                k -= 1
                digits[k] = UInt8(truncatingIfNeeded: 0x30 &+ m % 10)
                m /= 10
            } while m > 0
            if let base = digits.baseAddress { out.append(base + k, count: 20 - k) }
        }
    }

    struct FormatSpecError: Error { var message: String }

    static func parseFormatSpec(_ s: [Unicode.Scalar]) -> Result<FormatSpec, FormatSpecError> {
        var spec = FormatSpec()
        var i = 0
        func isAlign(_ c: Unicode.Scalar) -> Bool { c == "<" || c == ">" || c == "^" || c == "=" }
        func digits() -> Int? {
            var n = 0, any = false
            while i < s.count, s[i].value >= 0x30 && s[i].value <= 0x39 {
                n = min(n * 10 + Int(s[i].value - 0x30), Int(Int32.max))
                i += 1; any = true
            }
            return any ? n : nil
        }
        if s.count >= 2 && isAlign(s[1]) { spec.fill = s[0]; spec.align = s[1]; i = 2 }
        else if s.count >= 1 && isAlign(s[0]) { spec.align = s[0]; i = 1 }
        if i < s.count, s[i] == "+" || s[i] == "-" || s[i] == " " { spec.sign = s[i]; i += 1 }
        if i < s.count, s[i] == "#" { spec.alternate = true; i += 1 }
        if i < s.count, s[i] == "0" {
            if spec.align == nil { spec.fill = "0"; spec.align = "=" }
            i += 1
        }
        if let w = digits() {
            guard w <= formatMaxWidth else { return .failure(FormatSpecError(message: "width \(w) is too large (limit \(formatMaxWidth))")) }
            spec.width = w
        }
        if i < s.count, s[i] == "," || s[i] == "_" { spec.grouping = s[i]; i += 1 }
        if i < s.count, s[i] == "." {
            i += 1
            guard let p = digits() else { return .failure(FormatSpecError(message: "expected digits after '.'")) }
            guard p <= formatMaxPrecision else { return .failure(FormatSpecError(message: "precision \(p) is too large (limit \(formatMaxPrecision))")) }
            spec.precision = p
        }
        if i < s.count {
            guard "sdxXobceEfFgG%".unicodeScalars.contains(s[i]) else {
                return .failure(FormatSpecError(message: "unknown format type '\(s[i])'"))
            }
            spec.type = s[i]; i += 1
        }
        if i < s.count { return .failure(FormatSpecError(message: "unexpected '\(s[i])'")) }
        return .success(spec)
    }

    /// One field's text; nil after raising.
    func formatValue(_ v: Value, _ spec: FormatSpec, at offset: Int) -> String? {
        func fail(_ message: String) -> String? { raise("format string: field at offset \(offset): \(message)"); return nil }
        let type = spec.type
        var body: String   // digits or text, without sign
        var prefix = ""    // sign and 0x-style prefix
        let numeric: Bool
        if type == nil && !v.isNumber || type == "s" {
            if spec.sign != "-" { return fail("a sign is not allowed with \(typeName(v))") }
            if let g = spec.grouping { return fail("'\(g)' is not allowed with \(typeName(v))") }
            guard var text = toText(v) else { return nil }
            if let p = spec.precision, text.unicodeScalars.count > p {
                text = String(String.UnicodeScalarView(text.unicodeScalars.prefix(p)))
            }
            body = text
            numeric = false
        } else if type == "c" {
            guard v.isInt else { return fail("'c' needs an int, got \(typeName(v))") }
            let n = v.intValue
            guard n >= 0, n <= 0x10FFFF, let u = Unicode.Scalar(UInt32(n)) else { return fail("\(n) is not a Unicode scalar") }
            body = String(Character(u))
            numeric = false
        } else if v.isInt && (type == nil || type == "d" || type == "x" || type == "X" || type == "o" || type == "b") {
            if spec.precision != nil { return fail("a precision is not allowed with an int format") }
            let n = v.intValue
            let radix = type == "x" || type == "X" ? 16 : type == "o" ? 8 : type == "b" ? 2 : 10
            body = String(n.magnitude, radix: radix, uppercase: type == "X")
            if let g = spec.grouping {
                if g == "," && radix != 10 { return fail("',' is allowed only with decimal numbers") }
                body = Runtime.group(body, every: radix == 10 ? 3 : 4, with: g)
            }
            if n < 0 { prefix = "-" } else if spec.sign != "-" { prefix = String(spec.sign) }
            if spec.alternate && radix != 10 {
                prefix += radix == 16 ? (type == "X" ? "0X" : "0x") : radix == 8 ? "0o" : "0b"
            }
            numeric = true
        } else if v.isNumber && (type.map { "eEfFgG%".unicodeScalars.contains($0) } ?? true) {
            var d = v.numberAsDouble
            if type == nil && spec.precision == nil {
                body = v.isInt ? String(v.intValue.magnitude) : Runtime.formatDouble(abs(d))
            } else {
                var conversion = type ?? "g"
                if conversion == "%" { d *= 100; conversion = "f" }
                body = Runtime.printf(abs(d), conversion: conversion, precision: spec.precision ?? 6, alternate: spec.alternate)
                if type == "%" { body += "%" }
            }
            if let g = spec.grouping {
                // Group the digits before the point (or exponent).
                let u = Array(body.unicodeScalars)
                let end = u.firstIndex(where: { $0.value < 0x30 || $0.value > 0x39 }) ?? u.count
                body = Runtime.group(String(String.UnicodeScalarView(u[..<end])), every: 3, with: g)
                    + String(String.UnicodeScalarView(u[end...]))
            }
            if d.sign == .minus && !d.isNaN { prefix = "-" } else if spec.sign != "-" { prefix = String(spec.sign) }
            numeric = true
        } else {
            return fail("format type '\(type.map { String($0) } ?? "")' cannot format \(typeName(v))")
        }
        // Padding.
        let length = prefix.unicodeScalars.count + body.unicodeScalars.count
        guard spec.width > length else { return prefix + body }
        let pad = spec.width - length
        if !reserveHeap(pad * 4) { return nil }
        let fill = String(repeating: String(Character(spec.fill)), count: pad)
        switch spec.align ?? (numeric ? ">" : "<") {
        case "<": return prefix + body + fill
        case "^":
            let left = String(repeating: String(Character(spec.fill)), count: pad / 2)
            let right = String(repeating: String(Character(spec.fill)), count: pad - pad / 2)
            return left + prefix + body + right
        case "=":
            if !numeric { return fail("'=' alignment is allowed only with numbers") }
            return prefix + fill + body
        default: return fill + prefix + body
        }
    }

    /// `digits` with `separator` between groups of `every`, counted from the right.
    static func group(_ digits: String, every: Int, with separator: Unicode.Scalar) -> String {
        let u = Array(digits.unicodeScalars)
        var out = String.UnicodeScalarView()
        for (k, c) in u.enumerated() {
            if k > 0 && (u.count - k) % every == 0 { out.append(separator) }
            out.append(c)
        }
        return String(out)
    }

    /// A non-negative finite or infinite double through C's `%e %f %g` (correctly rounded,
    /// ties to even on the exact binary value). `precision` is at most `formatMaxPrecision`.
    static func printf(_ d: Double, conversion: Unicode.Scalar, precision: Int, alternate: Bool) -> String {
        let format = (alternate ? "%#.*" : "%.*") + String(Character(conversion))
        // Integer digits (at most 309) + point + precision + exponent: never more than this.
        let size = 400 + precision
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: size) { buffer in
            let n = withVaList([Int32(precision), d]) { vsnprintf(buffer.baseAddress, size, format, $0) }
            let count = max(0, min(Int(n), size - 1))
            return buffer.baseAddress.map {
                String(decoding: UnsafeRawBufferPointer(start: $0, count: count), as: UTF8.self)
            } ?? ""
        }
    }
}
