import Testing
@testable import CapsuleCore

@Suite struct CompilerTests {
    @Test func constantArithmeticFolds() {
        let code = instructions(listing("let x = 1 + 2\nprint(x)"))
        #expect(code.first == "LOADI 1 3")
        #expect(!code.contains { $0.hasPrefix("ADD") })
        #expect(instructions(listing("let y = 6 * 7")).first == "LOADI 1 42")
        #expect(instructions(listing("let z = 1.5 * 2.0")).first?.hasPrefix("LOADK 1 K") == true)
        #expect(!instructions(listing("let z = 1.5 * 2.0")).contains { $0.hasPrefix("MUL") })
    }

    @Test func foldingNeverHidesRuntimeErrors() {
        // Overflow and division by zero must still happen at run time.
        #expect(instructions(listing("let x = 9223372036854775807 + 1")).contains { $0.hasPrefix("ADD") })
        #expect(value(of: "9223372036854775807 + 1") == .string("ERROR: integer overflow"))
        #expect(value(of: "1 / 0") == .string("ERROR: division by zero"))
    }

    @Test func smallImmediatesUseSUBIAndADDI() {
        let code = instructions(listing("fn f(n) { return n - 1 }"))
        #expect(code.contains("SUBI 2 1 1"))
        let add = instructions(listing("fn f(n) { return n + 5 }"))
        #expect(add.contains("ADDI 2 1 5"))
        // A large constant goes through the constant table instead.
        let big = instructions(listing("fn f(n) { return n - 100000 }"))
        #expect(!big.contains { $0.hasPrefix("SUBI") })
        #expect(big.contains { $0.hasPrefix("SUBK") })
    }

