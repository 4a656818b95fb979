#if canImport(Glibc)
import Glibc
#endif

/// Global built-in functions and the registration helpers the other builtin files use.
extension Runtime {
    func defineBuiltin(_ name: String, arity: Int, _ body: @escaping NativeBody) {
        builtins[name] = newNative(name: name, arity: arity, body)
    }

    func defineMethod(_ table: inout NameTable, _ name: String, arity: Int, _ body: @escaping NativeBody) {
        let key = intern(name)
        pushRoot(Value(key))
        let fn = newNative(name: name, arity: arity, isMethod: true, body)
        popRoot()
        table.set(key, fn)
    }

    // MARK: argument checks (each raises and returns nil on failure)

    func expectInt(_ v: Value, _ what: @autoclosure () -> String) -> Int64? {
        if v.isInt { return v.intValue }
        raise("\(what()) must be an int, got \(typeName(v))")
        return nil
    }

    func expectNumber(_ v: Value, _ what: @autoclosure () -> String) -> Double? {
        if v.isNumber { return v.numberAsDouble }
        raise("\(what()) must be a number, got \(typeName(v))")
        return nil
    }

    func expectString(_ v: Value, _ what: @autoclosure () -> String) -> UnsafeMutablePointer<ObjString>? {
        if v.isString { return v.obj(ObjString.self) }
        raise("\(what()) must be a string, got \(typeName(v))")
        return nil
    }

    func expectList(_ v: Value, _ what: @autoclosure () -> String) -> UnsafeMutablePointer<ObjList>? {
        if v.isObject(.list) { return v.obj(ObjList.self) }
        raise("\(what()) must be a list, got \(typeName(v))")
        return nil
    }

