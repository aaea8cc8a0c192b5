import Testing
@testable import PetrelCore

@Test func idIsSixteenBase64URLCharactersWithoutPadding() {
    let id = GatewayID(high: 0xFFEE_DDCC_BBAA_9988, low: 0x7766_5544)
    let text = id.description
    #expect(text.count == 16)
    #expect(!text.contains("="))
    #expect(text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
}

@Test func idRoundTripsThroughItsText() {
    let id = GatewayID(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98)
    #expect(GatewayID(id.description) == id)
}

@Test func idParsingRejectsWrongLengthAndAlphabet() {
    #expect(GatewayID("short") == nil)
    #expect(GatewayID("AAAAAAAAAAAAAAA=") == nil)
    #expect(GatewayID("AAAAAAAAAAAAAAA+") == nil)
    #expect(GatewayID("AAAAAAAAAAAAAAAAA") == nil)
}

@Test func generatorMakesDistinctIDsAcrossRefills() {
    // SplitMix64 stands in for OpenSSL's DRBG; a batch of two ids forces many refills.
    var state: UInt64 = 42
    var generator = IDGenerator(batch: 24) { buffer in
        for i in 0..<buffer.count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            buffer[i] = UInt8(truncatingIfNeeded: z ^ (z >> 31))
        }
    }
    var seen = Set<GatewayID>()
    for _ in 0..<100 { seen.insert(generator.makeID()) }
    #expect(seen.count == 100)
}

@Test func idTextIsTheBase64URLOfItsTwelveBytes() {
    // `appendText` encodes from the two words directly; the general encoder is the reference.
    var state: UInt64 = 7
    for _ in 0..<1000 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let id = GatewayID(high: state, low: UInt32(truncatingIfNeeded: state >> 17 ^ state))
        #expect(id.description == Base64URL.encode(id.bytes))
    }
}
