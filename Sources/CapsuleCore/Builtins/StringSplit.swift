#if canImport(Glibc)
import Glibc
#endif

/// `split`, `rsplit`, `lines`, `join` and `replace` on a string's bytes. Each finds its cuts
/// twice, once to count the result (checked against the heap limit before anything is
/// allocated) and once to build it; the parts are new strings made straight from the
/// receiver's bytes into a list made at its final size.
extension Runtime {
    /// Calls `body(start, end)` with the byte range of each part of `b[0..<m]` split on
    /// `sep[0..<k]` (nil: on runs of whitespace, ignoring it at both ends), at most `limit`
    /// times, from the left or (`fromRight`) from the right, in that order.
    @inline(__always)
    static func forEachPart(_ b: UnsafePointer<UInt8>, _ m: Int, _ sep: UnsafePointer<UInt8>?, _ k: Int,
                            limit: Int, fromRight: Bool, _ body: (Int, Int) -> Void) {
        var cuts = 0
        if let sep {
            if !fromRight {
                var i = 0
                while cuts < limit {
                    let j = search(b, m, from: i, sep, k)
                    if j < 0 { break }
                    body(i, j)
                    cuts += 1
                    i = j + k
                }
                body(i, m)
            } else {
                var e = m
                while cuts < limit {
                    let j = searchBack(b, end: e, sep, k)
                    if j < 0 { break }
                    body(j + k, e)
                    cuts += 1
                    e = j
                }
                body(0, e)
            }
        } else if !fromRight {
            var i = 0
            while i < m && isSpaceByte(b[i]) { i += 1 }
            while i < m {
                if cuts == limit { body(i, m); return }
                var j = i
                while j < m && !isSpaceByte(b[j]) { j += 1 }
                body(i, j)
                cuts += 1
                i = j
                while i < m && isSpaceByte(b[i]) { i += 1 }
            }
        } else {
            var e = m
            while e > 0 && isSpaceByte(b[e - 1]) { e -= 1 }
            while e > 0 {
                if cuts == limit { body(0, e); return }
                var j = e
                while j > 0 && !isSpaceByte(b[j - 1]) { j -= 1 }
                body(j, e)
                cuts += 1
                e = j
                while e > 0 && isSpaceByte(b[e - 1]) { e -= 1 }
            }
        }
    }

    /// `s.split(sep, limit)` and `s.rsplit(sep, limit)`. Nil after raising `out of memory`.
    func split(_ v: Value, separator: UnsafeMutablePointer<ObjString>?, limit: Int, fromRight: Bool) -> Value? {
        let s = v.obj(ObjString.self)
        let b = UnsafePointer(s.bytes), m = s.pointee.count, ascii = s.isASCII
        let sep = separator.map { UnsafePointer($0.bytes) }, k = separator?.pointee.count ?? 0
        var parts = 0
        Runtime.forEachPart(b, m, sep, k, limit: limit, fromRight: fromRight) { _, _ in parts += 1 }
        guard reserveHeap(Runtime.stringsCost(count: parts, bytes: m)) else { return nil }
        let l = newList(capacity: parts)
        // NOTE: `newList` gave room for `parts` items; they are nil until filled, so the
        // collector (which may run while a part is allocated) marks only what is built.
        guard let items = l.pointee.items else { return Value(l) }
        items.initialize(repeating: .nil, count: parts)
        l.pointee.count = parts
        pushRoot(Value(l))
        defer { popRoot() }
        // From the right, parts come last first: fill the list from its end.
        var slot = fromRight ? parts - 1 : 0
        let step = fromRight ? -1 : 1
        Runtime.forEachPart(b, m, sep, k, limit: limit, fromRight: fromRight) { start, end in
            items[slot] = cutString(b + start, end - start, ascii: ascii)
            slot += step
        }
        return Value(l)
    }

    /// Calls `body(start, end)` for each line of `b[0..<m]`: split on `\n`, a `\r` before it
    /// dropped, no empty line after a final newline.
    @inline(__always)
    static func forEachLine(_ b: UnsafePointer<UInt8>, _ m: Int, _ body: (Int, Int) -> Void) {
        var i = 0
        while i < m {
            // NOTE: i < m, so `b[i..<m]` is inside the string.
            let hit = memchr(b + i, 0x0A, m - i)
            let j = hit.map { UnsafeRawPointer(b).distance(to: UnsafeRawPointer($0)) } ?? m
            body(i, j > i && b[j - 1] == 0x0D ? j - 1 : j)
            i = j + 1
        }
    }

