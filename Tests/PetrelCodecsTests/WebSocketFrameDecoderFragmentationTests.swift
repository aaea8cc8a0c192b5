import PetrelCodecs
import Testing

/// Fragmented messages and control frames between fragments (RFC 6455 §5.4).
@Suite("WebSocketFrameDecoder: fragmentation")
struct WebSocketFrameDecoderFragmentationTests {
    @Test("fragments assemble into one message", arguments: FeedMode.allCases)
    func assemblesFragments(mode: FeedMode) {
        let frames = [
            ClientFrame.make(.text, Array("Hel".utf8), fin: false),
            ClientFrame.make(.continuation, Array("lo, ".utf8), fin: false),
            ClientFrame.make(.continuation, Array("world".utf8)),
        ]
        #expect(DecoderHarness.decode(frames, mode: mode) == [.text("Hello, world")])
    }

    @Test("a ping between fragments is returned at once and assembly goes on", arguments: FeedMode.allCases)
    func pingBetweenFragments(mode: FeedMode) {
        let frames = [
            ClientFrame.make(.binary, [1, 2], fin: false),
            ClientFrame.make(.ping, Array("are you there".utf8)),
            ClientFrame.make(.continuation, [3], fin: false),
            ClientFrame.make(.pong, []),
            ClientFrame.make(.continuation, [4]),
        ]
        #expect(DecoderHarness.decode(frames, mode: mode) == [
            .ping(Array("are you there".utf8)), .pong([]), .message(.binary, [1, 2, 3, 4]),
        ])
    }

    @Test("a close between fragments is returned", arguments: FeedMode.allCases)
    func closeBetweenFragments(mode: FeedMode) {
        let frames = [ClientFrame.make(.text, Array("a".utf8), fin: false), ClientFrame.close(code: 1000)]
        #expect(DecoderHarness.decode(frames, mode: mode) == [.close(code: 1000, reason: [])])
    }

    @Test("empty fragments and empty messages are valid", arguments: FeedMode.allCases)
    func emptyFragments(mode: FeedMode) {
        let frames = [
            ClientFrame.make(.text, [], fin: false),
            ClientFrame.make(.continuation, [], fin: false),
            ClientFrame.make(.continuation, Array("x".utf8), fin: false),
            ClientFrame.make(.continuation, []),
            ClientFrame.make(.binary, []),
            ClientFrame.make(.text, []),
        ]
        #expect(DecoderHarness.decode(frames, mode: mode) == [.text("x"), .message(.binary, []), .text("")])
    }

    @Test("a fragmented message whose only bytes are in its last fragment", arguments: FeedMode.allCases)
    func bytesOnlyInLastFragment(mode: FeedMode) {
        let frames = [ClientFrame.make(.binary, [], fin: false), ClientFrame.make(.continuation, [9, 8, 7])]
        #expect(DecoderHarness.decode(frames, mode: mode) == [.message(.binary, [9, 8, 7])])
    }

    @Test("a multi-byte character split across fragments is valid", arguments: FeedMode.allCases)
    func characterSplitAcrossFragments(mode: FeedMode) {
        let bird = Array("🐦".utf8)
        let frames = [
            ClientFrame.make(.text, Array(bird[..<1]), fin: false),
            ClientFrame.make(.continuation, Array(bird[1..<3]), fin: false),
            ClientFrame.make(.continuation, Array(bird[3...])),
        ]
        #expect(DecoderHarness.decode(frames, mode: mode) == [.text("🐦")])
    }

    @Test("messages after a fragmented one decode normally", arguments: FeedMode.allCases)
    func messagesAfterFragmented(mode: FeedMode) {
        let frames = [
            ClientFrame.make(.text, Array("a".utf8), fin: false),
            ClientFrame.make(.continuation, Array("b".utf8)),
            ClientFrame.text("c"),
        ]
        #expect(DecoderHarness.decode(frames, mode: mode) == [.text("ab"), .text("c")])
    }
}
