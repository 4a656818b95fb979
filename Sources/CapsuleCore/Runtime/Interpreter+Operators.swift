import CapsuleSyntax
#if canImport(Glibc)
import Glibc
#endif

/// Slow paths of operators, indexing, fields, ranges and iteration.
extension Runtime {
    // MARK: arithmetic

    @inline(never)
    func arithmetic(_ op: BinaryArith, _ x: Value, _ y: Value) -> Value? {
        if x.isInt && y.isInt {
            let a = x.intValue, b = y.intValue
            let r: Int64, overflow: Bool
            switch op {
            case .add: (r, overflow) = a.addingReportingOverflow(b)
            case .subtract: (r, overflow) = a.subtractingReportingOverflow(b)
            case .multiply: (r, overflow) = a.multipliedReportingOverflow(by: b)
            case .divide:
                if b == 0 { raise("division by zero"); return nil }
                (r, overflow) = a.dividedReportingOverflow(by: b)
            case .remainder:
                if b == 0 { raise("division by zero"); return nil }
                (r, overflow) = a.remainderReportingOverflow(dividingBy: b)
            }
            if overflow {
                if op == .remainder { return Value(inlineInt: 0) }  // Int64.min % -1
                raise("integer overflow")
                return nil
            }
            return intValue(r)
        }
        if x.isNumber && y.isNumber {
            let a = x.numberAsDouble, b = y.numberAsDouble
            switch op {
            case .add: return Value(a + b)
            case .subtract: return Value(a - b)
            case .multiply: return Value(a * b)
            case .divide: return Value(a / b)
            case .remainder: return Value(fmod(a, b))
            }
        }
        if op == .add {
            if x.isString && y.isString {
                let total = x.obj(ObjString.self).pointee.count + y.obj(ObjString.self).pointee.count
                guard reserveHeap(MemoryLayout<ObjString>.stride + total + 1) else { return nil }
                return concatenateTwo(x, y)
            }
            if x.isObject(.list) && y.isObject(.list) {
                let a = x.obj(ObjList.self), b = y.obj(ObjList.self)
                guard reserveHeap((a.pointee.count + b.pointee.count) * MemoryLayout<Value>.stride) else { return nil }
                let l = newList(capacity: a.pointee.count + b.pointee.count)
                for j in 0..<a.pointee.count { append(l, a.pointee.items![j]) }
                for j in 0..<b.pointee.count { append(l, b.pointee.items![j]) }
                return Value(l)
            }
            if x.isObject(.bytes) && y.isObject(.bytes) {
                let a = x.obj(ObjBytes.self), b = y.obj(ObjBytes.self)
                guard reserveHeap(a.pointee.count + b.pointee.count) else { return nil }
                let r = newBytes(count: a.pointee.count + b.pointee.count)
                if a.pointee.count > 0 { memcpy(r.pointee.data!, a.pointee.data!, a.pointee.count) }
                if b.pointee.count > 0 { memcpy(r.pointee.data! + a.pointee.count, b.pointee.data!, b.pointee.count) }
                return Value(r)
            }
        }
        if op == .multiply && x.isString && y.isInt { return repeatString(x.obj(ObjString.self), y.intValue) }
        if op == .multiply && x.isObject(.list) && y.isInt { return repeatList(x.obj(ObjList.self), y.intValue) }
        if x.isObject(.instance) {
            let r = arithmeticMethod(op, x, y)
            if r?.bits != Value.empty.bits { return r }
        }
        raiseOperandError("cannot \(op.verb)", x, y)
        return nil
    }

    /// `cannot add nil (local 'x') and int`: the types, with the compiler's description of a
    /// nil operand of the arithmetic instruction being run (DebugInfo.swift).
    @inline(never)
    func raiseOperandError(_ stem: String, _ x: Value, _ y: Value) {
        let ops = Runtime.arithmeticOpcodes
        let left = x.isNil ? describeNil(operand: 0, of: ops) : typeName(x)
        let right = y.isNil ? describeNil(operand: 1, of: ops) : typeName(y)
        raise("\(stem) \(left) and \(right)")
    }