    @Test func conditionsCompileToATestAndJump() {
        let code = instructions(listing("fn f(a, b) {\n  if a < b { return 1 }\n  return 2\n}"))
        let i = code.firstIndex("JLT 1 2 0")
        #expect(i != nil)
        if let i { #expect(code[i + 1].hasPrefix("JMP")) }
        #expect(!code.contains { $0.hasPrefix("LT ") })  // no bool is materialised
        let imm = instructions(listing("fn f(n) { if n < 2 { return n } }"))
        #expect(imm.contains("JLTI 1 2 0"))
        #expect(instructions(listing("fn f(n) { while n > 0 { n -= 1 } }")).contains("JGTI 1 0 0"))
    }

    @Test func registersAreAllocatedLikeAStack() {
        // Register 0 is the callee; params take 1 and 2, the local 3.
        #expect(listing("fn f(a, b) { let c = a + b\n return c }").contains("function f (2 params, 4 registers"))
        // Sibling blocks reuse the same registers.
        #expect(listing("fn g() { { let x = 1 } { let y = 2 } { let z = 3 } }").contains("function g (0 params, 2 registers"))
        let code = instructions(listing("fn h() { { let x = 1 } { let y = 2 } }"))
        #expect(code.filter { $0.hasPrefix("LOADI 1") }.count == 2)
    }

    @Test func defaultValuesCompileToArgumentTests() {
        // Each default is guarded by JARG + JMP, skipped when the argument was passed.
        // Functions without defaults have no prologue.
        let text = listing("fn f(a, b = 1, c = 2) { return a }")
        #expect(text.contains("function f (3 params (1 required),"))
        let code = instructions(text)
        #expect(code.contains("JARG 2") && code.contains("JARG 3"))
        if let i = code.firstIndex(of: "JARG 2") { #expect(code[i + 1].hasPrefix("JMP")) }
        #expect(!instructions(listing("fn g(a, b) { return a }")).contains { $0.hasPrefix("JARG") || $0.hasPrefix("JMP") })
        #expect(value(of: "fn f(a, b = a * 2) { return [a, b] }\n[f(1), f(1, 5)]")
                == .list([.list([1, 2]), .list([1, 5])]))
    }

    @Test func verifierChecksArgumentTests() {
        let jmp = Instruction.sj(.jmp, 0), ret = Instruction.abc(.retNil, 0)
        #expect(BytecodeVerifier.verify(code: [Instruction.abc(.testArg, 1), jmp, ret], constantCount: 0,
                                        upvalueCount: 0, maxRegisters: 2) == nil)
        // JARG must be followed by a JMP and name a register in range.
        #expect(BytecodeVerifier.verify(code: [Instruction.abc(.testArg, 1), ret, ret], constantCount: 0,
                                        upvalueCount: 0, maxRegisters: 2) != nil)
        #expect(BytecodeVerifier.verify(code: [Instruction.abc(.testArg, 2), jmp, ret], constantCount: 0,
                                        upvalueCount: 0, maxRegisters: 2) != nil)
    }

    @Test func verifierChecksTheNewOperands() {
        let ret = Instruction.abc(.retNil, 0)
        func verify(_ code: [UInt32], registers: Int = 4, constants: Int = 1) -> String? {
            BytecodeVerifier.verify(code: code, constantCount: constants, upvalueCount: 0, maxRegisters: registers)
        }
        // UNPACK writes C registers (one more for a rest list, bit 7).
        #expect(verify([Instruction.abc(.unpack, 1, 3, 2), ret]) == nil)
        #expect(verify([Instruction.abc(.unpack, 2, 3, 3), ret]) != nil)
        #expect(verify([Instruction.abc(.unpack, 1, 3, 0x82), ret]) == nil)
        #expect(verify([Instruction.abc(.unpack, 2, 3, 0x82), ret]) != nil)
        // UNPACKKEY and CALLABLE need an EXTRA constant; SPREAD reads R[A+1].
        #expect(verify([Instruction.abc(.unpackKey, 1, 2), Instruction.extra(0), ret]) == nil)
        #expect(verify([Instruction.abc(.unpackKey, 1, 2), ret]) != nil)
        #expect(verify([Instruction.abc(.callable, 1), Instruction.extra(1), ret]) != nil)
        #expect(verify([Instruction.abc(.spread, 3), ret]) != nil)
        // CALL A 255 / 254 only right after SPREAD A / NAMED A.
        let spreadCall = Instruction.abc(.call, 2, Runtime.spreadCall), namedCall = Instruction.abc(.call, 1, Runtime.namedCall)
        #expect(verify([Instruction.abc(.spread, 2), spreadCall, ret]) == nil)
        #expect(verify([spreadCall, ret]) != nil)
        #expect(verify([Instruction.abc(.spread, 1), spreadCall, ret]) != nil)
        #expect(verify([Instruction.abc(.named, 2, 0), spreadCall, ret]) != nil)
        #expect(verify([Instruction.abc(.named, 1, 1), namedCall, ret]) == nil)
        #expect(verify([Instruction.abc(.contains, 1, 2, 4), ret]) != nil)
        // NAMED A B reads R[A]…R[A+B+1] (the map of names last).
        #expect(verify([Instruction.abc(.named, 1, 2), ret]) != nil)
        #expect(value(of: "fn f(a, b = 1, c = b + 1) { return [a, b, c] }\n[f(0, c: 5), f(c: 0, a: 1)]")
                == .list([.list([0, 1, 5]), .list([1, 1, 0])]))
        #expect(value(of: "fn f(a, ...r) { return [a, r] }\n[f(...[1, 2, 3]), [...[1], ...[2]]]")
                == .list([.list([1, .list([2, 3])]), .list([1, 2])]))
    }

    @Test func equalityWithSmallIntsPastConstant255() {
        // JEQK's constant operand is 8 bits; with more than 255 constants the compiler must
        // not truncate the index (it used to compare against the wrong constant).
        let strings = (0..<300).map { "\"s\($0)\"" }.joined(separator: ", ")
        let source = "let l = [\(strings)]\nlet x = 5\n[x == 5, x != 5, x == 6, x == \"s44\"]"
        #expect(value(of: source) == .list([true, false, false, false]))
        #expect(value(of: "let x = 5\n[x == 5, x != 5]") == .list([true, false]))
        #expect(instructions(listing("let x = 5\nif x == 5 { print(1) }")).contains { $0.hasPrefix("JEQK") })
    }

    @Test func compileErrorsCarryPositions() {
        #expect(compileErrors("print(cuont)") == ["1:7: undefined variable 'cuont'"])
        #expect(compileErrors("let x = 1\nx = 2") == ["2:1: cannot assign to constant 'x'"])
        #expect(compileErrors("var a = 1\nvar a = 2") == ["2:5: 'a' is already declared in this scope"])
        #expect(compileErrors("fn f() { let y = 1; let y = 2 }") == ["1:25: 'y' is already declared in this scope"])
        #expect(compileErrors("return 1") == ["1:1: 'return' outside of a function"])
        #expect(compileErrors("break") == ["1:1: 'break' outside of a loop"])
        #expect(compileErrors("while true { fn g() { break } }") == ["1:23: 'break' outside of a loop"])
        #expect(compileErrors("fn f() { return self }") == ["1:17: 'self' used outside of a method"])
        #expect(compileErrors("let ok = 1\nprint(ok)").isEmpty)
        // Every error is reported, in source order.
        #expect(compileErrors("print(a)\nprint(b)") == ["1:7: undefined variable 'a'", "2:7: undefined variable 'b'"])
    }

    @Test func tooManyRegisters() {
        let body = (0..<300).map { "    let v\($0) = \($0)" }.joined(separator: "\n")
        let errors = compileErrors("fn f() {\n\(body)\n}")
        #expect(errors.count == 1)
        #expect(errors.first?.hasSuffix("function needs too many registers (limit 250)") == true)
        #expect(errors.first?.hasPrefix("251:") == true)  // the local that needed register 251
        let fits = (0..<200).map { "    let v\($0) = \($0)" }.joined(separator: "\n")
        #expect(compileErrors("fn f() {\n\(fits)\n}").isEmpty)
    }

    @Test func compileErrorsDoNotRunAnything() {
        let (vm, out) = capturingVM()
        let outcome = vm.run(source: "print(\"side effect\")\nprint(nope)", name: "t.cap")
        #expect(outcome.exitCode == 65)
        #expect(outcome.errorText.hasPrefix("t.cap:2:7: error: undefined variable 'nope'"))
        #expect(out.text == "")
    }
}

extension Array where Element == String {
    func firstIndex(_ s: String) -> Int? { firstIndex(of: s) }
}
