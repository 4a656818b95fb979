#if canImport(Glibc)
import Glibc
#endif

/// Methods of lists, maps and bytes. `args[0]` is the receiver.
extension Runtime {
    func installListMethods() {
        var t = NameTable()
        defineMethod(&t, "len", arity: 0) { _, a, _ in Value(inlineInt: Int64(a[0].obj(ObjList.self).pointee.count)) }
        defineMethod(&t, "push", arity: 1) { rt, a, _ in rt.append(a[0].obj(ObjList.self), a[1]); return .nil }
        defineMethod(&t, "pop", arity: 0) { rt, a, _ in
            let l = a[0].obj(ObjList.self)
            guard l.pointee.count > 0 else { return rt.fail("pop from an empty list") }
            l.pointee.count -= 1
            return l.pointee.items![l.pointee.count]
        }
        defineMethod(&t, "insert", arity: 2) { rt, a, _ in
            let l = a[0].obj(ObjList.self)
            guard let raw = rt.expectInt(a[1], "list index") else { return Runtime.failure }
            var n = raw
            if n < 0 { n += Int64(l.pointee.count) }
            guard n >= 0 && n <= Int64(l.pointee.count) else {
                return rt.fail("index \(raw) out of range for list of length \(l.pointee.count)")
            }
            rt.append(l, .nil)
            let items = l.pointee.items!
            var j = l.pointee.count - 1
            while j > Int(n) { items[j] = items[j - 1]; j -= 1 }
            items[Int(n)] = a[2]
            return .nil
        }
        defineMethod(&t, "remove", arity: 1) { rt, a, _ in
            let l = a[0].obj(ObjList.self)
            guard let n = rt.resolveIndex(a[1], count: l.pointee.count, what: "list") else { return Runtime.failure }
            let items = l.pointee.items!
            let v = items[n]
            for j in n..<(l.pointee.count - 1) { items[j] = items[j + 1] }
            l.pointee.count -= 1
            return v
        }
        defineMethod(&t, "index", arity: 1) { rt, a, _ in
            guard let j = rt.listIndex(of: a[1], in: a[0].obj(ObjList.self)) else { return Runtime.failure }
            return Value(inlineInt: Int64(j))
        }
        defineMethod(&t, "contains", arity: 1) { rt, a, _ in
            guard let j = rt.listIndex(of: a[1], in: a[0].obj(ObjList.self)) else { return Runtime.failure }
            return Value(bool: j >= 0)
        }
        defineMethod(&t, "reverse", arity: 0) { _, a, _ in
            let l = a[0].obj(ObjList.self)
            if l.pointee.count > 1 {
                var buffer = UnsafeMutableBufferPointer(start: l.pointee.items, count: l.pointee.count)
                buffer.reverse()
            }
            return .nil
        }
        defineMethod(&t, "sort", arity: -1) { rt, a, argc in
            guard argc <= 2 else { return rt.fail("list.sort expects 0 or 1 arguments, got \(argc - 1)") }
            return rt.sortList(a[0].obj(ObjList.self), comparator: argc == 2 ? a[1] : nil) ? .nil : Runtime.failure
        }
        defineMethod(&t, "sort_by", arity: 1) { rt, a, _ in
            rt.sortList(a[0].obj(ObjList.self), key: a[1]) ? .nil : Runtime.failure
        }
        defineMethod(&t, "join", arity: -1) { rt, a, argc in
            var sep: UnsafeMutablePointer<ObjString>? = nil
            if argc == 2 {
                guard let s = rt.expectString(a[1], "separator") else { return Runtime.failure }
                sep = s
            }
            return rt.join(a[0].obj(ObjList.self), separator: sep)
        }
        defineMethod(&t, "map", arity: 1) { rt, a, _ in
            let l = a[0].obj(ObjList.self)
            let r = rt.newList(capacity: l.pointee.count)
            rt.pushRoot(Value(r))
            defer { rt.popRoot() }
            var j = 0
            while j < l.pointee.count {
                guard let v = rt.call(a[1], [l.pointee.items![j]]) else { return Runtime.failure }
                rt.append(r, v)
                j += 1
            }
            return Value(r)
        }
        defineMethod(&t, "filter", arity: 1) { rt, a, _ in
            let l = a[0].obj(ObjList.self)
            let r = rt.newList()
            rt.pushRoot(Value(r))
            defer { rt.popRoot() }
            var j = 0
            while j < l.pointee.count {
                let item = l.pointee.items![j]
                guard let keep = rt.call(a[1], [item]) else { return Runtime.failure }
                if keep.isTruthy { rt.append(r, item) }
                j += 1
            }
            return Value(r)
        }
        defineMethod(&t, "copy", arity: 0) { rt, a, _ in
            let l = a[0].obj(ObjList.self)
            let r = rt.newList(capacity: l.pointee.count)
            for j in 0..<l.pointee.count { rt.append(r, l.pointee.items![j]) }
            return Value(r)
        }
        defineMethod(&t, "clear", arity: 0) { _, a, _ in a[0].obj(ObjList.self).pointee.count = 0; return .nil }
        defineMethod(&t, "extend", arity: 1) { rt, a, _ in
            guard let other = rt.expectList(a[1], "argument") else { return Runtime.failure }
            let l = a[0].obj(ObjList.self)
            let n = other.pointee.count
            // One reservation, checked first: the size is the script's choice.
            guard rt.reserveHeap(n * MemoryLayout<Value>.stride) else { return Runtime.failure }
            rt.reserve(l, l.pointee.count + n)
            for j in 0..<n { rt.append(l, other.pointee.items![j]) }
            return .nil
        }
        listMethods = t
    }