    func repeatString(_ s: UnsafeMutablePointer<ObjString>, _ n: Int64) -> Value? {
        if n < 0 { raise("cannot repeat a string a negative number of times"); return nil }
        let (total, overflow) = s.pointee.count.multipliedReportingOverflow(by: Int(n))
        if overflow || total > (1 << 31) { raise("string is too long"); return nil }
        if total == 0 { return Value(intern("")) }  // "" * 2^62 must not loop 2^62 times
        guard reserveHeap(MemoryLayout<ObjString>.stride + total + 1) else { return nil }
        let r = allocateString(count: total)
        for j in 0..<Int(n) { memcpy(r.bytes + j * s.pointee.count, s.bytes, s.pointee.count) }
        finishString(r, scalarCount: s.pointee.scalarCount * Int(n), ascii: s.isASCII)
        return Value(r)
    }

    /// `list * n`: the elements `n` times over, refused before allocating past the heap limit.
    func repeatList(_ l: UnsafeMutablePointer<ObjList>, _ n: Int64) -> Value? {
        if n < 0 { raise("cannot repeat a list a negative number of times"); return nil }
        let count = l.pointee.count
        if count == 0 || n == 0 { return Value(newList()) }
        let (total, overflow) = count.multipliedReportingOverflow(by: Int(n))
        if overflow || total > (1 << 28) { raise("list is too long"); return nil }
        guard reserveHeap(total * MemoryLayout<Value>.stride) else { return nil }
        let r = newList(capacity: total)
        // `l` may change only through script code, and none runs here.
        for _ in 0..<Int(n) {
            for j in 0..<count { append(r, l.pointee.items![j]) }
        }
        return Value(r)
    }

    @inline(never)
    func bitwise(_ op: Opcode, _ x: Value, _ y: Value) -> Value? {
        guard x.isInt && y.isInt else {
            let sym = [Opcode.band: "&", .bor: "|", .bxor: "^", .shl: "<<", .shr: ">>"][op] ?? "?"
            raise("cannot apply '\(sym)' to \(typeName(x)) and \(typeName(y))")
            return nil
        }
        let a = x.intValue, b = y.intValue
        switch op {
        case .band: return intValue(a & b)
        case .bor: return intValue(a | b)
        case .bxor: return intValue(a ^ b)
        case .shl, .shr:
            guard b >= 0 && b <= 63 else { raise("shift count \(b) is out of range 0...63"); return nil }
            if op == .shr { return intValue(a >> b) }
            // Shifting out significant bits is overflow, like any other int operation.
            let r = a << b
            if (r >> b) != a { raise("integer overflow"); return nil }
            return intValue(r)
        default: return nil
        }
    }

    @inline(never)
    func negate(_ x: Value) -> Value? {
        if x.isInt {
            let (r, o) = Int64(0).subtractingReportingOverflow(x.intValue)
            if o { raise("integer overflow"); return nil }
            return intValue(r)
        }
        if x.isDouble { return Value(-x.asDouble) }
        raise("cannot negate \(x.isNil ? describeNil(operand: 0, of: [.neg]) : typeName(x))")
        return nil
    }

    @inline(never)
    func bitwiseNot(_ x: Value) -> Value? {
        if x.isInt { return intValue(~x.intValue) }
        raise("cannot apply '~' to \(typeName(x))")
        return nil
    }

    // MARK: comparison

    /// Structural equality for numbers, strings and bytes; identity for everything else.
    func valuesEqual(_ x: Value, _ y: Value) -> Bool {
        if x.isDouble && y.isDouble { return x.asDouble == y.asDouble }
        if x.bits == y.bits { return true }
        if x.isDouble || y.isDouble {
            guard x.isNumber && y.isNumber else { return false }
            return numbersEqual(x, y)
        }
        guard x.isObject && y.isObject else { return false }
        let kx = x.header.pointee.kind
        guard kx == y.header.pointee.kind else { return false }
        switch kx {
        case .string:
            let a = x.obj(ObjString.self), b = y.obj(ObjString.self)
            return a.pointee.count == b.pointee.count && memcmp(a.bytes, b.bytes, a.pointee.count) == 0
        case .int:
            return x.obj(ObjInt.self).pointee.value == y.obj(ObjInt.self).pointee.value
        case .bytes:
            let a = x.obj(ObjBytes.self), b = y.obj(ObjBytes.self)
            return a.pointee.count == b.pointee.count && (a.pointee.count == 0 || memcmp(a.pointee.data!, b.pointee.data!, a.pointee.count) == 0)
        default:
            return false
        }
    }

