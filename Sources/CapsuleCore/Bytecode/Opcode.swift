/// The instruction set, defined once. Compiler, verifier, disassembler and interpreter all
/// follow this list.
///
/// An instruction is a `UInt32`: bits 0–7 opcode, 8–15 `A`, 16–23 `B`, 24–31 `C`.
/// `Bx` is bits 16–31 unsigned; `sBx` is `Bx - 32767`; `sJ` is bits 8–31 minus 2^23.
/// `R[x]` is register x of the current frame (register 0 holds the callee, or `self` in a
/// method); `K[x]` is constant x. An `EXTRA` word following an instruction carries a 32-bit
/// operand `X`. Jumps are relative to the instruction after the jump (or its EXTRA word).
public enum Opcode: UInt8, CaseIterable, Sendable {
    // MARK: loads and moves
    /// MOVE A B: R[A] = R[B]
    case move
    /// LOADK A Bx: R[A] = K[Bx]
    case loadK
    /// LOADI A sBx: R[A] = sBx (an int)
    case loadI
    /// LOADNIL A: R[A] = nil
    case loadNil
    /// LOADTRUE A: R[A] = true
    case loadTrue
    /// LOADFALSE A: R[A] = false
    case loadFalse
    /// GETGLOBAL A Bx: R[A] = module variable Bx (error if not yet defined)
    case getGlobal
    /// SETGLOBAL A Bx: module variable Bx = R[A]
    case setGlobal
    /// GETUPVAL A B: R[A] = upvalue B
    case getUpval
    /// SETUPVAL A B: upvalue B = R[A]
    case setUpval

    // MARK: arithmetic: R[A] = R[B] op R[C]
    /// ADD A B C
    case add
    /// SUB A B C
    case sub
    /// MUL A B C
    case mul
    /// DIV A B C
    case div
    /// MOD A B C
    case mod
    /// BAND A B C
    case band
    /// BOR A B C
    case bor
    /// BXOR A B C
    case bxor
    /// SHL A B C
    case shl
    /// SHR A B C
    case shr
    // arithmetic with a constant: R[A] = R[B] op K[C]
    /// ADDK A B C
    case addK
    /// SUBK A B C
    case subK
    /// MULK A B C
    case mulK
    /// DIVK A B C
    case divK
    /// MODK A B C
    case modK
    /// ADDI A B sC: R[A] = R[B] + sC (sC = C - 128)
    case addI
    /// SUBI A B sC: R[A] = R[B] - sC
    case subI

    // MARK: unary
    /// NEG A B: R[A] = -R[B]
    case neg
    /// BNOT A B: R[A] = ~R[B]
    case bnot
    /// NOT A B: R[A] = not R[B]
    case not

    // MARK: comparisons producing a bool: R[A] = R[B] op R[C]
    /// EQ A B C
    case eq
    /// NE A B C
    case ne
    /// LT A B C
    case lt
    /// LE A B C
    case le
    /// GT A B C
    case gt
    /// GE A B C
    case ge

    // MARK: conditional skips. Each is followed by a JMP, which runs when the test holds
    // and is skipped otherwise. In the register forms, bit 0 of C is the expected result and
    // bit 1 says the operands were swapped by the compiler (`a > b` is `b < a`), so error
    // messages can name them in source order.
    /// JEQ A B C: jump (the next JMP) if (R[A] == R[B]) == C
    case testEq
    /// JLT A B C: jump if (R[A] < R[B]) == C
    case testLt
    /// JLE A B C: jump if (R[A] <= R[B]) == C
    case testLe
    /// JLTI A sB C: jump if (R[A] < sB) == C (sB = B - 128)
    case testLtI
    /// JLEI A sB C: jump if (R[A] <= sB) == C
    case testLeI
    /// JGTI A sB C: jump if (R[A] > sB) == C
    case testGtI
    /// JGEI A sB C: jump if (R[A] >= sB) == C
    case testGeI
    /// JEQK A B C: jump if (R[A] == K[B]) == C
    case testEqK
    /// TEST A C: jump if truthy(R[A]) == C
    case test
    /// JARG A: jump if parameter R[A] got an argument (does not hold the missing-argument
    /// marker that `pushFrame` leaves in an optional parameter nobody passed)
    case testArg
    /// JMP sJ: pc += sJ
    case jmp