    /// Bottom-up stable merge sort of `items` by `less`, shared by `sort` and sorting by key.
    /// Stops early once `failed()` is true; the order is then unspecified (callers discard it).
    static func stableMergeSort<T>(_ items: inout [T], failed: () -> Bool, less: (T, T) -> Bool) {
        var buffer = items
        var width = 1
        let n = items.count
        while width < n && !failed() {
            var start = 0
            while start < n && !failed() {
                let mid = min(start + width, n), end = min(start + 2 * width, n)
                var i = start, j = mid, k = start
                while i < mid && j < end {
                    if less(items[j], items[i]) { buffer[k] = items[j]; j += 1 } else { buffer[k] = items[i]; i += 1 }
                    k += 1
                }
                while i < mid { buffer[k] = items[i]; i += 1; k += 1 }
                while j < end { buffer[k] = items[j]; j += 1; k += 1 }
                start = end
            }
            swap(&items, &buffer)
            width *= 2
        }
    }

    /// Stable merge sort with the default order or a script comparator. False after raising.
    func sortList(_ l: UnsafeMutablePointer<ObjList>, comparator: Value?) -> Bool {
        var items = Array(UnsafeBufferPointer(start: l.pointee.items, count: l.pointee.count))
        // The originals stay rooted through `l`; copies made during sorting are the same values.
        for v in items { pushRoot(v) }
        defer { popRoot(items.count) }
        var failed = false
        func less(_ x: Value, _ y: Value) -> Bool {
            if failed { return false }
            if let comparator {
                guard let r = call(comparator, [x, y]) else { failed = true; return false }
                if r.isBool { return r == .true }
                if r.isInt { return r.intValue < 0 }
                if r.isDouble { return r.asDouble < 0 }
                raise("sort comparator must return an int or a bool, got \(typeName(r))")
                failed = true
                return false
            }
            guard let c = compare(x, y, strict: true) else { failed = true; return false }
            return c
        }
        Self.stableMergeSort(&items, failed: { failed }, less: less)
        if failed { return false }
        let count = min(items.count, l.pointee.count)
        for j in 0..<count { l.pointee.items![j] = items[j] }
        return true
    }