    /// Exact comparison of an int with a double (or two numbers of any kind).
    private func numbersEqual(_ x: Value, _ y: Value) -> Bool {
        let (i, d) = x.isDouble ? (y.intValue, x.asDouble) : (x.intValue, y.asDouble)
        guard d == d.rounded(.towardZero), d >= -9.223372036854775808e18, d < 9.223372036854775808e18 else { return false }
        return Int64(d) == i
    }

    /// `x < y` (strict) or `x <= y`; nil after raising when they cannot be ordered.
    @inline(never)
    func compare(_ x: Value, _ y: Value, strict: Bool, swapped: Bool = false) -> Bool? {
        if x.isInt && y.isInt { return strict ? x.intValue < y.intValue : x.intValue <= y.intValue }
        if x.isNumber && y.isNumber {
            if x.isDouble && y.isDouble { return strict ? x.asDouble < y.asDouble : x.asDouble <= y.asDouble }
            // Mixed int/double: compare exactly, not through a lossy conversion.
            let c = compareMixed(x, y)
            guard let c else { return false }  // NaN
            return strict ? c < 0 : c <= 0
        }
        if x.isString && y.isString {
            let a = x.obj(ObjString.self), b = y.obj(ObjString.self)
            let n = min(a.pointee.count, b.pointee.count)
            var c = n == 0 ? 0 : Int(memcmp(a.bytes, b.bytes, n))
            if c == 0 { c = a.pointee.count - b.pointee.count }
            return strict ? c < 0 : c <= 0
        }
        if x.isObject(.list) && y.isObject(.list) {
            return compareLists(x.obj(ObjList.self), y.obj(ObjList.self), strict: strict)
        }
        if x.isObject(.instance) || y.isObject(.instance) {
            // Only `<` is defined: x <= y is not (y < x), asked of y's class.
            if strict, let r = instanceLess(x, y) { return r }
            if !strict, let r = instanceLess(y, x) { return r.map { !$0 } }
        }
        raise(swapped ? "cannot compare \(typeName(y)) and \(typeName(x))" : "cannot compare \(typeName(x)) and \(typeName(y))")
        return nil
    }

    /// -1, 0, 1 for an int and a double in either order; nil if the double is NaN.
    private func compareMixed(_ x: Value, _ y: Value) -> Int? {
        if x.isDouble {
            guard let c = compareMixed(y, x) else { return nil }
            return -c
        }
        let i = x.intValue, d = y.asDouble
        if d.isNaN { return nil }
        if d >= 9.223372036854775808e18 { return -1 }
        if d < -9.223372036854775808e18 { return 1 }
        let t = d.rounded(.down)
        let ti = Int64(t)
        if i < ti { return -1 }
        if i > ti { return 1 }
        return d > t ? -1 : 0
    }

    // MARK: indexing

    /// Resolves a possibly negative index against `count`; nil when out of range.
    func resolveIndex(_ index: Value, count: Int, what: String) -> Int? {
        guard index.isInt else {
            raise("\(what) index must be an int, got \(typeName(index))")
            return nil
        }
        let raw = index.intValue
        var n = raw
        if n < 0 { n += Int64(count) }
        guard n >= 0 && n < Int64(count) else {
            raise("index \(raw) out of range for \(what) of length \(count)")
            return nil
        }
        return Int(n)
    }

    /// UNPACK: the elements of a list of exactly `operand` elements into `dest`…; with bit 7
    /// of `operand` set, of at least `operand & 127`, the others in a new list after them.
    @inline(never)
    func unpack(_ v: Value, count operand: Int, into dest: UnsafeMutablePointer<Value>) -> Bool {
        guard v.isObject(.list) else {
            raise("cannot destructure \(typeName(v)) as a list")
            return false
        }
        let l = v.obj(ObjList.self)
        let count = operand & 0x7F, hasRest = operand & 0x80 != 0
        let n = l.pointee.count
        guard hasRest ? n >= count : n == count else {
            let names = hasRest ? "\(plural(count, "name")) and a rest" : plural(count, "name")
            raise("cannot destructure a list of length \(n) into \(names)")
            return false
        }
        guard let items = l.pointee.items else {
            // An empty list: only `[...rest]` gets here.
            if hasRest { dest[count] = Value(newList()) }
            return true
        }
        for j in 0..<count { dest[j] = items[j] }
        if hasRest {
            let rest = newList(capacity: n - count)
            // `dest[count]` is a register the collector sees: it roots the new list, and `v`
            // (still in its register) keeps the elements alive.
            dest[count] = Value(rest)
            for j in count..<n { append(rest, l.pointee.items.unsafelyUnwrapped[j]) }
        }
        return true
    }

