import PetrelCrypto
import Testing

@Suite("SHA-256 and HMAC-SHA-256 known answers")
struct DigestTests {
    @Test("SHA-256 of FIPS 180-2 'abc' and of the empty string")
    func sha256() {
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hash(Array("abc".utf8)).count == 32)
    }

    @Test("HMAC-SHA-256, RFC 4231 test case 1")
    func rfc4231Case1() {
        let mac = HMACSHA256.authenticationCode(key: [UInt8](repeating: 0x0B, count: 20), message: "Hi There")
        #expect(Hex.lowercase(mac) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    }

    @Test("HMAC-SHA-256, RFC 4231 test case 2")
    func rfc4231Case2() {
        let mac = HMACSHA256.authenticationCode(key: Array("Jefe".utf8), message: "what do ya want for nothing?")
        #expect(Hex.lowercase(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test("HMAC-SHA-256, RFC 4231 test case 6 (key longer than a block)")
    func rfc4231Case6() {
        let mac = HMACSHA256.authenticationCode(key: [UInt8](repeating: 0xAA, count: 131),
                                                message: "Test Using Larger Than Block-Size Key - Hash Key First")
        #expect(Hex.lowercase(mac) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test("HMAC with an empty key and message is defined")
    func emptyInputs() {
        // HMAC-SHA-256("", "") is a published constant.
        #expect(Hex.lowercase(HMACSHA256.authenticationCode(key: [], message: [])) ==
                "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }

    @Test("constant-time comparison")
    func constantTime() {
        #expect(ConstantTime.equal([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equal([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equal([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equal([], []))
    }
}
