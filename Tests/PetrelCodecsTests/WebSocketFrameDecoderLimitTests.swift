import PetrelCodecs
import Testing

/// `max_frame_bytes` and `max_message_bytes` (DESIGN §4): close 1009, as early as it is certain.
@Suite("WebSocketFrameDecoder: size limits (1009)")
struct WebSocketFrameDecoderLimitTests {
    @Test("a frame at the frame limit passes, one byte more fails", arguments: FeedMode.allCases)
    func frameLimit(mode: FeedMode) {
        let atLimit = ClientFrame.make(.binary, [UInt8](repeating: 1, count: 100))
        let overLimit = ClientFrame.make(.binary, [UInt8](repeating: 1, count: 101))
        #expect(DecoderHarness.decode([atLimit, overLimit], mode: mode, maxFrameBytes: 100)
            == [.message(.binary, [UInt8](repeating: 1, count: 100)), .failure(code: 1009)])
    }

    @Test("an oversized frame fails from its header alone, before any payload")
    func frameLimitFromHeader() {
        let frame = ClientFrame.make(.binary, [UInt8](repeating: 0, count: 70_000))
        var harness = DecoderHarness(maxFrameBytes: 65_536)
        harness.feed(Array(frame[..<14]))
        #expect(harness.events == [.failure(code: 1009)])
    }

    @Test("fragments adding up past the message limit fail", arguments: FeedMode.allCases)
    func messageLimit(mode: FeedMode) {
        let frames = [
            ClientFrame.make(.binary, [UInt8](repeating: 2, count: 60), fin: false),
            ClientFrame.make(.continuation, [UInt8](repeating: 2, count: 40), fin: false),
            ClientFrame.make(.continuation, [2]),
        ]
        #expect(DecoderHarness.decode(frames, mode: mode, maxFrameBytes: 100, maxMessageBytes: 100) == [.failure(code: 1009)])
    }

    @Test("the message limit fails at the header of the fragment that passes it")
    func messageLimitFromHeader() {
        var harness = DecoderHarness(maxFrameBytes: 1000, maxMessageBytes: 100)
        harness.feed(ClientFrame.make(.binary, [UInt8](repeating: 2, count: 90), fin: false))
        harness.feed(Array(ClientFrame.make(.continuation, [UInt8](repeating: 2, count: 20))[..<6]))
        #expect(harness.events == [.failure(code: 1009)])
    }

    @Test("a message exactly at the message limit passes", arguments: FeedMode.allCases)
    func messageAtLimit(mode: FeedMode) {
        let frames = [
            ClientFrame.make(.binary, [UInt8](repeating: 3, count: 50), fin: false),
            ClientFrame.make(.continuation, [UInt8](repeating: 3, count: 50)),
        ]
        #expect(DecoderHarness.decode(frames, mode: mode, maxFrameBytes: 100, maxMessageBytes: 100)
            == [.message(.binary, [UInt8](repeating: 3, count: 100))])
    }

    @Test("control frames between fragments do not count toward the message limit", arguments: FeedMode.allCases)
    func controlFramesNotCounted(mode: FeedMode) {
        let frames = [
            ClientFrame.make(.binary, [UInt8](repeating: 4, count: 10), fin: false),
            ClientFrame.make(.ping, [UInt8](repeating: 5, count: 20)),
            ClientFrame.make(.continuation, []),
        ]
        #expect(DecoderHarness.decode(frames, mode: mode, maxFrameBytes: 125, maxMessageBytes: 10)
            == [.ping([UInt8](repeating: 5, count: 20)), .message(.binary, [UInt8](repeating: 4, count: 10))])
    }
}