    /// EXTEND: appends the elements of list `source` to list `target` (`[...a, ...b]`).
    @inline(never)
    func extend(_ target: Value, with source: Value) -> Bool {
        guard source.isObject(.list) else {
            raise("'...' needs a list, got \(typeName(source))")
            return false
        }
        let t = target.obj(ObjList.self), s = source.obj(ObjList.self)
        // NOTE: `[...xs]` never has target == source (the target is a new list), but the
        // count is read once so even that would terminate.
        let n = s.pointee.count
        for j in 0..<n { append(t, s.pointee.items.unsafelyUnwrapped[j]) }
        return true
    }

    /// UNPACKKEY: key `key` of a map (missing: an error), or a field of an instance or a
    /// variable of a module.
    @inline(never)
    func unpackKey(_ v: Value, _ key: UnsafeMutablePointer<ObjString>) -> Value? {
        if v.isObject(.map) {
            let r = mapGet(v.obj(ObjMap.self), Value(key))
            if r.bits != Value.empty.bits { return r }
            raise("key not found: \(describe(Value(key), quoted: true))")
            return nil
        }
        if v.isObject(.instance) || v.isObject(.module) { return getField(v, key) }
        raise("cannot destructure \(typeName(v)) as a map")
        return nil
    }

    /// `x in container`: an element of a list (by `==`), a key of a map, a substring of a
    /// string, a byte (an int) of bytes.
    @inline(never)
    func membership(_ x: Value, in container: Value) -> Value? {
        guard container.isObject else { raise("cannot test 'in' on \(typeName(container))"); return nil }
        switch container.header.pointee.kind {
        case .list:
            guard let j = listIndex(of: x, in: container.obj(ObjList.self)) else { return nil }
            return Value(bool: j >= 0)
        case .map:
            if x.isNil { return .false }
            let v = mapGet(container.obj(ObjMap.self), x)
            if v.bits == Runtime.failure.bits { return nil }
            return Value(bool: v.bits != Value.empty.bits)
        case .string:
            guard x.isString else {
                raise("'in' on a string needs a string on the left, got \(typeName(x))")
                return nil
            }
            let s = container.obj(ObjString.self), sub = x.obj(ObjString.self)
            return Value(bool: Runtime.search(s.bytes, s.pointee.count, from: 0, sub.bytes, sub.pointee.count) >= 0)
        case .bytes:
            guard x.isInt else {
                raise("'in' on bytes needs an int on the left, got \(typeName(x))")
                return nil
            }
            let b = container.obj(ObjBytes.self)
            let v = x.intValue
            guard v >= 0 && v <= 255, let data = b.pointee.data else { return .false }
            for j in 0..<b.pointee.count where data[j] == UInt8(v) { return .true }
            return .false
        default:
            raise("cannot test 'in' on \(typeName(container))")
            return nil
        }
    }

    @inline(never)
    func getIndex(_ container: Value, _ index: Value) -> Value? {
        guard container.isObject else { raise("cannot index \(typeName(container))"); return nil }
        switch container.header.pointee.kind {
        case .instance:
            let r = indexMethod(container, index)
            if r?.bits != Value.empty.bits { return r }
            raise("cannot index \(typeName(container))")
            return nil
        case .list:
            let l = container.obj(ObjList.self)
            guard let n = resolveIndex(index, count: l.pointee.count, what: "list") else { return nil }
            return l.pointee.items![n]
        case .map:
            if index.isNil { raise("map key cannot be nil"); return nil }
            let v = mapGet(container.obj(ObjMap.self), index, indexing: true)
            if v.bits != Value.empty.bits { return v }
            if indexLookupRaised { indexLookupRaised = false; return nil }
            raise("key not found: \(describe(index, quoted: true))")
            return nil
        case .string:
            let s = container.obj(ObjString.self)
            guard let n = resolveIndex(index, count: s.pointee.scalarCount, what: "string") else { return nil }
            if s.isASCII { return oneScalarString(s.bytes + n, count: 1) }
            let start = byteOffset(s, scalar: n)
            var end = start + 1
            // NOTE: the NUL after the bytes is not a continuation byte, so this stops there.
            while s.bytes[end] & 0xC0 == 0x80 { end += 1 }
            return oneScalarString(s.bytes + start, count: end - start)
        case .bytes:
            let b = container.obj(ObjBytes.self)
            guard let n = resolveIndex(index, count: b.pointee.count, what: "bytes") else { return nil }
            return Value(inlineInt: Int64(b.pointee.data![n]))
        default:
            raise("cannot index \(typeName(container))")
            return nil
        }
    }