    // MARK: calls
    /// CALL A B: call R[A] with the B arguments R[A+1]…R[A+B]; the result goes to R[A].
    /// B = 255 and 254 (real counts stop at 200): the arguments prepared by the SPREAD or
    /// NAMED instruction just before.
    case call
    /// INVOKE A B + EXTRA X: call method K[X] of R[A] with arguments R[A+1]…R[A+B];
    /// the result goes to R[A].
    case invoke
    /// RETURN A: return R[A]
    case ret
    /// RETURNNIL: return nil (or `self` from an initialiser)
    case retNil
    /// CLOSURE A Bx: R[A] = a closure of the function constant K[Bx]
    case closure
    /// CLOSE A: close upvalues that point at registers >= A
    case close

    // MARK: collections and fields
    /// NEWLIST A B: R[A] = an empty list with capacity B
    case newList
    /// APPEND A B C: append R[B]…R[B+C-1] to the list R[A]
    case append
    /// NEWMAP A: R[A] = an empty map
    case newMap
    /// GETINDEX A B C: R[A] = R[B][R[C]]
    case getIndex
    /// SETINDEX A B C: R[A][R[B]] = R[C]
    case setIndex
    /// SLICE A B C: R[A] = R[B][R[C] : R[C+1]] (nil bounds are open)
    case slice
    /// GETFIELD A B + EXTRA X: R[A] = R[B].K[X]
    case getField
    /// SETFIELD A B C + EXTRA X: R[A].K[X] = R[C]
    case setField
    /// RANGE A B C: R[A] = the list R[B]..R[B+1] (C = 1: inclusive)
    case range

    // MARK: classes
    /// CLASS A Bx: R[A] = a new class named K[Bx]
    case newClass
    /// INHERIT A B: class R[A] inherits from R[B] (copying its methods)
    case inherit
    /// METHOD A B + EXTRA X: class R[A] gets method K[X] = R[B]
    case method
    /// GETSUPER A B + EXTRA X: R[A] = method K[X] of class R[B], bound to R[0]
    case getSuper

    // MARK: loops
    /// FORPREP A C + EXTRA sJ: R[A] and R[A+1] are the bounds of an int range (C = 1:
    /// inclusive); if empty, jump by sJ; else R[A+2] = R[A].
    case forPrep
    /// FORLOOP A + EXTRA sJ: R[A] += 1; if R[A] < R[A+1] { R[A+2] = R[A]; jump by sJ }
    case forLoop
    /// ITERPREP A: R[A] is the iterable; sets up R[A+1] (position), R[A+2] (guard).
    case iterPrep
    /// ITERNEXT A B + EXTRA sJ: advance; if done, jump by sJ; else R[A+3] = element
    /// (B = 2: R[A+3] = index/key, R[A+4] = element/value)
    case iterNext

    // MARK: errors, modules, strings
    /// TRY A B + EXTRA sJ: push a handler catching into R[A], handler code at pc + sJ.
    /// B = 0: `catch` (R[A] gets the thrown value); B = 1: `finally` (R[A] gets the error
    /// object itself, so THROW R[A] re-raises it with its trace and flags unchanged); B = 2:
    /// typed `catch` clauses (R[A] gets the thrown value, R[A+1] the error object, which THROW
    /// re-raises unchanged when no clause matches).
    case tryBegin
    /// ENDTRY: pop the innermost handler
    case tryEnd
    /// THROW A: throw R[A]
    case throwValue
    /// ASSERTFAIL A B: throw `assertion failed`, or the message R[A] when B = 1
    case assertFail
    /// IMPORT A Bx: R[A] = the module named K[Bx]
    case importModule
    /// TOSTR A B: R[A] = str(R[B])
    case toStr
    /// CONCAT A B C: R[A] = the strings R[B]…R[B+C-1] joined
    case concat
    /// DEFGLOBAL A Bx: module variable Bx = R[A] (a declaration: always allowed)
    case defGlobal

