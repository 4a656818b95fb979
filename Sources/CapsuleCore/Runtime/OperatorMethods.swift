/// Operator methods of classes, lexicographic list ordering and structural `equals`.
///
/// A class defines an operator by a method named after it: `==(other)`, `<(other)`,
/// `+(other)`, `-`, `*`, `/`, `%`, `[](index)` and `[]=(index, value)` (docs/language.md).
/// Only the left operand's class is asked. These run on the slow paths of the operators (the
/// fast paths never see instances), so code without them costs nothing more.
extension Runtime {
    /// The method of `v`'s class named `name` when `v` is an instance, else nil.
    private func operatorMethod(_ v: Value, _ name: String) -> Value? {
        guard v.isObject(.instance) else { return nil }
        let methods = v.obj(ObjInstance.self).pointee.klass.pointee.methods
        guard methods.count > 0, let key = internedIfPresent(name) else { return nil }
        return methods.get(key)
    }

    /// Calls operator method `m` of `receiver` with `args`; nil after raising.
    func callOperator(_ receiver: Value, _ m: Value, _ args: [Value]) -> Value? {
        pushRoot(receiver)
        for a in args { pushRoot(a) }
        defer { popRoot(args.count + 1) }
        let bound = newBoundMethod(receiver: receiver, method: m)
        return call(bound, args)
    }

    /// `x op y` for an instance `x` whose class defines `op` (+ - * / %): the result, nil
    /// after raising, or `.empty` when it does not define it.
    @inline(never)
    func arithmeticMethod(_ op: BinaryArith, _ x: Value, _ y: Value) -> Value? {
        guard let m = operatorMethod(x, op.symbol) else { return .empty }
        return callOperator(x, m, [y])
    }

    /// `x == y` for an instance `x` whose class defines `==`: whether its result is truthy;
    /// nil after raising. Without the method, instances are equal only to themselves.
    @inline(never)
    func instanceEquals(_ x: Value, _ y: Value) -> Bool? {
        guard let m = operatorMethod(x, "==") else { return false }
        return callOperator(x, m, [y])?.isTruthy
    }

    /// The index of the first element `e` of `l` with `x == e` (as the operator: an instance
    /// `x` asks its class's `==` method), -1 when there is none; nil after raising. Used by
    /// `x in l`, `l.contains(x)` and `l.index(x)`.
    func listIndex(of x: Value, in l: UnsafeMutablePointer<ObjList>) -> Int? {
        var j = 0
        guard x.isObject(.instance) else {
            while j < l.pointee.count {
                if let items = l.pointee.items, valuesEqual(items[j], x) { return j }
                j += 1
            }
            return -1
        }
        pushRoot(Value(l))
        defer { popRoot() }
        // NOTE: `==` may change the list: the count and items are read again each step.
        while j < l.pointee.count {
            guard let items = l.pointee.items else { break }
            let e = items[j]
            if e.bits == x.bits { return j }
            guard let same = instanceEquals(x, e) else { return nil }
            if same { return j }
            j += 1
        }
        return -1
    }

    /// `x < y` for an instance `x` whose class defines `<`; `.some(nil)` after raising, nil
    /// when it does not define it.
    @inline(never)
    func instanceLess(_ x: Value, _ y: Value) -> Bool?? {
        guard let m = operatorMethod(x, "<") else { return nil }
        guard let r = callOperator(x, m, [y]) else { return .some(nil) }
        return .some(r.isTruthy)
    }

    /// `x[i]` through a `[]` method: the result, nil after raising, `.empty` without one.
    @inline(never)
    func indexMethod(_ x: Value, _ i: Value) -> Value? {
        guard let m = operatorMethod(x, "[]") else { return .empty }
        return callOperator(x, m, [i])
    }

    /// `x[i] = v` through a `[]=` method: true when it was called (nil after raising).
    @inline(never)
    func setIndexMethod(_ x: Value, _ i: Value, _ v: Value) -> Bool? {
        guard let m = operatorMethod(x, "[]=") else { return false }
        return callOperator(x, m, [i, v]) == nil ? nil : true
    }