    /// Byte offsets of the scalars [from, to) of a string.
    /// O(1) for ASCII; otherwise at most `ObjString.indexStride` scalars walked per bound
    /// (Runtime/StringIndex.swift).
    func scalarRange(_ s: UnsafeMutablePointer<ObjString>, from: Int, to: Int) -> (Int, Int) {
        if s.isASCII { return (from, to) }
        let start = byteOffset(s, scalar: from)
        return (start, byteOffset(s, scalar: to))
    }

    @inline(never)
    func setIndex(_ container: Value, _ index: Value, _ value: Value) -> Bool {
        guard container.isObject else { raise("cannot index \(typeName(container))"); return false }
        switch container.header.pointee.kind {
        case .instance:
            guard let called = setIndexMethod(container, index, value) else { return false }
            if called { return true }
            raise("cannot index \(typeName(container))")
            return false
        case .list:
            let l = container.obj(ObjList.self)
            guard let n = resolveIndex(index, count: l.pointee.count, what: "list") else { return false }
            l.pointee.items![n] = value
            return true
        case .map:
            if index.isNil { raise("map key cannot be nil"); return false }
            return mapSet(container.obj(ObjMap.self), index, value)
        case .bytes:
            let b = container.obj(ObjBytes.self)
            guard let n = resolveIndex(index, count: b.pointee.count, what: "bytes") else { return false }
            guard value.isInt, value.intValue >= 0, value.intValue <= 255 else {
                raise("bytes values must be ints in 0...255, got \(describe(value, quoted: true))")
                return false
            }
            b.pointee.data![n] = UInt8(value.intValue)
            return true
        case .string:
            raise("strings are immutable")
            return false
        default:
            raise("cannot index \(typeName(container))")
            return false
        }
    }

    /// Clamps slice bounds like Python: negative counts from the end, out of range clamps.
    func sliceBounds(_ lo: Value, _ hi: Value, count: Int) -> (Int, Int)? {
        func bound(_ v: Value, _ dflt: Int) -> Int? {
            if v.isNil { return dflt }
            guard v.isInt else { raise("slice bounds must be ints, got \(typeName(v))"); return nil }
            var n = v.intValue
            if n < 0 { n += Int64(count) }
            return Int(max(0, min(Int64(count), n)))
        }
        guard let a = bound(lo, 0), let b = bound(hi, count) else { return nil }
        return (a, max(a, b))
    }

    @inline(never)
    func slice(_ container: Value, _ lo: Value, _ hi: Value) -> Value? {
        guard container.isObject else { raise("cannot slice \(typeName(container))"); return nil }
        switch container.header.pointee.kind {
        case .list:
            let l = container.obj(ObjList.self)
            guard let (a, b) = sliceBounds(lo, hi, count: l.pointee.count) else { return nil }
            let r = newList(capacity: b - a)
            for j in a..<b { append(r, l.pointee.items![j]) }
            return Value(r)
        case .string:
            let s = container.obj(ObjString.self)
            guard let (a, b) = sliceBounds(lo, hi, count: s.pointee.scalarCount) else { return nil }
            let (start, end) = scalarRange(s, from: a, to: b)
            return cutString(s.bytes + start, end - start, ascii: s.isASCII)
        case .bytes:
            let bytes = container.obj(ObjBytes.self)
            guard let (a, b) = sliceBounds(lo, hi, count: bytes.pointee.count) else { return nil }
            let r = newBytes(count: b - a)
            if b > a { memcpy(r.pointee.data!, bytes.pointee.data! + a, b - a) }
            return Value(r)
        default:
            raise("cannot slice \(typeName(container))")
            return nil
        }
    }

    // MARK: fields

