import PetrelCodecs
import Testing

/// Text messages must be UTF-8, checked as bytes arrive (RFC 6455 §5.6, §8.1): close 1007.
@Suite("WebSocketFrameDecoder: text validation (1007)")
struct WebSocketFrameDecoderUTF8Tests {
    @Test("invalid UTF-8 in a single-frame text message", arguments: FeedMode.allCases)
    func invalidSingleFrame(mode: FeedMode) {
        let frames = [ClientFrame.make(.text, [0x61, 0xED, 0xA0, 0x80])]
        #expect(DecoderHarness.decode(frames, mode: mode) == [.failure(code: 1007)])
    }

    @Test("a text message ending inside a multi-byte character", arguments: FeedMode.allCases)
    func truncatedAtFin(mode: FeedMode) {
        let frames = [ClientFrame.make(.text, [0x61, 0xE2, 0x82], fin: false), ClientFrame.make(.continuation, [])]
        #expect(DecoderHarness.decode(frames, mode: mode) == [.failure(code: 1007)])
    }

    @Test("binary messages are not validated", arguments: FeedMode.allCases)
    func binaryNotValidated(mode: FeedMode) {
        #expect(DecoderHarness.decode([ClientFrame.make(.binary, [0xFF, 0xC0])], mode: mode) == [.message(.binary, [0xFF, 0xC0])])
    }

    @Test("an invalid byte fails mid-frame, before the rest of the frame arrives")
    func failsFastMidFrame() {
        let payload = Array("valid start ".utf8) + [0xC0] + [UInt8](repeating: 0x61, count: 1000)
        let frame = ClientFrame.make(.text, payload)
        let headerLength = 4 + 4
        let invalidByteEnd = headerLength + 13
        var harness = DecoderHarness()
        harness.feed(Array(frame[..<invalidByteEnd]))
        #expect(harness.events == [.failure(code: 1007)], "failure before the remaining \(frame.count - invalidByteEnd) bytes")
    }

    @Test("an invalid byte in the first fragment fails before FIN")
    func failsFastBeforeFin() {
        var harness = DecoderHarness()
        harness.feed(ClientFrame.make(.text, Array("ok".utf8) + [0xF8], fin: false))
        #expect(harness.events == [.failure(code: 1007)])
    }

    @Test("an invalid continuation byte in a later fragment fails at once", arguments: FeedMode.allCases)
    func failsInLaterFragment(mode: FeedMode) {
        let frames = [
            ClientFrame.make(.text, [0xCE], fin: false),
            ClientFrame.make(.continuation, [0x41], fin: false),
            ClientFrame.make(.continuation, Array("never reached".utf8)),
        ]
        #expect(DecoderHarness.decode(frames, mode: mode) == [.failure(code: 1007)])
    }
}
