import PetrelCodecs
import Testing

/// Close frames (RFC 6455 §5.5.1, §7.4).
@Suite("WebSocketFrameDecoder: close frames")
struct WebSocketFrameDecoderCloseTests {
    static let validCodes: [UInt16] = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]
    static let invalidCodes: [UInt16] = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]

    @Test("a close with a valid code and reason", arguments: validCodes)
    func validCode(code: UInt16) {
        for mode in FeedMode.allCases {
            let frames = [ClientFrame.close(code: code, reason: Array("bye ✓".utf8))]
            #expect(DecoderHarness.decode(frames, mode: mode) == [.close(code: code, reason: Array("bye ✓".utf8))])
        }
    }

    @Test("a close with a code not valid on the wire fails with 1002", arguments: invalidCodes)
    func invalidCode(code: UInt16) {
        for mode in FeedMode.allCases {
            #expect(DecoderHarness.decode([ClientFrame.close(code: code)], mode: mode) == [.failure(code: 1002)])
        }
    }

    @Test("an empty close reports no code", arguments: FeedMode.allCases)
    func emptyClose(mode: FeedMode) {
        #expect(DecoderHarness.decode([ClientFrame.make(.close, [])], mode: mode) == [.close(code: nil, reason: [])])
    }

    @Test("a close reason that is not UTF-8 fails with 1007", arguments: FeedMode.allCases)
    func invalidReason(mode: FeedMode) {
        #expect(DecoderHarness.decode([ClientFrame.close(code: 1000, reason: [0xCE, 0xBA, 0xE1])], mode: mode) == [.failure(code: 1007)])
    }

    @Test("a close with the longest allowed reason", arguments: FeedMode.allCases)
    func longestReason(mode: FeedMode) {
        let reason = [UInt8](repeating: 0x7A, count: 123)
        #expect(DecoderHarness.decode([ClientFrame.close(code: 1000, reason: reason)], mode: mode) == [.close(code: 1000, reason: reason)])
    }

    @Test("ping and pong payloads are returned as sent", arguments: FeedMode.allCases)
    func pingAndPong(mode: FeedMode) {
        let payload = [UInt8](0..<125)
        let frames = [ClientFrame.make(.ping, payload), ClientFrame.make(.pong, [1]), ClientFrame.make(.ping, [])]
        #expect(DecoderHarness.decode(frames, mode: mode) == [.ping(payload), .pong([1]), .ping([])])
    }
}