    func installMapMethods() {
        var t = NameTable()
        defineMethod(&t, "len", arity: 0) { _, a, _ in Value(inlineInt: Int64(a[0].obj(ObjMap.self).pointee.live)) }
        defineMethod(&t, "keys", arity: 0) { rt, a, _ in rt.mapList(a[0].obj(ObjMap.self), keys: true) }
        defineMethod(&t, "values", arity: 0) { rt, a, _ in rt.mapList(a[0].obj(ObjMap.self), keys: false) }
        defineMethod(&t, "items", arity: 0) { rt, a, _ in
            let m = a[0].obj(ObjMap.self)
            let l = rt.newList(capacity: m.pointee.live)
            rt.pushRoot(Value(l))
            defer { rt.popRoot() }
            rt.forEachEntry(m) { key, value in
                let pair = rt.newList(capacity: 2)
                rt.append(l, Value(pair))
                rt.append(pair, key)
                rt.append(pair, value)
            }
            return Value(l)
        }
        defineMethod(&t, "has", arity: 1) { rt, a, _ in
            if a[1].isNil { return .false }
            let v = rt.mapGet(a[0].obj(ObjMap.self), a[1])
            if v.bits == Runtime.failure.bits { return Runtime.failure }
            return Value(bool: v.bits != Value.empty.bits)
        }
        defineMethod(&t, "get", arity: -1) { rt, a, argc in
            guard argc == 2 || argc == 3 else { return rt.fail("map.get expects 1 or 2 arguments, got \(argc - 1)") }
            if !a[1].isNil {
                let v = rt.mapGet(a[0].obj(ObjMap.self), a[1])
                if v.bits != Value.empty.bits { return v }  // `Runtime.failure` propagates
            }
            return argc == 3 ? a[2] : .nil
        }
        defineMethod(&t, "remove", arity: 1) { rt, a, _ in
            if a[1].isNil { return .nil }
            return rt.mapRemove(a[0].obj(ObjMap.self), a[1]) ?? .nil
        }
        defineMethod(&t, "clear", arity: 0) { rt, a, _ in rt.mapClear(a[0].obj(ObjMap.self)); return .nil }
        mapMethods = t
    }

    func mapList(_ m: UnsafeMutablePointer<ObjMap>, keys: Bool) -> Value {
        let l = newList(capacity: m.pointee.live)
        forEachEntry(m) { key, value in append(l, keys ? key : value) }
        return Value(l)
    }

    func installBytesMethods() {
        var t = NameTable()
        defineMethod(&t, "len", arity: 0) { _, a, _ in Value(inlineInt: Int64(a[0].obj(ObjBytes.self).pointee.count)) }
        defineMethod(&t, "push", arity: 1) { rt, a, _ in
            let b = a[0].obj(ObjBytes.self)
            guard a[1].isInt, a[1].intValue >= 0, a[1].intValue <= 255 else {
                return rt.fail("bytes values must be ints in 0...255, got \(rt.describe(a[1], quoted: true))")
            }
            if b.pointee.count == b.pointee.capacity { rt.reserveBytes(b, max(16, b.pointee.capacity * 2), minimum: b.pointee.count + 1) }
            b.pointee.data![b.pointee.count] = UInt8(a[1].intValue)
            b.pointee.count += 1
            return .nil
        }
        defineMethod(&t, "hex", arity: 0) { rt, a, _ in
            let b = a[0].obj(ObjBytes.self)
            return rt.hexEncode(b.pointee.data.map { UnsafePointer($0) }, b.pointee.count) ?? Runtime.failure
        }
        defineMethod(&t, "decode", arity: -1) { rt, a, argc in
            guard argc <= 2 else { return rt.fail("bytes.decode expects 0 or 1 arguments, got \(argc - 1)") }
            var encoding = TextEncoding.utf8
            if argc == 2 {
                guard let e = rt.expectEncoding(a[1]) else { return Runtime.failure }
                encoding = e
            }
            let b = a[0].obj(ObjBytes.self)
            return rt.decode(b.pointee.data.map { UnsafePointer($0) }, b.pointee.count, encoding) ?? Runtime.failure
        }
        bytesMethods = t
    }
}
