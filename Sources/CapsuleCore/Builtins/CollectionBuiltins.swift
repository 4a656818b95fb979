/// Global functions over lists: `sum`, `min`, `max`, `any`, `all`, `zip`, `enumerate`,
/// `sorted`, `reversed`, `reduce`. Each returns a new value and leaves its arguments alone.
extension Runtime {
    func installCollectionBuiltins() {
        defineBuiltin("sum", arity: -1) { rt, a, argc in
            guard argc == 1 || argc == 2 else { return rt.fail("sum expects 1 or 2 arguments, got \(argc)") }
            guard let l = rt.expectList(a[0], "sum argument") else { return Runtime.failure }
            var total = argc == 2 ? a[1] : Value(inlineInt: 0)
            rt.pushRoot(total)
            defer { rt.popRoot() }
            var j = 0
            while j < l.pointee.count {
                guard let next = rt.arithmetic(.add, total, l.pointee.items![j]) else { return Runtime.failure }
                total = next
                rt.tempRoots[rt.tempRoots.count - 1] = total
                j += 1
            }
            return total
        }
        defineBuiltin("min", arity: -1) { rt, a, argc in rt.extreme(a, argc, name: "min", wantLess: true) }
        defineBuiltin("max", arity: -1) { rt, a, argc in rt.extreme(a, argc, name: "max", wantLess: false) }
        for (name, wantAll) in [("any", false), ("all", true)] {
            defineBuiltin(name, arity: -1) { rt, a, argc in
                guard argc == 1 || argc == 2 else { return rt.fail("\(name) expects 1 or 2 arguments, got \(argc)") }
                guard let l = rt.expectList(a[0], "\(name) argument") else { return Runtime.failure }
                var j = 0
                while j < l.pointee.count {
                    var v = l.pointee.items![j]
                    if argc == 2 {
                        guard let r = rt.call(a[1], [v]) else { return Runtime.failure }
                        v = r
                    }
                    if v.isTruthy != wantAll { return wantAll ? .false : .true }
                    j += 1
                }
                return wantAll ? .true : .false
            }
        }
        defineBuiltin("zip", arity: -1) { rt, a, argc in
            guard argc >= 1 else { return rt.fail("zip expects at least 1 argument, got 0") }
            var count = Int.max
            for j in 0..<argc {
                guard let l = rt.expectList(a[j], "zip argument") else { return Runtime.failure }
                count = min(count, l.pointee.count)
            }
            guard rt.reserveHeap(count * (argc + 1) * MemoryLayout<Value>.stride) else { return Runtime.failure }
            let r = rt.newList(capacity: count)
            rt.pushRoot(Value(r))
            defer { rt.popRoot() }
            for i in 0..<count {
                let tuple = rt.newList(capacity: argc)
                rt.append(r, Value(tuple))
                for j in 0..<argc { rt.append(tuple, a[j].obj(ObjList.self).pointee.items![i]) }
            }
            return Value(r)
        }
        defineBuiltin("enumerate", arity: 1) { rt, a, _ in
            guard let l = rt.expectList(a[0], "enumerate argument") else { return Runtime.failure }
            let count = l.pointee.count
            guard rt.reserveHeap(count * 3 * MemoryLayout<Value>.stride) else { return Runtime.failure }
            let r = rt.newList(capacity: count)
            rt.pushRoot(Value(r))
            defer { rt.popRoot() }
            for i in 0..<count {
                let pair = rt.newList(capacity: 2)
                rt.append(r, Value(pair))
                rt.append(pair, Value(inlineInt: Int64(i)))
                rt.append(pair, l.pointee.items![i])
            }
            return Value(r)
        }
        defineBuiltin("sorted", arity: -1) { rt, a, argc in
            guard argc == 1 || argc == 2 else { return rt.fail("sorted expects 1 or 2 arguments, got \(argc)") }
            guard let l = rt.expectList(a[0], "sorted argument") else { return Runtime.failure }
            guard let copy = rt.copyList(l) else { return Runtime.failure }
            rt.pushRoot(Value(copy))
            defer { rt.popRoot() }
            let ok = argc == 2 ? rt.sortList(copy, key: a[1]) : rt.sortList(copy, comparator: nil)
            return ok ? Value(copy) : Runtime.failure
        }
        defineBuiltin("reversed", arity: 1) { rt, a, _ in
            guard let l = rt.expectList(a[0], "reversed argument") else { return Runtime.failure }
            guard let copy = rt.copyList(l) else { return Runtime.failure }
            if copy.pointee.count > 1 {
                var buffer = UnsafeMutableBufferPointer(start: copy.pointee.items, count: copy.pointee.count)
                buffer.reverse()
            }
            return Value(copy)
        }
        defineBuiltin("reduce", arity: -1) { rt, a, argc in
            guard argc == 2 || argc == 3 else { return rt.fail("reduce expects 2 or 3 arguments, got \(argc)") }
            guard let l = rt.expectList(a[0], "reduce argument") else { return Runtime.failure }
            var j = 0
            var acc: Value
            if argc == 3 {
                acc = a[2]
            } else {
                guard l.pointee.count > 0 else { return rt.fail("reduce of an empty list with no initial value") }
                acc = l.pointee.items![0]
                j = 1
            }
            rt.pushRoot(acc)
            defer { rt.popRoot() }
            while j < l.pointee.count {
                guard let next = rt.call(a[1], [acc, l.pointee.items![j]]) else { return Runtime.failure }
                acc = next
                rt.tempRoots[rt.tempRoots.count - 1] = acc
                j += 1
            }
            return acc
        }
    }