    @inline(never)
    func getField(_ object: Value, _ name: UnsafeMutablePointer<ObjString>) -> Value? {
        if object.isObject {
            switch object.header.pointee.kind {
            case .instance:
                let inst = object.obj(ObjInstance.self)
                if let v = inst.pointee.fields.get(name) { return v }
                if let m = inst.pointee.klass.pointee.methods.get(name) { return newBoundMethod(receiver: object, method: m) }
            case .module:
                return moduleExport(object.obj(ObjModule.self), name)
            case .error:
                if let v = errorField(object, name) { return v }
                if let m = errorClassOf(object.obj(ObjError.self)).obj(ObjClass.self).pointee.methods.get(name) {
                    return newBoundMethod(receiver: object, method: m)
                }
            case .klass:
                if let m = object.obj(ObjClass.self).pointee.methods.get(name) { return m }
            default:
                if let table = methodTable(for: object), let m = table.get(name) { return newBoundMethod(receiver: object, method: m) }
            }
        }
        raise(noMember(object, name, opcodes: [.getField]))
        return nil
    }

    /// `T has no field or method 'name'`, with the compiler's description of a nil object
    /// (`nil (local 'p') has …`) and the closest member name (`; did you mean 'sort'?`).
    /// `base`: the stack slot of an INVOKE's receiver.
    @inline(never)
    func noMember(_ object: Value, _ name: UnsafeMutablePointer<ObjString>, opcodes: Set<Opcode>, base: Int? = nil) -> String {
        let what = object.isNil ? describeNil(operand: 0, of: opcodes, base: base) : describeForError(object)
        return "\(what) has no field or method '\(name.string)'" + NameSuggestion.hint(for: name.string, among: memberNames(of: object))
    }

    /// The names `object.name` could have meant: fields, methods, module members.
    func memberNames(of object: Value) -> [String] {
        guard object.isObject else { return [] }
        var names: [String] = []
        func add(_ table: NameTable) { table.forEach { k, _ in names.append(k.string) } }
        add(methodTables[Int(object.header.pointee.kind.rawValue)])
        switch object.header.pointee.kind {
        case .instance:
            let inst = object.obj(ObjInstance.self)
            add(inst.pointee.fields)
            add(inst.pointee.klass.pointee.methods)
        case .klass: add(object.obj(ObjClass.self).pointee.methods)
        case .module: add(object.obj(ObjModule.self).pointee.names)
        case .error: names += ["message", "trace"]
        default: break
        }
        return names
    }

    func methodTable(for v: Value) -> NameTable? {
        guard v.isObject else { return nil }
        return methodTables[Int(v.header.pointee.kind.rawValue)]
    }

    func errorField(_ e: Value, _ name: UnsafeMutablePointer<ObjString>) -> Value? {
        let err = e.obj(ObjError.self)
        if name == nameMessage {
            if err.pointee.message.isString { return err.pointee.message }
            return Value(makeString(describe(err.pointee.message, quoted: false)))
        }
        if name == nameTrace { return err.pointee.trace.isNil ? Value(newList()) : err.pointee.trace }
        if let v = err.pointee.fields.get(name) { return v }
        return nil
    }

    func moduleExport(_ m: UnsafeMutablePointer<ObjModule>, _ name: UnsafeMutablePointer<ObjString>) -> Value? {
        if let slot = m.pointee.names.get(name) {
            let v = m.pointee.variables![Int(slot.asInlineInt)]
            if v.bits != Value.undefined.bits { return v }
            raise("variable '\(name.string)' is used before it is defined")
            return nil
        }
        raise("module '\(m.pointee.name.obj(ObjString.self).string)' has no variable '\(name.string)'"
              + NameSuggestion.hint(for: name.string, among: memberNames(of: Value(m))))
        return nil
    }

    @inline(never)
    func setField(_ object: Value, _ name: UnsafeMutablePointer<ObjString>, _ value: Value) -> Bool {
        if object.isObject(.instance) {
            setField(object.obj(ObjInstance.self), name, value)
            return true
        }
        if object.isObject(.error) {
            // `message` and `trace` are the error's own; other names are fields.
            let e = object.obj(ObjError.self)
            if name == nameMessage { e.pointee.message = value }
            else if name == nameTrace { e.pointee.trace = value }
            else { accountExternal(e.pointee.fields.set(name, value)) }
            return true
        }
        raise("cannot set field '\(name.string)' on \(object.isNil ? describeNil(operand: 0, of: [.setField]) : typeName(object))")
        return false
    }

