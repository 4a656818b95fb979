import Testing
@testable import CapsuleCore

@Suite struct ValueEncodingTests {
    let vm = VM()

    @Test(arguments: [Int64(0), -1, 1, Value.inlineIntMin, Value.inlineIntMax, Value.inlineIntMin + 1, Value.inlineIntMax - 1])
    func inlineIntsRoundTrip(_ i: Int64) {
        let v = vm.rt.intValue(i)
        #expect(v.isInlineInt)
        #expect(!v.isObject && !v.isDouble)
        #expect(v.isInt && v.intValue == i)
        #expect(v.asInlineInt == i)
    }

    @Test(arguments: [Value.inlineIntMax + 1, Value.inlineIntMin - 1, Int64.max, Int64.min, Int64.max - 1, Int64.min + 1])
    func intsOutsideTheInlineRangeAreBoxed(_ i: Int64) {
        let v = vm.rt.intValue(i)
        #expect(!v.isInlineInt)
        #expect(v.isObject(.int))
        #expect(v.isInt && v.intValue == i)
    }

    @Test func inlineBoundaryIsTwoToThe47() {
        #expect(Value.inlineIntMax == (1 << 47) - 1)
        #expect(Value.inlineIntMin == -(1 << 47))
        #expect(Value.fitsInline(Value.inlineIntMax) && Value.fitsInline(Value.inlineIntMin))
        #expect(!Value.fitsInline(1 << 47) && !Value.fitsInline(-(1 << 47) - 1))
    }

    @Test func extremeIntsThroughScripts() {
        #expect(value(of: "9223372036854775807") == .int(.max))
        #expect(value(of: "-9223372036854775807 - 1") == .int(.min))
        #expect(value(of: "140737488355327 + 1") == .int(1 << 47))
        #expect(value(of: "-140737488355328 - 1") == .int(-(1 << 47) - 1))
        #expect(value(of: "140737488355328 - 1") == .int((1 << 47) - 1))
        #expect(value(of: "9223372036854775807 + 1") == .string("ERROR: integer overflow"))
        #expect(value(of: "str(-9223372036854775807 - 1)") == .string("-9223372036854775808"))
    }

    @Test func nansAreCanonical() {
        let payloads: [UInt64] = [0x7FF8_0000_0000_0001, 0xFFF8_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF,
                                  0xFFF9_0000_0000_0005, 0xFFFA_1234_5678_9ABC, 0x7FF0_0000_0000_0001]
        for bits in payloads {
            let d = Double(bitPattern: bits)
            #expect(d.isNaN)
            let v = Value(d)
            #expect(v.bits == Double.nan.bitPattern)
            #expect(v.isDouble && !v.isObject && !v.isInlineInt && !v.isNil)
            #expect(v.asDouble.isNaN)
        }
        #expect(Value(-0.0).bits == (-0.0).bitPattern)
        #expect(Value(Double.infinity).isDouble)
        if case .float(let d) = value(of: "0.0 / 0.0") { #expect(d.isNaN) } else { Issue.record("0.0/0.0 is not a float") }
    }

    @Test func truthiness() {
        #expect(!Value.nil.isTruthy)
        #expect(!Value.false.isTruthy)
        #expect(Value.true.isTruthy)
        #expect(Value(inlineInt: 0).isTruthy)
        #expect(Value(0.0).isTruthy)
        #expect(Value(Double.nan).isTruthy)
        #expect(Value(vm.rt.makeString("")).isTruthy)
        #expect(value(of: #"[not nil, not false, not 0, not "", not [], not 0.0]"#)
                == .list([true, true, false, false, false, false]))
    }

    @Test func specialsAreDistinct() {
        let specials = [Value.nil, .true, .false, .undefined, .empty]
        #expect(Set(specials.map(\.bits)).count == 5)
        #expect(Value.nil.isNil && !Value.false.isNil)
        #expect(Value.true.isBool && Value.false.isBool && !Value.nil.isBool)
        #expect(Value(bool: true) == .true && Value(bool: false) == .false)
    }

    @Test func equalityRules() {
        let rt = vm.rt
        #expect(rt.valuesEqual(rt.intValue(1), Value(1.0)))
        #expect(rt.valuesEqual(Value(1.0), rt.intValue(1)))
        #expect(!rt.valuesEqual(rt.intValue(1), Value(1.5)))
        // 2^63 as a double is not Int64.max: the comparison is exact, not through a conversion.
        #expect(!rt.valuesEqual(rt.intValue(.max), Value(9.223372036854775807e18)))
        #expect(!rt.valuesEqual(Value(Double.nan), Value(Double.nan)))

        let a = Value(rt.makeString("héllo")), b = Value(rt.makeString("héllo"))
        rt.pushRoot(a); rt.pushRoot(b)
        defer { rt.popRoot(2) }
        #expect(a != b)  // two objects…
        #expect(rt.valuesEqual(a, b))  // …equal by content
        #expect(!rt.valuesEqual(a, Value(rt.intern("hello"))))

        let big1 = rt.boxInt(1 << 50), big2 = rt.boxInt(1 << 50)
        rt.pushRoot(big1); rt.pushRoot(big2)
        defer { rt.popRoot(2) }
        #expect(big1 != big2)
        #expect(rt.valuesEqual(big1, big2))
        #expect(rt.valuesEqual(big1, Value(Double(1 << 50))))
        #expect(!rt.valuesEqual(rt.intValue(0), .false))
        #expect(!rt.valuesEqual(.nil, .false))

        #expect(value(of: #"[1 == 1.0, "ab" + "c" == "abc", [1] == [1], 0 == false, 9007199254740993 == 9007199254740992.0]"#)
                == .list([true, true, false, false, false]))
    }

    @Test func mapKeysFollowEquality() {
        #expect(value(of: #"let m = {1: "int"}; m[1.0] = "float"; [len(m), m[1]]"#) == .list([1, "float"]))
        #expect(value(of: #"let m = {}; m["a" + "b"] = 1; m["ab"]"#) == .int(1))
        #expect(value(of: "let m = {}; m[1 << 60] = 1; m[(1 << 59) * 2]") == .int(1))
    }
}
