@testable import PetrelCodecs
import Testing

/// Every payload length form of RFC 6455 §5.2, under every feed mode.
@Suite("WebSocketFrameDecoder: payload lengths")
struct WebSocketFrameDecoderLengthTests {
    static let lengths = [0, 1, 7, 8, 9, 125, 126, 65535, 65536, 128 * 1024]

    static func payload(_ length: Int) -> [UInt8] {
        (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    }

    @Test("binary message of each length, minimal encoding", arguments: lengths, [FeedMode.unitPerRead, .allInOneRead, .irregularSplits])
    func binaryLengths(length: Int, mode: FeedMode) {
        let payload = Self.payload(length)
        let frames = [ClientFrame.make(.binary, payload), ClientFrame.make(.binary, [1])]
        #expect(DecoderHarness.decode(frames, mode: mode) == [.message(.binary, payload), .message(.binary, [1])])
    }

    // Byte-by-byte separately, with the large lengths left out to keep the run short.
    @Test("binary message of each length, byte by byte", arguments: [0, 1, 125, 126, 65535, 65536])
    func binaryLengthsByteByByte(length: Int) {
        let payload = Self.payload(length)
        #expect(DecoderHarness.decode([ClientFrame.make(.binary, payload)], mode: .byteByByte) == [.message(.binary, payload)])
    }

    @Test("text message of 128 KiB", arguments: FeedMode.allCases)
    func largeText(mode: FeedMode) {
        let text = String(repeating: "petrel ✓ ", count: 128 * 1024 / 11)
        #expect(DecoderHarness.decode([ClientFrame.text(text)], mode: mode) == [.text(text)])
    }

    @Test("non-minimal length encodings are accepted", arguments: FeedMode.allCases)
    func nonMinimalLengths(mode: FeedMode) {
        let frames = [
            ClientFrame.make(opcode: 2, payload: [1, 2, 3], lengthForm: .extended16),
            ClientFrame.make(opcode: 2, payload: [4, 5], lengthForm: .extended64),
        ]
        #expect(DecoderHarness.decode(frames, mode: mode) == [.message(.binary, [1, 2, 3]), .message(.binary, [4, 5])])
    }

    @Test("each masking key, including one whose rotation matters across reads", arguments: [[0, 0, 0, 0], [0xFF, 0xFF, 0xFF, 0xFF], [1, 2, 3, 4], [0x80, 0x00, 0x7F, 0x01]] as [[UInt8]])
    func maskingKeys(key: [UInt8]) {
        let payload = Self.payload(37)
        for mode in FeedMode.allCases {
            #expect(DecoderHarness.decode([ClientFrame.make(opcode: 2, payload: payload, key: key)], mode: mode) == [.message(.binary, payload)])
        }
    }
}
