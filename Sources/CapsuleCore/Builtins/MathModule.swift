#if canImport(Glibc)
import Glibc
#endif

/// `import "math"`.
extension Runtime {
    func makeMathModule() -> Value {
        let m = newModule(name: "math", sourceName: "<math>", directory: nil)
        let mv = Value(m)
        pushRoot(mv)
        defer { popRoot() }
        func define(_ name: String, _ v: Value) {
            pushRoot(v)
            let slot = addModuleVariable(m, name: intern(name))
            m.pointee.variables![slot] = v
            popRoot()
        }
        func unary(_ name: String, _ f: @escaping (Double) -> Double) {
            define(name, newNative(name: name, arity: 1) { rt, a, _ in
                guard let x = rt.expectNumber(a[0], "\(name) argument") else { return Runtime.failure }
                return Value(f(x))
            })
        }
        /// floor/ceil/round: an int when the result fits, else the float.
        func rounding(_ name: String, _ f: @escaping (Double) -> Double) {
            define(name, newNative(name: name, arity: 1) { rt, a, _ in
                if a[0].isInt { return a[0] }
                guard let x = rt.expectNumber(a[0], "\(name) argument") else { return Runtime.failure }
                let r = f(x)
                if r.isFinite && r >= -9.223372036854775808e18 && r < 9.223372036854775808e18 { return rt.intValue(Int64(r)) }
                return Value(r)
            })
        }
        define("pi", Value(Double.pi))
        define("e", Value(M_E))
        define("inf", Value(Double.infinity))
        define("nan", Value(Double.nan))
        unary("sqrt", { $0.squareRoot() })
        unary("sin", sin); unary("cos", cos); unary("tan", tan)
        unary("asin", asin); unary("acos", acos); unary("atan", atan)
        unary("exp", exp)
        rounding("floor", { $0.rounded(.down) })
        rounding("ceil", { $0.rounded(.up) })
        rounding("round", { $0.rounded(.toNearestOrAwayFromZero) })
        define("log", newNative(name: "log", arity: -1) { rt, a, argc in
            guard argc == 1 || argc == 2 else { return rt.fail("log expects 1 or 2 arguments, got \(argc)") }
            guard let x = rt.expectNumber(a[0], "log argument") else { return Runtime.failure }
            if argc == 2 {
                guard let b = rt.expectNumber(a[1], "log base") else { return Runtime.failure }
                return Value(log(x) / log(b))
            }
            return Value(log(x))
        })
        define("atan2", newNative(name: "atan2", arity: 2) { rt, a, _ in
            guard let y = rt.expectNumber(a[0], "atan2 argument"), let x = rt.expectNumber(a[1], "atan2 argument") else { return Runtime.failure }
            return Value(atan2(y, x))
        })
        define("hypot", newNative(name: "hypot", arity: 2) { rt, a, _ in
            guard let x = rt.expectNumber(a[0], "hypot argument"), let y = rt.expectNumber(a[1], "hypot argument") else { return Runtime.failure }
            return Value(hypot(x, y))
        })
        define("pow", newNative(name: "pow", arity: 2) { rt, a, _ in
            if a[0].isInt && a[1].isInt && a[1].intValue >= 0 {
                var result: Int64 = 1, base = a[0].intValue, e = a[1].intValue
                while e > 0 {
                    if e & 1 == 1 {
                        let (r, o) = result.multipliedReportingOverflow(by: base)
                        if o { return rt.fail("integer overflow") }
                        result = r
                    }
                    e >>= 1
                    if e > 0 {
                        let (b2, o) = base.multipliedReportingOverflow(by: base)
                        if o { return rt.fail("integer overflow") }
                        base = b2
                    }
                }
                return rt.intValue(result)
            }
            guard let x = rt.expectNumber(a[0], "pow argument"), let y = rt.expectNumber(a[1], "pow argument") else { return Runtime.failure }
            return Value(pow(x, y))
        })
        define("abs", newNative(name: "abs", arity: 1) { rt, a, _ in
            if a[0].isInt {
                let v = a[0].intValue
                if v == Int64.min { return rt.fail("integer overflow") }
                return rt.intValue(abs(v))
            }
            guard let x = rt.expectNumber(a[0], "abs argument") else { return Runtime.failure }
            return Value(abs(x))
        })
        for (name, wantLess) in [("min", true), ("max", false)] {
            define(name, newNative(name: name, arity: -1) { rt, a, argc in rt.extreme(a, argc, name: name, wantLess: wantLess) })
        }
        define("is_nan", newNative(name: "is_nan", arity: 1) { rt, a, _ in
            guard let x = rt.expectNumber(a[0], "is_nan argument") else { return Runtime.failure }
            return Value(bool: x.isNaN)
        })
        return mv
    }
}