    func installBuiltins() {
        gcPauseCount += 1
        defer { gcPauseCount -= 1 }
        defineBuiltin("print", arity: -1) { rt, args, argc in
            var line = ""
            for j in 0..<argc {
                if j > 0 { line += " " }
                guard let t = rt.toText(args[j]) else { return Runtime.failure }
                line += t
            }
            line += "\n"
            rt.config.output(line)
            if let failure = rt.config.outputFailure() {
                rt.raiseUncatchable(failure)
                return Runtime.failure
            }
            return .nil
        }
        defineBuiltin("len", arity: 1) { rt, args, _ in
            let v = args[0]
            if v.isObject {
                switch v.header.pointee.kind {
                case .string: return Value(inlineInt: Int64(v.obj(ObjString.self).pointee.scalarCount))
                case .list: return Value(inlineInt: Int64(v.obj(ObjList.self).pointee.count))
                case .map: return Value(inlineInt: Int64(v.obj(ObjMap.self).pointee.live))
                case .bytes: return Value(inlineInt: Int64(v.obj(ObjBytes.self).pointee.count))
                default: break
                }
            }
            return rt.fail("cannot take len of \(rt.typeName(v))")
        }
        defineBuiltin("type", arity: 1) { rt, args, _ in Value(rt.intern(rt.typeName(args[0]))) }
        defineBuiltin("str", arity: 1) { rt, args, _ in rt.toStringValue(args[0]) ?? Runtime.failure }
        defineBuiltin("int", arity: 1) { rt, args, _ in rt.convertToInt(args[0]) ?? Runtime.failure }
        defineBuiltin("float", arity: 1) { rt, args, _ in
            let v = args[0]
            if v.isNumber { return Value(v.numberAsDouble) }
            if v.isString {
                let str = v.obj(ObjString.self)
                let text = String(decoding: UnsafeBufferPointer(rebasing: str.buffer[Runtime.spaceTrimmed(str)]), as: UTF8.self)
                if let d = Double(text) { return Value(d) }
                return rt.fail("invalid float literal: \(Runtime.quote(text))")
            }
            return rt.fail("cannot convert \(rt.typeName(v)) to float")
        }
        defineBuiltin("range", arity: -1) { rt, args, argc in
            guard argc >= 1 && argc <= 3 else { return rt.fail("range expects 1 to 3 arguments, got \(argc)") }
            var lo: Int64 = 0, hi: Int64, step: Int64 = 1
            if argc == 1 {
                guard let h = rt.expectInt(args[0], "range bound") else { return Runtime.failure }
                hi = h
            } else {
                guard let l = rt.expectInt(args[0], "range bound"), let h = rt.expectInt(args[1], "range bound") else { return Runtime.failure }
                lo = l; hi = h
                if argc == 3 {
                    guard let s = rt.expectInt(args[2], "range step") else { return Runtime.failure }
                    if s == 0 { return rt.fail("range step cannot be zero") }
                    step = s
                }
            }
            // Counted in a wider type: the span of two Int64s can overflow Int64.
            let span = step > 0 ? (hi > lo ? Int128(hi) - Int128(lo) : 0) : (lo > hi ? Int128(lo) - Int128(hi) : 0)
            let stride = Int128(step).magnitude
            let wide = (Int128(span) + Int128(stride) - 1) / Int128(stride)
            if wide > (1 << 28) { return rt.fail("range is too large") }
            guard rt.reserveHeap(Int(wide) * MemoryLayout<Value>.stride) else { return Runtime.failure }
            let count = Int64(wide)
            let l = rt.newList(capacity: Int(count))
            rt.pushRoot(Value(l))
            defer { rt.popRoot() }
            var x = lo
            for _ in 0..<count { rt.append(l, rt.intValue(x)); x = x &+ step }
            return Value(l)
        }
        defineBuiltin("clock", arity: 0) { _, _, _ in
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return Value(Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9)
        }
        defineBuiltin("gc", arity: 0) { rt, _, _ in
            let before = rt.freedTotal
            rt.collectGarbage()
            let m = rt.newMap()
            rt.pushRoot(Value(m))
            defer { rt.popRoot() }
            let stats: [(String, Int)] = [("collections", rt.collections), ("objects", rt.objectCount),
                                          ("bytes", rt.bytesAllocated), ("freed", rt.freedTotal - before), ("next", rt.nextGC)]
            for (k, v) in stats {
                let key = Value(rt.intern(k))
                rt.pushRoot(key)
                rt.mapSet(m, key, rt.intValue(Int64(v)))
                rt.popRoot()
            }
            return Value(m)
        }
        defineBuiltin("bytes", arity: 1) { rt, args, _ in
            let v = args[0]
            if v.isInt {
                let n = v.intValue
                guard n >= 0 && n <= (1 << 31) else { return rt.fail("bytes size \(n) is out of range") }
                guard rt.reserveHeap(Int(n)) else { return Runtime.failure }
                return Value(rt.newBytes(count: Int(n)))
            }
            if v.isString {
                let s = v.obj(ObjString.self)
                let b = rt.newBytes(count: s.pointee.count)
                if s.pointee.count > 0 { memcpy(b.pointee.data!, s.bytes, s.pointee.count) }
                return Value(b)
            }
            if v.isObject(.list) {
                let l = v.obj(ObjList.self)
                let b = rt.newBytes(count: l.pointee.count)
                for j in 0..<l.pointee.count {
                    let x = l.pointee.items![j]
                    guard x.isInt, x.intValue >= 0, x.intValue <= 255 else {
                        return rt.fail("bytes values must be ints in 0...255, got \(rt.describe(x, quoted: true))")
                    }
                    b.pointee.data![j] = UInt8(x.intValue)
                }
                return Value(b)
            }
            return rt.fail("cannot make bytes from \(rt.typeName(v))")
        }
        defineBuiltin("chr", arity: 1) { rt, args, _ in
            guard let n = rt.expectInt(args[0], "chr argument") else { return Runtime.failure }
            guard n >= 0, n <= 0x10FFFF, let u = Unicode.Scalar(UInt32(n)) else { return rt.fail("chr argument \(n) is not a Unicode scalar") }
            return rt.oneScalarString(code: u.value)
        }
        installStandardStreams()
        installTypeBuiltins()
        installErrorClasses()
        installOperatorBuiltins()
        installCollectionBuiltins()
        installStringMethods()
        installListMethods()
        installMapMethods()
        installBytesMethods()
        installConcurrencyBuiltins()
        builtinModuleFactories["math"] = { rt in
            rt.gcPauseCount += 1
            defer { rt.gcPauseCount -= 1 }
            return rt.makeMathModule()
        }
        builtinModuleFactories["path"] = { rt in
            rt.gcPauseCount += 1
            defer { rt.gcPauseCount -= 1 }
            return rt.makePathModule()
        }
        builtinModuleFactories["json"] = { rt in
            rt.gcPauseCount += 1
            defer { rt.gcPauseCount -= 1 }
            return rt.makeJSONModule()
        }
        builtinModuleFactories["encoding"] = { rt in
            rt.gcPauseCount += 1
            defer { rt.gcPauseCount -= 1 }
            return rt.makeEncodingModule()
        }
        builtinModuleFactories["modules"] = { rt in
            rt.gcPauseCount += 1
            defer { rt.gcPauseCount -= 1 }
            return rt.makeModulesModule()
        }
    }