    /// Lists in lexicographic order: the first unequal pair of elements decides, else the
    /// shorter list is smaller. nil after raising (elements that cannot be compared).
    @inline(never)
    func compareLists(_ a: UnsafeMutablePointer<ObjList>, _ b: UnsafeMutablePointer<ObjList>, strict: Bool) -> Bool? {
        listCompareDepth += 1
        defer { listCompareDepth -= 1 }
        if listCompareDepth > 200 {
            raise("cannot compare lists nested more than 200 deep")
            return nil
        }
        var i = 0
        while i < a.pointee.count && i < b.pointee.count {
            let x = a.pointee.items.unsafelyUnwrapped[i], y = b.pointee.items.unsafelyUnwrapped[i]
            i += 1
            if (x.bits == y.bits && !x.isDouble) || valuesEqual(x, y) { continue }
            guard let less = compare(x, y, strict: true) else { return nil }
            if less { return true }
            guard let greater = compare(y, x, strict: true) else { return nil }
            if greater { return false }
            // Neither is smaller (NaN, or equal lists of different identity): look further.
            if x.isObject(.list) && y.isObject(.list) { continue }
            return false
        }
        let c = a.pointee.count - b.pointee.count
        return strict ? c < 0 : c <= 0
    }

    // MARK: equals

    /// `equals(a, b)`: structural equality. Lists are equal when their elements are, maps
    /// when they have the same keys with equal values (order ignored); instances use their
    /// `==` method, else identity; everything else compares as `==`. Cycles are safe: a
    /// pair of containers already being compared counts as equal.
    func structurallyEqual(_ a: Value, _ b: Value, _ inProgress: inout Set<Pair>) -> Bool? {
        if (a.bits == b.bits && !a.isDouble) || valuesEqual(a, b) { return true }
        if a.isObject(.instance) { return instanceEquals(a, b) }
        guard a.isObject && b.isObject, a.header.pointee.kind == b.header.pointee.kind else { return false }
        let kind = a.header.pointee.kind
        guard kind == .list || kind == .map else { return false }
        let pair = Pair(a: a.bits, b: b.bits)
        if inProgress.contains(pair) { return true }
        inProgress.insert(pair)
        if kind == .list {
            let x = a.obj(ObjList.self), y = b.obj(ObjList.self)
            guard x.pointee.count == y.pointee.count else { return false }
            var i = 0
            while i < x.pointee.count && i < y.pointee.count {
                guard let same = structurallyEqual(x.pointee.items.unsafelyUnwrapped[i], y.pointee.items.unsafelyUnwrapped[i], &inProgress) else { return nil }
                if !same { return false }
                i += 1
            }
            return x.pointee.count == y.pointee.count
        }
        let x = a.obj(ObjMap.self), y = b.obj(ObjMap.self)
        guard x.pointee.live == y.pointee.live else { return false }
        var result: Bool? = true
        var entries: [(Value, Value)] = []
        forEachEntry(x) { k, v in entries.append((k, v)) }
        // Rooted: an `==` method could remove them from the map while they are compared.
        for (k, v) in entries { pushRoot(k); pushRoot(v) }
        defer { popRoot(entries.count * 2) }
        for (k, v) in entries {
            let w = mapGet(y, k)
            if w.bits == Value.empty.bits { result = false; break }
            if w.bits == Runtime.failure.bits { result = nil; break }
            guard let same = structurallyEqual(v, w, &inProgress) else { result = nil; break }
            if !same { result = false; break }
        }
        return result
    }

    struct Pair: Hashable { var a: UInt64; var b: UInt64 }

    /// The interned string with this text, if there is one (never allocates).
    func internedIfPresent(_ text: String) -> UnsafeMutablePointer<ObjString>? {
        var text = text
        return text.withUTF8 { interned.find($0, hash: Runtime.hashBytes($0.baseAddress, $0.count)) }
    }

    func installOperatorBuiltins() {
        defineBuiltin("equals", arity: 2) { rt, args, _ in
            var seen = Set<Pair>()
            guard let r = rt.structurallyEqual(args[0], args[1], &seen) else { return Runtime.failure }
            return Value(bool: r)
        }
    }
}

extension BinaryArith {
    /// The name of the operator method: `+`, `-`, `*`, `/`, `%`.
    var symbol: String {
        switch self {
        case .add: return "+"
        case .subtract: return "-"
        case .multiply: return "*"
        case .divide: return "/"
        case .remainder: return "%"
        }
    }
}
