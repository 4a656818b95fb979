#if canImport(Glibc)
import Glibc
#endif

/// Methods of strings. `args[0]` is the receiver.
///
/// They work on the string object's UTF-8 bytes (Runtime/StringBytes.swift): no Swift
/// `String` in between, except for the case mapping of non-ASCII text. Indices and widths
/// count Unicode scalars, like `len` and `s[i]`. A method whose result is its receiver
/// unchanged (`trim` with nothing to trim, `replace` with no match) returns the receiver.
extension Runtime {
    func installStringMethods() {
        var t = NameTable()
        defineMethod(&t, "len", arity: 0) { _, a, _ in Value(inlineInt: Int64(a[0].obj(ObjString.self).pointee.scalarCount)) }
        defineMethod(&t, "upper", arity: 0) { rt, a, _ in rt.mapCase(a[0], upper: true) }
        defineMethod(&t, "lower", arity: 0) { rt, a, _ in rt.mapCase(a[0], upper: false) }
        defineMethod(&t, "trim", arity: 0) { rt, a, _ in rt.strip(a[0], chars: nil, left: true, right: true) }
        // NOTE: one closure per method, none capturing anything, so a call retains no context.
        defineMethod(&t, "strip", arity: -1) { rt, a, argc in rt.stripMethod(a, argc, "strip", left: true, right: true) }
        defineMethod(&t, "lstrip", arity: -1) { rt, a, argc in rt.stripMethod(a, argc, "lstrip", left: true, right: false) }
        defineMethod(&t, "rstrip", arity: -1) { rt, a, argc in rt.stripMethod(a, argc, "rstrip", left: false, right: true) }
        defineMethod(&t, "split", arity: -1) { rt, a, argc in rt.splitMethod(a, argc, "split", fromRight: false) }
        defineMethod(&t, "rsplit", arity: -1) { rt, a, argc in rt.splitMethod(a, argc, "rsplit", fromRight: true) }
        defineMethod(&t, "lines", arity: 0) { rt, a, _ in rt.lines(a[0]) ?? Runtime.failure }
        defineMethod(&t, "find", arity: -1) { rt, a, argc in
            guard argc == 2 || argc == 3 else { return rt.fail("string.find expects 1 or 2 arguments, got \(argc - 1)") }
            guard let sub = rt.expectString(a[1], "substring") else { return Runtime.failure }
            let s = a[0].obj(ObjString.self)
            var start = 0
            if argc == 3 {
                guard let n = rt.expectInt(a[2], "start") else { return Runtime.failure }
                let len = Int64(s.pointee.scalarCount)
                let clamped = n < 0 ? max(0, n + len) : n
                if clamped > len { return Value(inlineInt: -1) }
                start = Int(clamped)
            }
            let from = rt.byteOffset(s, scalar: start)
            let j = Runtime.search(s.bytes, s.pointee.count, from: from, sub.bytes, sub.pointee.count)
            if j < 0 { return Value(inlineInt: -1) }
            if s.isASCII { return Value(inlineInt: Int64(j)) }
            return Value(inlineInt: Int64(start + Runtime.scalarCount(s.bytes + from, j - from)))
        }
        defineMethod(&t, "rfind", arity: -1) { rt, a, argc in
            guard argc == 2 || argc == 3 else { return rt.fail("string.rfind expects 1 or 2 arguments, got \(argc - 1)") }
            guard let sub = rt.expectString(a[1], "substring") else { return Runtime.failure }
            let s = a[0].obj(ObjString.self)
            var end = s.pointee.scalarCount
            if argc == 3 {
                guard let n = rt.expectInt(a[2], "end") else { return Runtime.failure }
                let len = Int64(s.pointee.scalarCount)
                end = Int(max(0, min(len, n < 0 ? n + len : n)))
            }
            let j = Runtime.searchBack(s.bytes, end: rt.byteOffset(s, scalar: end), sub.bytes, sub.pointee.count)
            return Value(inlineInt: j < 0 ? -1 : Int64(rt.scalarIndex(s, byte: j)))
        }
        defineMethod(&t, "count", arity: 1) { rt, a, _ in
            guard let sub = rt.expectString(a[1], "substring") else { return Runtime.failure }
            if sub.pointee.count == 0 { return rt.fail("substring cannot be empty") }
            let s = a[0].obj(ObjString.self)
            var n = 0, i = 0
            while true {
                let j = Runtime.search(s.bytes, s.pointee.count, from: i, sub.bytes, sub.pointee.count)
                if j < 0 { break }
                n += 1
                i = j + sub.pointee.count
            }
            return Value(inlineInt: Int64(n))
        }
        defineMethod(&t, "contains", arity: 1) { rt, a, _ in
            guard let sub = rt.expectString(a[1], "substring") else { return Runtime.failure }
            let s = a[0].obj(ObjString.self)
            return Value(bool: Runtime.search(s.bytes, s.pointee.count, from: 0, sub.bytes, sub.pointee.count) >= 0)
        }
        defineMethod(&t, "starts_with", arity: 1) { rt, a, _ in
            guard let p = rt.expectString(a[1], "prefix") else { return Runtime.failure }
            let s = a[0].obj(ObjString.self)
            return Value(bool: p.pointee.count <= s.pointee.count && memcmp(s.bytes, p.bytes, p.pointee.count) == 0)
        }
        defineMethod(&t, "ends_with", arity: 1) { rt, a, _ in
            guard let p = rt.expectString(a[1], "suffix") else { return Runtime.failure }
            let s = a[0].obj(ObjString.self)
            let n = p.pointee.count, m = s.pointee.count
            return Value(bool: n <= m && memcmp(s.bytes + (m - n), p.bytes, n) == 0)
        }
        defineMethod(&t, "replace", arity: -1) { rt, a, argc in
            guard argc == 3 || argc == 4 else { return rt.fail("string.replace expects 2 or 3 arguments, got \(argc - 1)") }
            guard let old = rt.expectString(a[1], "pattern"), let new = rt.expectString(a[2], "replacement") else { return Runtime.failure }
            if old.pointee.count == 0 { return rt.fail("pattern cannot be empty") }
            var limit = Int.max
            if argc == 4 {
                guard let n = rt.expectCount(a[3], "replace count") else { return Runtime.failure }
                limit = n
            }
            return rt.replace(a[0], old, new, limit: limit) ?? Runtime.failure
        }
        defineMethod(&t, "chars", arity: 0) { rt, a, _ in
            let s = a[0].obj(ObjString.self)
            guard rt.reserveHeap(Runtime.stringsCost(count: s.pointee.scalarCount, bytes: s.pointee.count)) else { return Runtime.failure }
            let l = rt.newList(capacity: s.pointee.scalarCount)
            rt.pushRoot(Value(l))
            defer { rt.popRoot() }
            var i = 0
            while i < s.pointee.count {
                var end = i + 1
                while end < s.pointee.count && s.bytes[end] & 0xC0 == 0x80 { end += 1 }
                rt.append(l, rt.oneScalarString(s.bytes + i, count: end - i))
                i = end
            }
            return Value(l)
        }
        defineMethod(&t, "bytes", arity: 0) { rt, a, _ in
            let s = a[0].obj(ObjString.self)
            guard rt.reserveHeap(MemoryLayout<ObjBytes>.stride + s.pointee.count) else { return Runtime.failure }
            let b = rt.newBytes(count: s.pointee.count)
            if let d = b.pointee.data { memcpy(d, s.bytes, s.pointee.count) }
            return Value(b)
        }
        defineMethod(&t, "encode", arity: -1) { rt, a, argc in
            guard argc <= 2 else { return rt.fail("string.encode expects 0 or 1 arguments, got \(argc - 1)") }
            var encoding = TextEncoding.utf8
            if argc == 2 {
                guard let e = rt.expectEncoding(a[1]) else { return Runtime.failure }
                encoding = e
            }
            return rt.encode(a[0].obj(ObjString.self), encoding) ?? Runtime.failure
        }
        defineMethod(&t, "repeat", arity: 1) { rt, a, _ in
            guard let n = rt.expectInt(a[1], "repeat count") else { return Runtime.failure }
            return rt.repeatString(a[0].obj(ObjString.self), n) ?? Runtime.failure
        }
        defineMethod(&t, "reverse", arity: 0) { rt, a, _ in rt.reverseString(a[0]) ?? Runtime.failure }
        defineMethod(&t, "pad_left", arity: -1) { rt, a, argc in rt.padMethod(a, argc, "pad_left", .left) }
        defineMethod(&t, "pad_right", arity: -1) { rt, a, argc in rt.padMethod(a, argc, "pad_right", .right) }
        defineMethod(&t, "center", arity: -1) { rt, a, argc in rt.padMethod(a, argc, "center", .both) }
        defineMethod(&t, "ord", arity: 0) { rt, a, _ in
            let s = a[0].obj(ObjString.self)
            guard s.pointee.scalarCount == 1 else {
                return rt.fail("ord() needs a string of one character, got length \(s.pointee.scalarCount)")
            }
            return Value(inlineInt: Int64(Runtime.decodeScalar(s.bytes).0))
        }
        defineMethod(&t, "format", arity: -1) { rt, a, argc in
            rt.formatString(a, argc) ?? Runtime.failure
        }
        defineMethod(&t, "join", arity: 1) { rt, a, _ in
            guard let l = rt.expectList(a[1], "argument") else { return Runtime.failure }
            return rt.join(l, separator: a[0].obj(ObjString.self))
        }
        stringMethods = t
    }

