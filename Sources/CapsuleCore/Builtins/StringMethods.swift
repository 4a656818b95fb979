#if canImport(Glibc)
import Glibc
#endif

/// Methods of strings. `args[0]` is the receiver.
extension Runtime {
    func installStringMethods() {
        var t = NameTable()
        defineMethod(&t, "len", arity: 0) { _, a, _ in Value(inlineInt: Int64(a[0].obj(ObjString.self).pointee.scalarCount)) }
        defineMethod(&t, "upper", arity: 0) { rt, a, _ in Value(rt.makeString(a[0].obj(ObjString.self).string.uppercased())) }
        defineMethod(&t, "lower", arity: 0) { rt, a, _ in Value(rt.makeString(a[0].obj(ObjString.self).string.lowercased())) }
        defineMethod(&t, "trim", arity: 0) { rt, a, _ in Value(rt.makeString(a[0].obj(ObjString.self).string.trimmingSpaces)) }
        defineMethod(&t, "split", arity: -1) { rt, a, argc in
            let s = a[0].obj(ObjString.self).string
            var parts: [String]
            if argc == 1 {
                parts = s.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).map(String.init)
            } else if argc == 2 {
                guard let sep = rt.expectString(a[1], "separator") else { return Runtime.failure }
                let sepText = sep.string
                if sepText.isEmpty { return rt.fail("separator cannot be empty") }
                parts = Runtime.split(s, by: sepText)
            } else {
                return rt.fail("string.split expects 0 or 1 arguments, got \(argc - 1)")
            }
            guard rt.reserveHeap(Runtime.stringsCost(count: parts.count, bytes: s.utf8.count)) else { return Runtime.failure }
            let l = rt.newList(capacity: parts.count)
            rt.pushRoot(Value(l))
            defer { rt.popRoot() }
            for p in parts { rt.append(l, Value(rt.makeString(p))) }
            return Value(l)
        }
        defineMethod(&t, "find", arity: 1) { rt, a, _ in
            let s = a[0].obj(ObjString.self)
            guard let sub = rt.expectString(a[1], "substring") else { return Runtime.failure }
            guard let byteIndex = Runtime.findBytes(s.buffer, sub.buffer) else { return Value(inlineInt: -1) }
            var scalars = 0
            for i in 0..<byteIndex where s.bytes[i] & 0xC0 != 0x80 { scalars += 1 }
            return Value(inlineInt: Int64(scalars))
        }
        defineMethod(&t, "contains", arity: 1) { rt, a, _ in
            guard let sub = rt.expectString(a[1], "substring") else { return Runtime.failure }
            return Value(bool: Runtime.findBytes(a[0].obj(ObjString.self).buffer, sub.buffer) != nil)
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
        defineMethod(&t, "replace", arity: 2) { rt, a, _ in
            guard let old = rt.expectString(a[1], "pattern"), let new = rt.expectString(a[2], "replacement") else { return Runtime.failure }
            let oldText = old.string
            if oldText.isEmpty { return rt.fail("pattern cannot be empty") }
            let parts = Runtime.split(a[0].obj(ObjString.self).string, by: oldText)
            let size = a[0].obj(ObjString.self).pointee.count + (parts.count - 1) * (new.pointee.count - old.pointee.count)
            guard rt.reserveHeap(MemoryLayout<ObjString>.stride + size + 1) else { return Runtime.failure }
            return Value(rt.makeString(parts.joined(separator: new.string)))
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
                rt.append(l, Value(rt.makeString(UnsafeBufferPointer(start: s.bytes + i, count: end - i))))
                i = end
            }
            return Value(l)
        }
        defineMethod(&t, "bytes", arity: 0) { rt, a, _ in
            let s = a[0].obj(ObjString.self)
            let b = rt.newBytes(count: s.pointee.count)
            if s.pointee.count > 0 { memcpy(b.pointee.data!, s.bytes, s.pointee.count) }
            return Value(b)
        }
        defineMethod(&t, "repeat", arity: 1) { rt, a, _ in
            guard let n = rt.expectInt(a[1], "repeat count") else { return Runtime.failure }
            return rt.repeatString(a[0].obj(ObjString.self), n) ?? Runtime.failure
        }
        defineMethod(&t, "ord", arity: 0) { rt, a, _ in
            let s = a[0].obj(ObjString.self)
            guard s.pointee.scalarCount == 1, let u = s.string.unicodeScalars.first else {
                return rt.fail("ord() needs a string of one character, got length \(s.pointee.scalarCount)")
            }
            return Value(inlineInt: Int64(u.value))
        }
        defineMethod(&t, "format", arity: -1) { rt, a, argc in
            let s = a[0].obj(ObjString.self)
            // Built within what is left under the heap limit, with a fallible allocator.
            let out = rt.textBuffer()
            var next = 1
            let p = s.bytes, n = s.pointee.count
            var i = 0, run = 0
            while i < n {
                if p[i] == UInt8(ascii: "{") && i + 1 < n && p[i + 1] == UInt8(ascii: "}") {
                    out.append(p + i - run, count: run)
                    run = 0
                    guard next < argc else { return rt.fail("format string needs more than \(rt.plural(argc - 1, "argument"))") }
                    let arg = a[next]
                    if arg.isString {
                        out.append(arg.obj(ObjString.self).bytes, count: arg.obj(ObjString.self).pointee.count)
                    } else {
                        guard let text = rt.toText(arg) else { return Runtime.failure }
                        out.append(text)
                    }
                    if out.failed { rt.raiseTextOutOfMemory(); return Runtime.failure }
                    next += 1
                    i += 2
                } else {
                    run += 1
                    i += 1
                }
            }
            out.append(p + n - run, count: run)
            if next < argc { return rt.fail("format string has \(rt.plural(next - 1, "placeholder")) but got \(rt.plural(argc - 1, "argument"))") }
            if out.failed { rt.raiseTextOutOfMemory(); return Runtime.failure }
            return Value(rt.makeString(out.bytes))
        }
        defineMethod(&t, "join", arity: 1) { rt, a, _ in
            guard let l = rt.expectList(a[1], "argument") else { return Runtime.failure }
            return rt.join(l, separator: a[0].obj(ObjString.self).string)
        }
        stringMethods = t
    }

    /// Joins list elements with `str()` text of each, built within what is left under the
    /// heap limit (docs/limits.md).
    func join(_ l: UnsafeMutablePointer<ObjList>, separator: String) -> Value {
        let out = textBuffer()
        var j = 0
        while j < l.pointee.count {
            if j > 0 { out.append(separator) }
            let item = l.pointee.items.unsafelyUnwrapped[j]
            if item.isString {
                out.append(item.obj(ObjString.self).bytes, count: item.obj(ObjString.self).pointee.count)
            } else {
                guard let t = toText(item) else { return Runtime.failure }
                out.append(t)
            }
            if out.failed { raiseTextOutOfMemory(); return Runtime.failure }
            j += 1
        }
        return Value(makeString(out.bytes))
    }

    /// Byte offset of the first occurrence of `needle` in `hay`.
    static func findBytes(_ hay: UnsafeBufferPointer<UInt8>, _ needle: UnsafeBufferPointer<UInt8>) -> Int? {
        let n = needle.count, m = hay.count
        if n == 0 { return 0 }
        if n > m { return nil }
        guard let hb = hay.baseAddress, let nb = needle.baseAddress else { return nil }
        var i = 0
        while i <= m - n {
            if hb[i] == nb[0] && memcmp(hb + i, nb, n) == 0 { return i }
            i += 1
        }
        return nil
    }

    /// Splits on every occurrence of a non-empty separator (byte-wise).
    static func split(_ s: String, by sep: String) -> [String] {
        let hay = Array(s.utf8), needle = Array(sep.utf8)
        var parts: [String] = []
        var start = 0, i = 0
        while i + needle.count <= hay.count {
            if hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle {
                parts.append(String(decoding: hay[start..<i], as: UTF8.self))
                i += needle.count
                start = i
            } else {
                i += 1
            }
        }
        parts.append(String(decoding: hay[start...], as: UTF8.self))
        return parts
    }
}
