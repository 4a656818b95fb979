import Testing
import CapsuleSyntax

/// Mutated programs must never crash the lexer, parser or dumper (whatever they report).
@Suite struct FuzzTests {
    static let sample = #"""
    import "math" as m
    class Dog < Animal {
        init(name) { super.init(name); self.tricks = [] }
        speak() { return "${self.name} says ${ {"k": [1, 2.5e3]}["k"][0:1] }" }
    }
    fn f(a, b) {
        for i, x in 0..=a { if not x < b or x >= 0x1f { break } else { continue } }
        try { throw Error("x") } catch e { assert e != nil, "msg" }
        var s = -9223372036854775808; s <<= 2 /* c /* n */ */
        return fn(y) { return y[:2] + ~y % 3 }
    }
    """#

    /// A small deterministic generator (SplitMix64).
    struct Random {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(bound))
        }
    }

    @Test func mutatedProgramsNeverCrash() {
        let bytes = Array(Self.sample.utf8)
        let alphabet = Array("(){}[]\"$\\/*,.:;=<>+-~ \n0xe9_aZ".utf8)
        var random = Random(state: 42)
        for _ in 0..<3_000 {
            var mutated = bytes
            for _ in 0..<(1 + random.next(4)) {
                let at = random.next(mutated.count)
                switch random.next(3) {
                case 0: mutated.remove(at: at)
                case 1: mutated.insert(alphabet[random.next(alphabet.count)], at: at)
                default: mutated[at] = alphabet[random.next(alphabet.count)]
                }
            }
            let text = String(decoding: mutated, as: UTF8.self)
            let (program, diagnostics) = parse(Source(name: "fuzz", text: text))
            _ = dump(program)
            _ = isIncomplete(text)
            for diagnostic in diagnostics {
                #expect(diagnostic.location.line >= 1 && diagnostic.location.column >= 1)
                #expect(Int(diagnostic.location.offset) <= mutated.count)
            }
        }
    }

    @Test func theSampleItselfIsValid() {
        #expect(errors(Self.sample) == [])
    }
}