    func stripMethod(_ a: UnsafeMutablePointer<Value>, _ argc: Int, _ name: StaticString, left: Bool, right: Bool) -> Value {
        guard argc <= 2 else { return fail("string.\(name) expects 0 or 1 arguments, got \(argc - 1)") }
        var chars: UnsafeMutablePointer<ObjString>? = nil
        if argc == 2 && !a[1].isNil {
            guard let c = expectString(a[1], "characters to strip") else { return Runtime.failure }
            chars = c
        }
        return strip(a[0], chars: chars, left: left, right: right)
    }

    func splitMethod(_ a: UnsafeMutablePointer<Value>, _ argc: Int, _ name: StaticString, fromRight: Bool) -> Value {
        guard argc <= 3 else { return fail("string.\(name) expects 0 to 2 arguments, got \(argc - 1)") }
        var sep: UnsafeMutablePointer<ObjString>? = nil
        if argc >= 2 && !a[1].isNil {
            guard let s = expectString(a[1], "separator") else { return Runtime.failure }
            if s.pointee.count == 0 { return fail("separator cannot be empty") }
            sep = s
        }
        var limit = Int.max
        if argc == 3 {
            guard let n = expectCount(a[2], "split limit") else { return Runtime.failure }
            limit = n
        }
        return split(a[0], separator: sep, limit: limit, fromRight: fromRight) ?? Runtime.failure
    }

