import PetrelCodecs
import Testing

/// Each rule whose breach closes with 1002 (RFC 6455 §5.1-§5.5, §7.4).
@Suite("WebSocketFrameDecoder: protocol errors (1002)")
struct WebSocketFrameDecoderProtocolErrorTests {
    private func expectProtocolError(_ frames: [[UInt8]], after earlier: [DecodedEvent] = [], _ comment: Comment? = nil) {
        for mode in FeedMode.allCases {
            #expect(DecoderHarness.decode(frames, mode: mode) == earlier + [.failure(code: 1002)], comment)
        }
    }

    @Test("an unmasked client frame")
    func unmaskedFrame() {
        expectProtocolError([ClientFrame.make(opcode: 1, payload: Array("hi".utf8), masked: false)])
    }

    @Test("RSV1, RSV2 or RSV3 set without an extension", arguments: [1, 2, 4] as [UInt8])
    func reservedBits(rsv: UInt8) {
        expectProtocolError([ClientFrame.make(opcode: 1, payload: Array("hi".utf8), rsv: rsv)])
    }

    @Test("reserved opcodes", arguments: [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] as [UInt8])
    func reservedOpcodes(opcode: UInt8) {
        expectProtocolError([ClientFrame.make(opcode: opcode, payload: [])])
    }

    @Test("a control frame with 126 bytes of payload", arguments: [8, 9, 10] as [UInt8])
    func controlFrameTooLong(opcode: UInt8) {
        expectProtocolError([ClientFrame.make(opcode: opcode, payload: [UInt8](repeating: 0x30, count: 126))])
    }

    @Test("a fragmented control frame", arguments: [8, 9, 10] as [UInt8])
    func fragmentedControlFrame(opcode: UInt8) {
        expectProtocolError([ClientFrame.make(opcode: opcode, payload: [], fin: false)])
    }

    @Test("a continuation frame without a message in progress")
    func continuationWithoutMessage() {
        expectProtocolError([ClientFrame.make(.continuation, [1])])
        expectProtocolError([ClientFrame.text("done"), ClientFrame.make(.continuation, [1])], after: [.text("done")])
    }

    @Test("a new data frame while a fragmented message is in progress", arguments: [WebSocketOpcode.text, .binary])
    func dataFrameInsideFragmentedMessage(opcode: WebSocketOpcode) {
        expectProtocolError([ClientFrame.make(.text, Array("a".utf8), fin: false), ClientFrame.make(opcode, [0x62])])
    }

    @Test("a 64-bit length with its most significant bit set")
    func lengthMSBSet() {
        let frame: [UInt8] = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1] + ClientFrame.defaultKey
        expectProtocolError([frame])
    }

    @Test("a close frame with a 1-byte payload")
    func oneByteClose() {
        expectProtocolError([ClientFrame.make(.close, [0x03])])
    }

    @Test("the decoder stays dead after a failure")
    func deadAfterFailure() {
        var harness = DecoderHarness()
        harness.feed(ClientFrame.make(opcode: 3, payload: []))
        var next = ClientFrame.text("ignored")
        next.withUnsafeMutableBytes { input in
            var offset = 0
            guard case .failure(let code, _) = harness.decoder.next(input, offset: &offset) else {
                Issue.record("expected the same failure again")
                return
            }
            #expect(code == .protocolError)
        }
    }
}
