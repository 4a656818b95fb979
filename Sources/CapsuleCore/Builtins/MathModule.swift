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
        func define(_ name: String, _ v: Value) { setModuleVariable(m, name, v) }
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
        define("round", newNative(name: "round", arity: -1) { rt, a, argc in
            guard argc == 1 || argc == 2 else { return rt.fail("round expects 1 or 2 arguments, got \(argc)") }
            if argc == 2 { return rt.round(a[0], digits: a[1]) }
            if a[0].isInt { return a[0] }
            guard let x = rt.expectNumber(a[0], "round argument") else { return Runtime.failure }
            let r = x.rounded(.toNearestOrAwayFromZero)
            if r.isFinite && r >= -9.223372036854775808e18 && r < 9.223372036854775808e18 { return rt.intValue(Int64(r)) }
            return Value(r)
        })
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

    /// `math.round(x, digits)`, as Python's `round`: the nearest value with `digits` decimal
    /// digits after the point (before it when negative), ties to even, decided on the exact
    /// binary value of `x` (so 2.675, stored as 2.67499999…, gives 2.67). Floats give floats;
    /// ints give ints.
    func round(_ x: Value, digits: Value) -> Value {
        guard let n = expectInt(digits, "round digits") else { return Runtime.failure }
        if x.isInt {
            let v = x.intValue
            if n >= 0 { return x }
            if n < -18 { return Value(inlineInt: 0) }
            var p: Int64 = 1
            for _ in 0..<(-n) { p *= 10 }
            let q = v / p, r = v % p
            // Ties to even, on magnitudes.
            let twice = r.magnitude * 2
            var m = q.magnitude
            if twice > p.magnitude || (twice == p.magnitude && m % 2 == 1) { m += 1 }
            let (scaled, overflow) = Int64(exactly: m).map { $0.multipliedReportingOverflow(by: p) } ?? (0, true)
            if overflow { return fail("integer overflow") }
            return intValue(v < 0 ? -scaled : scaled)
        }
        guard let d = expectNumber(x, "round argument") else { return Runtime.failure }
        if !d.isFinite || d == 0 || n > 323 { return Value(d) }
        if n >= 0 {
            let text = Runtime.printf(d.magnitude, conversion: "f", precision: Int(n), alternate: false)
            let r = Double(text) ?? d.magnitude
            return Value(d < 0 ? -r : r)
        }
        if n < -308 { return Value(d < 0 ? -0.0 : 0.0) }
        // Before the point: keep the significant digits above 10^-n, through %e.
        let exponent = Int(floor(log10(d.magnitude)))
        let significant = exponent + 1 + Int(n)
        let unit = pow(10.0, Double(-n))
        if significant <= 0 {
            // Below one unit: 0, or one unit when above half of it (exactly half: 0, even).
            let r = significant == 0 && d.magnitude > unit / 2 ? unit : 0
            return Value(d < 0 ? -r : r)
        }
        let text = Runtime.printf(d.magnitude, conversion: "e", precision: significant - 1, alternate: false)
        let r = Double(text) ?? d.magnitude
        return Value(d < 0 ? -r : r)
    }
}