    func padMethod(_ a: UnsafeMutablePointer<Value>, _ argc: Int, _ name: StaticString, _ side: PadSide) -> Value {
        guard argc == 2 || argc == 3 else { return fail("string.\(name) expects 1 or 2 arguments, got \(argc - 1)") }
        guard let width = expectCount(a[1], "width") else { return Runtime.failure }
        var fill: UnsafeMutablePointer<ObjString>? = nil
        if argc == 3 {
            guard let f = expectString(a[2], "fill") else { return Runtime.failure }
            guard f.pointee.scalarCount == 1 else { return fail("fill must be one character, got length \(f.pointee.scalarCount)") }
            fill = f
        }
        return pad(a[0], width: width, fill: fill, side) ?? Runtime.failure
    }

    /// A count argument (limit, width): an int, not negative. Raises and returns nil else.
    func expectCount(_ v: Value, _ what: String) -> Int? {
        guard let n = expectInt(v, what) else { return nil }
        if n < 0 { raise("\(what) must not be negative, got \(n)"); return nil }
        return Int(n)
    }

    /// `upper()`/`lower()`: ASCII text is mapped byte by byte (and returned as it is when no
    /// letter changes); other text goes through Swift's Unicode case mapping.
    func mapCase(_ v: Value, upper: Bool) -> Value {
        let s = v.obj(ObjString.self)
        guard s.isASCII else { return mapCaseUnicode(s, upper: upper) }
        let n = s.pointee.count, b = s.bytes
        let from: UInt8 = upper ? 0x61 : 0x41   // 'a' or 'A'
        var first = 0
        while first < n && b[first] &- from >= 26 { first += 1 }
        if first == n { return v }
        guard reserveHeap(MemoryLayout<ObjString>.stride + n + 1) else { return Runtime.failure }
        let r = allocateString(count: n)
        let out = r.bytes
        // NOTE: `r` has room for n bytes, and `s` (rooted as the receiver) holds n.
        memcpy(out, b, first)
        for i in first..<n {
            let c = b[i]
            out[i] = c &- from < 26 ? c ^ 0x20 : c
        }
        finishString(r, scalarCount: n, ascii: true)
        return Value(r)
    }

    @inline(never)
    private func mapCaseUnicode(_ s: UnsafeMutablePointer<ObjString>, upper: Bool) -> Value {
        Value(makeString(upper ? s.string.uppercased() : s.string.lowercased()))
    }