    /// A new list with the elements of `l`; nil after raising (heap limit).
    func copyList(_ l: UnsafeMutablePointer<ObjList>) -> UnsafeMutablePointer<ObjList>? {
        let count = l.pointee.count
        guard reserveHeap(count * MemoryLayout<Value>.stride) else { return nil }
        let r = newList(capacity: count)
        for j in 0..<count { append(r, l.pointee.items![j]) }
        return r
    }

    /// `min`/`max` (the builtins and `math.min`/`math.max`): of one list's elements, or of the
    /// arguments. The first of equal extremes wins.
    func extreme(_ a: UnsafeMutablePointer<Value>, _ argc: Int, name: String, wantLess: Bool) -> Value {
        guard argc >= 1 else { return fail("\(name) expects at least 1 argument, got 0") }
        var items = a
        var count = argc
        if argc == 1 && a[0].isObject(.list) {
            let l = a[0].obj(ObjList.self)
            guard l.pointee.count > 0, let p = l.pointee.items else { return fail("\(name) of an empty list") }
            items = p
            count = l.pointee.count
        }
        var best = items[0]
        for j in 1..<max(1, count) {
            guard let less = compare(items[j], best, strict: true) else { return Runtime.failure }
            if wantLess ? less : (!less && !valuesEqual(items[j], best)) { best = items[j] }
        }
        return best
    }

    /// Stable sort of `l` by `key(element)`, each key computed once; keys compare like `<`.
    /// False after raising (an error from `key`, or keys that cannot be compared).
    func sortList(_ l: UnsafeMutablePointer<ObjList>, key: Value) -> Bool {
        let items = Array(UnsafeBufferPointer(start: l.pointee.items, count: l.pointee.count))
        for v in items { pushRoot(v) }
        defer { popRoot(items.count) }
        var keys: [Value] = []
        keys.reserveCapacity(items.count)
        defer { popRoot(keys.count) }
        for v in items {
            guard let k = call(key, [v]) else { return false }
            pushRoot(k)
            keys.append(k)
        }
        var failed = false
        var order = Array(0..<items.count)
        Self.stableMergeSort(&order, failed: { failed }) { a, b in
            if failed { return false }
            guard let c = compare(keys[a], keys[b], strict: true) else { failed = true; return false }
            return c
        }
        if failed { return false }
        let count = min(order.count, l.pointee.count)
        for j in 0..<count { l.pointee.items![j] = items[order[j]] }
        return true
    }
}
