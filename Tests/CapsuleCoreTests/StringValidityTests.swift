import Testing
@testable import CapsuleCore

/// Strings are valid UTF-8 whatever their bytes: `makeString` and `intern`, which every
/// string built from bytes passes, replace each invalid sequence with U+FFFD, as Swift's
/// `String(decoding:as:)` does; valid bytes are kept as they are.
@Suite struct StringValidityTests {
    let vm = VM()

    static let invalid: [[UInt8]] = [
        [0xff], [0x80], [0x61, 0xc3], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80],
        [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x61, 0xe2, 0x82, 0x62], [0xf0, 0x9f, 0x98],
    ]
    static let valid: [[UInt8]] = [[], [0x61], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0xef, 0xbf, 0xbd], [0xf4, 0x8f, 0xbf, 0xbf]]

    @Test(arguments: invalid + valid)
    func bytesBecomeValidText(_ bytes: [UInt8]) {
        let expected = String(decoding: bytes, as: UTF8.self)
        for interned in [false, true] {
            let s = bytes.withUnsafeBufferPointer { interned ? vm.rt.intern($0) : vm.rt.makeString($0) }
            let text = s.string
            #expect(text == expected)
            #expect(Array(text.utf8) == Array(expected.utf8))
            #expect(s.pointee.scalarCount == expected.unicodeScalars.count)
            #expect(UTF8Validation.isValid(UnsafeBufferPointer(start: s.bytes, count: s.pointee.count)))
        }
        #expect(bytes.withUnsafeBufferPointer { UTF8Validation.isValid($0) } == Self.valid.contains(bytes))
    }
}