    /// `s.lines()`. Nil after raising `out of memory`.
    func lines(_ v: Value) -> Value? {
        let s = v.obj(ObjString.self)
        let b = UnsafePointer(s.bytes), m = s.pointee.count, ascii = s.isASCII
        var parts = 0
        Runtime.forEachLine(b, m) { _, _ in parts += 1 }
        guard reserveHeap(Runtime.stringsCost(count: parts, bytes: m)) else { return nil }
        let l = newList(capacity: parts)
        pushRoot(Value(l))
        defer { popRoot() }
        Runtime.forEachLine(b, m) { start, end in append(l, cutString(b + start, end - start, ascii: ascii)) }
        return Value(l)
    }

    /// `s.replace(old, new, count)`: the first `limit` occurrences of `old` (not empty)
    /// replaced, left to right. Nil after raising.
    func replace(_ v: Value, _ old: UnsafeMutablePointer<ObjString>, _ new: UnsafeMutablePointer<ObjString>, limit: Int) -> Value? {
        let s = v.obj(ObjString.self)
        let b = s.bytes, m = s.pointee.count, k = old.pointee.count
        var n = 0, i = 0
        while n < limit {
            let j = Runtime.search(b, m, from: i, old.bytes, k)
            if j < 0 { break }
            n += 1
            i = j + k
        }
        if n == 0 { return v }
        let (grow, o1) = n.multipliedReportingOverflow(by: new.pointee.count - k)
        let (size, o2) = m.addingReportingOverflow(grow)
        if o1 || o2 || size > (1 << 31) { raise("string is too long"); return nil }
        guard reserveHeap(MemoryLayout<ObjString>.stride + size + 1) else { return nil }
        let r = allocateString(count: size)
        let out = r.bytes
        var o = 0
        i = 0
        // NOTE: the same n matches as counted above (nothing ran in between), so the copies
        // fill exactly `size` bytes of `r`.
        for _ in 0..<n {
            let j = Runtime.search(b, m, from: i, old.bytes, k)
            memcpy(out + o, b + i, j - i)
            o += j - i
            memcpy(out + o, new.bytes, new.pointee.count)
            o += new.pointee.count
            i = j + k
        }
        memcpy(out + o, b + i, m - i)
        let scalars = s.pointee.scalarCount + n * (new.pointee.scalarCount - old.pointee.scalarCount)
        finishString(r, scalarCount: scalars, ascii: scalars == size)
        return Value(r)
    }

    /// Joins list elements with `separator` (nil: nothing) between them. A list of strings is
    /// measured first and copied into one new string; other elements are converted with `str`
    /// into a buffer kept within what is left under the heap limit (docs/limits.md).
    func join(_ l: UnsafeMutablePointer<ObjList>, separator: UnsafeMutablePointer<ObjString>?) -> Value {
        let count = l.pointee.count
        let sepBytes = separator?.pointee.count ?? 0, sepScalars = separator?.pointee.scalarCount ?? 0
        var size = 0, scalars = 0, overflow = false
        for j in 0..<count {
            let item = l.pointee.items.unsafelyUnwrapped[j]
            guard item.isString else { return joinConverting(l, separator: separator) }
            let o: Bool
            (size, o) = size.addingReportingOverflow(item.obj(ObjString.self).pointee.count)
            overflow = overflow || o
            scalars &+= item.obj(ObjString.self).pointee.scalarCount
        }
        if count > 1 {
            let (seps, o1) = (count - 1).multipliedReportingOverflow(by: sepBytes)
            let o2: Bool
            (size, o2) = size.addingReportingOverflow(seps)
            overflow = overflow || o1 || o2
            scalars &+= (count - 1) &* sepScalars
        }
        // Refused like repetition's result (the scalar count cannot overflow then either).
        if overflow || size > (1 << 31) { return fail("string is too long") }
        guard reserveHeap(MemoryLayout<ObjString>.stride + size + 1) else { return Runtime.failure }
        let r = allocateString(count: size)
        let out = r.bytes
        var o = 0
        // NOTE: no script code ran since the list was measured (the reservation may collect,
        // which frees nothing the list holds), so its items still fill exactly `size` bytes.
        for j in 0..<count {
            if j > 0, let separator {
                memcpy(out + o, separator.bytes, sepBytes)
                o += sepBytes
            }
            let item = l.pointee.items.unsafelyUnwrapped[j].obj(ObjString.self)
            memcpy(out + o, item.bytes, item.pointee.count)
            o += item.pointee.count
        }
        finishString(r, scalarCount: scalars, ascii: scalars == size)
        return Value(r)
    }

    @inline(never)
    private func joinConverting(_ l: UnsafeMutablePointer<ObjList>, separator: UnsafeMutablePointer<ObjString>?) -> Value {
        let out = textBuffer()
        var j = 0
        // `str` of an instance runs script code, which may change the list: re-read it.
        while j < l.pointee.count {
            if j > 0, let separator { out.append(separator.bytes, count: separator.pointee.count) }
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
}
