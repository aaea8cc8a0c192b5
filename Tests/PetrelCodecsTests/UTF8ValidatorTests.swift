import PetrelCodecs
import Testing

@Suite("UTF8Validator")
struct UTF8ValidatorTests {
    static let valid: [[UInt8]] = [
        [],
        Array("plain ASCII long enough to take the eight-byte path".utf8),
        [0xC2, 0x80],                   // U+0080, smallest 2-byte
        [0xDF, 0xBF],                   // U+07FF
        [0xE0, 0xA0, 0x80],             // U+0800, smallest 3-byte
        [0xED, 0x9F, 0xBF],             // U+D7FF, just below the surrogates
        [0xEE, 0x80, 0x80],             // U+E000, just above them
        [0xEF, 0xBF, 0xBF],             // U+FFFF
        [0xF0, 0x90, 0x80, 0x80],       // U+10000, smallest 4-byte
        [0xF4, 0x8F, 0xBF, 0xBF],       // U+10FFFF, the last code point
        Array("κόσμε — 日本語 — 🐦".utf8),
        Array("12345678é12345678".utf8),   // non-ASCII between two 8-byte words
    ]

    static let invalid: [(name: String, bytes: [UInt8])] = [
        ("overlong 2-byte C0", [0xC0, 0xAF]),
        ("overlong 2-byte C1", [0xC1, 0xBF]),
        ("overlong 3-byte", [0xE0, 0x80, 0xAF]),
        ("overlong 4-byte", [0xF0, 0x80, 0x80, 0xAF]),
        ("surrogate D800", [0xED, 0xA0, 0x80]),
        ("surrogate DFFF", [0xED, 0xBF, 0xBF]),
        ("above U+10FFFF", [0xF4, 0x90, 0x80, 0x80]),
        ("lead byte F5", [0xF5, 0x80, 0x80, 0x80]),
        ("byte FF", [0xFF]),
        ("stray continuation", [0x41, 0x80, 0x41]),
        ("lead followed by ASCII", [0xE2, 0x41, 0x41]),
        ("truncated 2-byte", [0xC3]),
        ("truncated 3-byte", [0xE2, 0x82]),
        ("truncated 4-byte", [0xF0, 0x9F, 0x90]),
        ("invalid after 8 ASCII bytes", Array("abcdefgh".utf8) + [0xC0, 0x80]),
    ]

    @Test("valid sequences are accepted whole", arguments: valid)
    func acceptsValid(bytes: [UInt8]) {
        #expect(bytes.withUnsafeBytes(UTF8Validator.isValid))
    }

    @Test("valid sequences are accepted byte by byte, ending at a boundary", arguments: valid)
    func acceptsValidByteByByte(bytes: [UInt8]) {
        var validator = UTF8Validator()
        for byte in bytes {
            #expect([byte].withUnsafeBytes { validator.feed($0) })
        }
        #expect(validator.isAtBoundary)
    }

    @Test("invalid sequences are rejected", arguments: invalid.map(\.bytes))
    func rejectsInvalid(bytes: [UInt8]) {
        #expect(!bytes.withUnsafeBytes(UTF8Validator.isValid))
        #expect(!(String(validating: bytes, as: UTF8.self) != nil), "reference agrees")
    }

    @Test("the first impossible byte fails at once, with more bytes still to come")
    func failsFast() {
        var validator = UTF8Validator()
        #expect(Array("ok ".utf8).withUnsafeBytes { validator.feed($0) })
        #expect(![UInt8(0xED), 0xA0].withUnsafeBytes { validator.feed($0) })
        #expect(Array("more".utf8).withUnsafeBytes { validator.feed($0) } == false, "failure is sticky")
    }

    @Test("a sequence open at the end of a feed is not a boundary, then completes")
    func openSequenceAcrossFeeds() {
        var validator = UTF8Validator()
        #expect([UInt8(0xF0), 0x9F].withUnsafeBytes { validator.feed($0) })
        #expect(!validator.isAtBoundary)
        #expect([UInt8(0x90), 0xA6].withUnsafeBytes { validator.feed($0) })
        #expect(validator.isAtBoundary)
    }

    @Test("reset forgets a failure and an open sequence")
    func resetStartsOver() {
        var validator = UTF8Validator()
        _ = [UInt8(0xFF)].withUnsafeBytes { validator.feed($0) }
        validator.reset()
        #expect(validator.isAtBoundary)
        #expect(Array("fine".utf8).withUnsafeBytes { validator.feed($0) })
    }

    @Test("agrees with the standard library on every 1- and 2-byte input and sampled 3- and 4-byte ones")
    func agreesWithStandardLibrary() {
        func check(_ bytes: [UInt8]) {
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(bytes.withUnsafeBytes(UTF8Validator.isValid) == expected, "\(bytes)")
        }
        for first in 0...255 {
            check([UInt8(first)])
            for second in 0...255 { check([UInt8(first), UInt8(second)]) }
        }
        for lead in 0xE0...0xF4 {
            for second in stride(from: 0x70, through: 0xC0, by: 1) {
                check([UInt8(lead), UInt8(second), 0x80])
                check([UInt8(lead), UInt8(second), 0x80, 0xBF])
            }
        }
    }
}
