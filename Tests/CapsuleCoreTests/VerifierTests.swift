import Testing
@testable import CapsuleCore

/// The bytecode verifier rejects what the interpreter must never see, including the operands
/// of the instructions added for `finally`, `defer` and `is`.
@Suite struct VerifierTests {
    func verify(_ code: [UInt32], constants: Int = 1, registers: Int = 4) -> String? {
        BytecodeVerifier.verify(code: code, constantCount: constants, upvalueCount: 0, maxRegisters: registers)
    }

    @Test func tryHandlersAreChecked() {
        let ret = Instruction.abc(.retNil, 0)
        // TRY 1 with a catch (B = 0) or finally (B = 1) handler jumping to the RETURNNIL.
        #expect(verify([Instruction.abc(.tryBegin, 1, 0), Instruction.extra(0), ret]) == nil)
        #expect(verify([Instruction.abc(.tryBegin, 1, 1), Instruction.extra(0), ret]) == nil)
        // B = 2 (typed catch clauses) also writes R[A+1].
        #expect(verify([Instruction.abc(.tryBegin, 2, 2), Instruction.extra(0), ret]) == nil)
        #expect(verify([Instruction.abc(.tryBegin, 3, 2), Instruction.extra(0), ret]) != nil)
        #expect(verify([Instruction.abc(.tryBegin, 1, 3), Instruction.extra(0), ret]) != nil)
        #expect(verify([Instruction.abc(.tryBegin, 9, 1), Instruction.extra(0), ret]) != nil)
        #expect(verify([Instruction.abc(.tryBegin, 1, 1), Instruction.extra(40), ret]) != nil)
        #expect(verify([Instruction.abc(.tryBegin, 1, 1), ret]) != nil)
    }

    @Test func codeWithoutTryOrDeferIsUnchanged() {
        // Functions that use neither pay nothing: no TRY, no hidden list.
        let plain = instructions(listing("fn f(x) { if x { return 1 } return 2 }"))
        #expect(!plain.contains { $0.hasPrefix("TRY") || $0.hasPrefix("NEWLIST") })
        let withFinally = instructions(listing("fn f(x) { try { return 1 } finally { print(x) } }"))
        #expect(withFinally.contains { $0.hasPrefix("TRY") && $0.split(separator: " ").count == 4 })
        let withDefer = instructions(listing("fn f(x) { defer print(x) }"))
        #expect(withDefer.contains("NEWLIST 2 0"))
    }

    @Test func typeTestsAreChecked() {
        let ret = Instruction.abc(.retNil, 0)
        #expect(verify([Instruction.abc(.isInstance, 1, 2, 3), ret]) == nil)
        #expect(verify([Instruction.abc(.isInstance, 1, 2, 4), ret]) != nil)
        #expect(verify([Instruction.abc(.isType, 1, 2, Runtime.builtinTypeNames.count - 1), ret]) == nil)
        #expect(verify([Instruction.abc(.isType, 1, 2, Runtime.builtinTypeNames.count), ret]) != nil)
        #expect(verify([Instruction.abc(.isType, 7, 2, 0), ret]) != nil)
        let code = instructions(listing("class C {}\nlet x = 1\nprint(x is C, x is int)"))
        #expect(code.contains { $0.hasPrefix("IS ") })
        #expect(code.contains { $0.hasPrefix("ISTYPE") })
    }
}