    // MARK: type tests
    /// IS A B C: R[A] = R[B] is an instance of class R[C] or of a subclass (an error if
    /// R[C] is not a class)
    case isInstance
    /// ISTYPE A B C: R[A] = R[B] has the built-in type numbered C (`Runtime.builtinTypeNames`)
    case isType
    /// IN A B C: R[A] = R[B] in R[C] (an element of a list, a key of a map, a substring of a
    /// string, a byte of bytes); `not in` is IN then NOT
    case contains
    /// UNPACK A B C: R[B] must be a list of exactly C elements; R[A+i] = element i. With
    /// bit 7 of C set, a list of at least n = C & 127 elements, and R[A+n] = a new list of
    /// the elements after the first n
    case unpack
    /// UNPACKKEY A B + EXTRA X: R[A] = the value of key K[X] of the map R[B] (a field of an
    /// instance, a variable of a module); a missing key is an error
    case unpackKey
    /// EXTEND A B: append the elements of the list R[B] to the list R[A] (`...` in a list)
    case extend
    /// SPREAD A: R[A+1] is a list; its elements become the arguments R[A+1]… of the
    /// `CALL A 255` that must follow (a call with `...`)
    case spread
    /// NAMED A B: R[A+1]…R[A+B] are positional arguments and R[A+B+1] a map of named ones,
    /// for the `CALL A 254` that must follow: a script function binds the names to its
    /// parameters, anything else gets the map as a last argument
    case named
    /// CALLABLE A + EXTRA X: R[A] = method K[X] of R[A] as a value to call (a bound method,
    /// or a field or module variable), looked up as INVOKE does; used before SPREAD or NAMED
    case callable
    /// EXTRA: operand word of the previous instruction; never executed
    case extra
}

/// Encoding and decoding of instruction words.
enum Instruction {
    @inline(__always) static func op(_ i: UInt32) -> Opcode {
        // NOTE: bytecode is verified when a function is built, so the opcode byte is valid.
        unsafeBitCast(UInt8(truncatingIfNeeded: i), to: Opcode.self)
    }
    @inline(__always) static func a(_ i: UInt32) -> Int { Int((i >> 8) & 0xFF) }
    @inline(__always) static func b(_ i: UInt32) -> Int { Int((i >> 16) & 0xFF) }
    @inline(__always) static func c(_ i: UInt32) -> Int { Int(i >> 24) }
    @inline(__always) static func bx(_ i: UInt32) -> Int { Int(i >> 16) }
    @inline(__always) static func sbx(_ i: UInt32) -> Int { Int(i >> 16) - 32767 }
    @inline(__always) static func sj(_ i: UInt32) -> Int { Int(i >> 8) - (1 << 23) }
    @inline(__always) static func sb(_ i: UInt32) -> Int64 { Int64((i >> 16) & 0xFF) - 128 }
    @inline(__always) static func sc(_ i: UInt32) -> Int64 { Int64(i >> 24) - 128 }

    static func abc(_ op: Opcode, _ a: Int, _ b: Int = 0, _ c: Int = 0) -> UInt32 {
        UInt32(op.rawValue) | UInt32(a & 0xFF) << 8 | UInt32(b & 0xFF) << 16 | UInt32(c & 0xFF) << 24
    }
    static func abx(_ op: Opcode, _ a: Int, _ bx: Int) -> UInt32 {
        UInt32(op.rawValue) | UInt32(a & 0xFF) << 8 | UInt32(bx & 0xFFFF) << 16
    }
    static func asbx(_ op: Opcode, _ a: Int, _ sbx: Int) -> UInt32 { abx(op, a, sbx + 32767) }
    static func sj(_ op: Opcode, _ offset: Int) -> UInt32 {
        UInt32(op.rawValue) | UInt32((offset + (1 << 23)) & 0xFF_FFFF) << 8
    }
    static let sbxRange = -32767...32768
    static let sjRange = -(1 << 23)...((1 << 23) - 1)
    /// EXTRA words carry their operand in the upper 24 bits (jumps are stored biased).
    static func extra(_ x: Int) -> UInt32 { UInt32(Opcode.extra.rawValue) | UInt32((x + (1 << 23)) & 0xFF_FFFF) << 8 }
    @inline(__always) static func extraValue(_ i: UInt32) -> Int { Int(i >> 8) - (1 << 23) }
}