    /// `trim()`, `strip`, `lstrip`, `rstrip`: removes whitespace (space, tab, newline,
    /// return), or the scalars of `chars`, from the chosen ends.
    func strip(_ v: Value, chars: UnsafeMutablePointer<ObjString>?, left: Bool, right: Bool) -> Value {
        let s = v.obj(ObjString.self)
        let b = s.bytes
        var lo = 0, hi = s.pointee.count
        if let chars {
            // One scalar of `chars` matches when its bytes do: scan `chars` for them.
            func member(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
                let c = chars.bytes, m = chars.pointee.count
                var i = 0
                while i < m {
                    let k = Runtime.sequenceLength(c[i])
                    if k == n && memcmp(c + i, p, n) == 0 { return true }
                    i += k
                }
                return false
            }
            if left {
                while lo < hi {
                    let k = Runtime.sequenceLength(b[lo])
                    guard member(b + lo, k) else { break }
                    lo += k
                }
            }
            if right {
                // NOTE: `lo` and `hi` are scalar boundaries of valid UTF-8, so the walk back to
                // the last scalar's lead byte stops at or above `lo`; `member` reads only
                // `chars`' own bytes and the k bytes of one scalar.
                while hi > lo {
                    var start = hi - 1
                    while b[start] & 0xC0 == 0x80 { start -= 1 }
                    guard member(b + start, hi - start) else { break }
                    hi = start
                }
            }
        } else {
            if left { while lo < hi && Runtime.isSpaceByte(b[lo]) { lo += 1 } }
            if right { while hi > lo && Runtime.isSpaceByte(b[hi - 1]) { hi -= 1 } }
        }
        if lo == 0 && hi == s.pointee.count { return v }
        guard reserveHeap(MemoryLayout<ObjString>.stride + (hi - lo) + 1) else { return Runtime.failure }
        return cutString(b + lo, hi - lo, ascii: s.isASCII)
    }

    enum PadSide { case left, right, both }

    /// `pad_left`, `pad_right`, `center`: `s` padded with `fill` (one scalar, default a
    /// space) to `width` scalars; `center` puts the odd one on the right. Nil after raising.
    func pad(_ v: Value, width: Int, fill: UnsafeMutablePointer<ObjString>?, _ side: PadSide) -> Value? {
        let s = v.obj(ObjString.self)
        let len = s.pointee.scalarCount
        if width <= len { return v }
        let padCount = width - len
        let fillBytes = fill?.pointee.count ?? 1
        let (padBytes, o1) = padCount.multipliedReportingOverflow(by: fillBytes)
        let (total, o2) = padBytes.addingReportingOverflow(s.pointee.count)
        if o1 || o2 || total > (1 << 31) { raise("string is too long"); return nil }
        guard reserveHeap(MemoryLayout<ObjString>.stride + total + 1) else { return nil }
        let r = allocateString(count: total)
        let leftCount = side == .left ? padCount : side == .right ? 0 : padCount / 2
        var space: UInt8 = 0x20
        // NOTE: every write below stays in `r`'s `total` bytes: leftCount + (padCount -
        // leftCount) fills of `fillBytes` bytes plus the string's own bytes.
        withUnsafePointer(to: &space) { spacePointer in
            let f = fill.map { UnsafePointer($0.bytes) } ?? spacePointer
            var o = 0
            for _ in 0..<leftCount { memcpy(r.bytes + o, f, fillBytes); o += fillBytes }
            memcpy(r.bytes + o, s.bytes, s.pointee.count)
            o += s.pointee.count
            for _ in leftCount..<padCount { memcpy(r.bytes + o, f, fillBytes); o += fillBytes }
        }
        finishString(r, scalarCount: width, ascii: width == total)
        return Value(r)
    }

    /// `reverse()`: the scalars in reverse order.
    func reverseString(_ v: Value) -> Value? {
        let s = v.obj(ObjString.self)
        let n = s.pointee.count
        if s.pointee.scalarCount < 2 { return v }
        guard reserveHeap(MemoryLayout<ObjString>.stride + n + 1) else { return nil }
        let r = allocateString(count: n)
        let b = s.bytes, out = r.bytes
        var i = 0
        // NOTE: each scalar's k bytes at b[i..<i + k] go to out[n - i - k..<n - i]: inside both.
        while i < n {
            let k = s.isASCII ? 1 : Runtime.sequenceLength(b[i])
            memcpy(out + (n - i - k), b + i, k)
            i += k
        }
        finishString(r, scalarCount: s.pointee.scalarCount, ascii: s.isASCII)
        return Value(r)
    }
}
