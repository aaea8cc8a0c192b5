import PetrelCodecs
import Testing

@Suite("WebSocketCloseCode")
struct WebSocketCloseCodeTests {
    @Test("codes a peer may send", arguments: [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] as [UInt16])
    func validOnWire(code: UInt16) {
        #expect(WebSocketCloseCode.isValidOnWire(code))
    }

    @Test("codes never valid on the wire", arguments: [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] as [UInt16])
    func invalidOnWire(code: UInt16) {
        #expect(!WebSocketCloseCode.isValidOnWire(code))
    }

    @Test("named codes carry their RFC 6455 §7.4.1 values")
    func namedValues() {
        #expect(WebSocketCloseCode.normal.rawValue == 1000)
        #expect(WebSocketCloseCode.goingAway.rawValue == 1001)
        #expect(WebSocketCloseCode.protocolError.rawValue == 1002)
        #expect(WebSocketCloseCode.unsupportedData.rawValue == 1003)
        #expect(WebSocketCloseCode.noStatus.rawValue == 1005)
        #expect(WebSocketCloseCode.abnormal.rawValue == 1006)
        #expect(WebSocketCloseCode.invalidPayload.rawValue == 1007)
        #expect(WebSocketCloseCode.policyViolation.rawValue == 1008)
        #expect(WebSocketCloseCode.messageTooBig.rawValue == 1009)
        #expect(WebSocketCloseCode.mandatoryExtension.rawValue == 1010)
        #expect(WebSocketCloseCode.internalError.rawValue == 1011)
    }
}