    func convertToInt(_ v: Value) -> Value? {
        if v.isInt { return v }
        if v.isDouble {
            let d = v.asDouble
            if d.isNaN || d.isInfinite { raise("cannot convert \(Runtime.formatDouble(d)) to int"); return nil }
            let t = d.rounded(.towardZero)
            guard t >= -9.223372036854775808e18 && t < 9.223372036854775808e18 else {
                raise("float \(Runtime.formatDouble(d)) is out of int range"); return nil
            }
            return intValue(Int64(t))
        }
        if v.isString {
            // Over the bytes, with no Swift String: scripts call int() on every field they parse.
            // NOTE: every read is at an index in lo..<hi within the string's `count` bytes, and
            // the string is an argument, so it stays alive for the call.
            let s = v.obj(ObjString.self)
            let p = s.bytes
            let trimmed = Runtime.spaceTrimmed(s)
            let lo = trimmed.lowerBound, hi = trimmed.upperBound
            var i = lo
            var negative = false
            if i < hi && (p[i] == UInt8(ascii: "-") || p[i] == UInt8(ascii: "+")) { negative = p[i] == UInt8(ascii: "-"); i += 1 }
            if i < hi {
                var magnitude: UInt64 = 0
                var overflow = false
                var digitsOnly = true
                for j in i..<hi {
                    let d = p[j] &- UInt8(ascii: "0")
                    guard d <= 9 else { digitsOnly = false; break }
                    let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
                    let (sum, o2) = times10.addingReportingOverflow(UInt64(d))
                    if o1 || o2 { overflow = true } else { magnitude = sum }
                }
                if digitsOnly {
                    if !overflow {
                        if negative && magnitude == UInt64(Int64.max) + 1 { return intValue(Int64.min) }
                        if magnitude <= UInt64(Int64.max) { return intValue(negative ? -Int64(magnitude) : Int64(magnitude)) }
                    }
                    raise("int literal is too large: \(Runtime.quote(String(decoding: UnsafeBufferPointer(start: p + lo, count: hi - lo), as: UTF8.self)))")
                    return nil
                }
            }
            raise("invalid int literal: \(Runtime.quote(String(decoding: UnsafeBufferPointer(start: p + lo, count: hi - lo), as: UTF8.self)))")
            return nil
        }
        raise("cannot convert \(typeName(v)) to int")
        return nil
    }

    /// The embedding API's `args` list.
    func setArguments(_ arguments: [String]) {
        let l = newList(capacity: arguments.count)
        pushRoot(Value(l))
        for a in arguments { append(l, Value(makeString(a))) }
        popRoot()
        builtins["args"] = Value(l)
    }
}

extension Runtime {
    /// The bytes `int`, `float`, `trim`/`strip` skip around text and `split()` splits on:
    /// space, tab, newline, carriage return.
    @inline(__always) static func isSpaceByte(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    /// The byte range of `s` without the space bytes (`isSpaceByte`) at either end.
    static func spaceTrimmed(_ s: UnsafeMutablePointer<ObjString>) -> Range<Int> {
        let p = s.bytes
        var lo = 0, hi = s.pointee.count
        while lo < hi && isSpaceByte(p[lo]) { lo += 1 }
        while hi > lo && isSpaceByte(p[hi - 1]) { hi -= 1 }
        return lo..<hi
    }
}