    func inherit(_ sub: Value, from sup: Value) -> Bool {
        guard sup.isObject(.klass) else {
            raise("superclass must be a class, got \(typeName(sup))")
            return false
        }
        let k = sub.obj(ObjClass.self), s = sup.obj(ObjClass.self)
        k.pointee.superclass = sup
        s.pointee.methods.forEach { name, m in setMethod(k, name, m) }
        return true
    }

    func superMethod(_ sup: Value, _ name: UnsafeMutablePointer<ObjString>, receiver: Value) -> Value? {
        guard sup.isObject(.klass), let m = sup.obj(ObjClass.self).pointee.methods.get(name) else {
            raise("superclass has no method '\(name.string)'")
            return nil
        }
        return newBoundMethod(receiver: receiver, method: m)
    }

    // MARK: ranges and loops

    func makeRange(_ lo: Value, _ hi: Value, inclusive: Bool) -> Value? {
        guard lo.isInt && hi.isInt else {
            raise("range bounds must be ints, got \(typeName(lo)) and \(typeName(hi))")
            return nil
        }
        // Counted in a wider type: the span of two Int64s can overflow Int64, and an
        // inclusive range may end at Int64.max.
        let a = Int128(lo.intValue), b = Int128(hi.intValue) + (inclusive ? 1 : 0)
        let wide = b > a ? b - a : 0
        if wide > (1 << 28) { raise("range is too large"); return nil }
        let n = Int(wide)
        guard reserveHeap(n * MemoryLayout<Value>.stride) else { return nil }
        let l = newList(capacity: n)
        pushRoot(Value(l))
        defer { popRoot() }
        var x = lo.intValue
        for i in 0..<n {
            append(l, intValue(x))
            if i + 1 < n { x += 1 }
        }
        return Value(l)
    }

    /// FORPREP: checks the bounds; returns whether the loop body runs, nil after raising.
    /// An inclusive range ending at Int64.max has no exclusive limit: R[1] then holds +inf,
    /// which only `forStepSlow` reads (the inline-int fast path never takes it).
    func forPrepare(_ r: UnsafeMutablePointer<Value>, inclusive: Bool) -> Bool? {
        let lo = r[0], hi = r[1]
        guard lo.isInt && hi.isInt else {
            raise("range bounds must be ints, got \(typeName(lo)) and \(typeName(hi))")
            return nil
        }
        var limit = hi.intValue
        if inclusive {
            if limit == Int64.max {
                r[1] = Value(Double.infinity)
                r[2] = lo
                return true
            }
            limit += 1
        }
        r[1] = intValue(limit)
        if lo.intValue >= limit { return false }
        r[2] = lo
        return true
    }

    /// FORLOOP with boxed ints (or the +inf limit of `..=Int64.max`); returns whether to
    /// loop again.
    func forStepSlow(_ r: UnsafeMutablePointer<Value>) -> Bool {
        let current = r[0].intValue
        if r[1].isDouble {
            guard current < Int64.max else { return false }
        } else {
            guard current < r[1].intValue - 1 else { return false }
        }
        let v = intValue(current + 1)
        r[0] = v
        r[2] = v
        return true
    }

    /// ITERPREP: R[0] iterable, R[1] position, R[2] guard (a map's version).
    func iterPrepare(_ r: UnsafeMutablePointer<Value>) -> Bool {
        let v = r[0]
        guard v.isObject, [.list, .map, .string, .bytes, .closure, .native, .boundMethod, .channel].contains(v.header.pointee.kind) else {
            raise("cannot iterate over \(typeName(v))")
            return false
        }
        r[1] = Value(inlineInt: 0)
        r[2] = .nil
        r[3] = .nil
        r[4] = .nil
        if v.isObject(.map) {
            // A loop over a map walks a snapshot of its entries taken here: [k0, v0, k1, v1, …].
            let m = v.obj(ObjMap.self)
            let snapshot = newList(capacity: m.pointee.live * 2)
            forEachEntry(m) { key, value in
                append(snapshot, key)
                append(snapshot, value)
            }
            r[2] = Value(snapshot)
        }
        return true
    }

    /// ITERNEXT: 1 = produced the next element, 0 = finished, -1 = raised.
    func iterNext(_ r: UnsafeMutablePointer<Value>, pair: Bool) -> Int {
        let v = r[0]
        let position = Int(r[1].asInlineInt)
        switch v.header.pointee.kind {
        case .list:
            let l = v.obj(ObjList.self)
            guard position < l.pointee.count else { return 0 }
            if pair { r[3] = Value(inlineInt: Int64(position)); r[4] = l.pointee.items![position] }
            else { r[3] = l.pointee.items![position] }
            r[1] = Value(inlineInt: Int64(position + 1))
            return 1
        case .bytes:
            let b = v.obj(ObjBytes.self)
            guard position < b.pointee.count else { return 0 }
            let byte = Value(inlineInt: Int64(b.pointee.data![position]))
            if pair { r[3] = Value(inlineInt: Int64(position)); r[4] = byte } else { r[3] = byte }
            r[1] = Value(inlineInt: Int64(position + 1))
            return 1
        case .map:
            let snapshot = r[2].obj(ObjList.self)
            guard position < snapshot.pointee.count else { return 0 }
            r[3] = snapshot.pointee.items![position]
            if pair { r[4] = snapshot.pointee.items![position + 1] }
            r[1] = Value(inlineInt: Int64(position + 2))
            return 1
        case .string:
            // Position is a byte offset; the index of a pair loop counts scalars in R[4]'s slot
            // via the guard register.
            let s = v.obj(ObjString.self)
            guard position < s.pointee.count else { return 0 }
            var end = position + 1
            while end < s.pointee.count && s.bytes[end] & 0xC0 == 0x80 { end += 1 }
            let ch = oneScalarString(s.bytes + position, count: end - position)
            let index = r[2].isNil ? 0 : r[2].asInlineInt
            if pair { r[3] = Value(inlineInt: index); r[4] = ch } else { r[3] = ch }
            r[2] = Value(inlineInt: index + 1)
            r[1] = Value(inlineInt: Int64(end))
            return 1
        case .channel:
            // Receives until the channel is closed and drained; parks like `recv`.
            guard let (value, ok) = channelReceive(v.obj(ObjChannel.self)) else { return -1 }
            guard ok else { return 0 }
            if pair { r[3] = Value(inlineInt: Int64(position)); r[4] = value } else { r[3] = value }
            r[1] = Value(inlineInt: Int64(position + 1))
            return 1
        case .closure, .native, .boundMethod:
            // A function is an iterator: called with no arguments for each element until
            // it returns nil (`stdin.lines()`). Position counts the elements, for pairs.
            guard let next = call(v, []) else { return -1 }
            if next.isNil { return 0 }
            if pair { r[3] = Value(inlineInt: Int64(position)); r[4] = next } else { r[3] = next }
            r[1] = Value(inlineInt: Int64(position + 1))
            return 1
        default:
            return 0
        }
    }

    // MARK: strings

    func concatenateTwo(_ x: Value, _ y: Value) -> Value {
        let a = x.obj(ObjString.self), b = y.obj(ObjString.self)
        let r = allocateString(count: a.pointee.count + b.pointee.count)
        memcpy(r.bytes, a.bytes, a.pointee.count)
        memcpy(r.bytes + a.pointee.count, b.bytes, b.pointee.count)
        finishString(r, scalarCount: a.pointee.scalarCount + b.pointee.scalarCount, ascii: a.isASCII && b.isASCII)
        return Value(r)
    }

    /// CONCAT: joins `count` strings (TOSTR has already converted every part). Nil after
    /// raising `out of memory`.
    func concatenate(_ parts: UnsafeMutablePointer<Value>, count: Int) -> Value? {
        var total = 0, scalars = 0, ascii = true
        for j in 0..<count {
            let s = parts[j].obj(ObjString.self)
            total += s.pointee.count
            scalars += s.pointee.scalarCount
            ascii = ascii && s.isASCII
        }
        guard reserveHeap(MemoryLayout<ObjString>.stride + total + 1) else { return nil }
        let r = allocateString(count: total)
        var offset = 0
        for j in 0..<count {
            let s = parts[j].obj(ObjString.self)
            memcpy(r.bytes + offset, s.bytes, s.pointee.count)
            offset += s.pointee.count
        }
        finishString(r, scalarCount: scalars, ascii: ascii)
        return Value(r)
    }
}

/// The arithmetic operators that have a slow path.
enum BinaryArith {
    case add, subtract, multiply, divide, remainder
    var verb: String {
        switch self {
        case .add: return "add"
        case .subtract: return "subtract"
        case .multiply: return "multiply"
        case .divide: return "divide"
        case .remainder: return "take remainder of"
        }
    }
}
