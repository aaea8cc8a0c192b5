@testable import PetrelCodecs
import Testing

/// The per-message hot path: no copy and no buffer when a frame arrives whole.
@Suite("WebSocketFrameDecoder: memory")
struct WebSocketFrameDecoderMemoryTests {
    @Test("a whole masked 32-byte text frame decodes to a pointer inside the input buffer")
    func zeroCopy() {
        var decoder = WebSocketFrameDecoder(maxFrameBytes: 1024, maxMessageBytes: 1024)
        let text = "thirty-two bytes of text payload"
        #expect(text.utf8.count == 32)
        var input = ClientFrame.text(text)
        input.withUnsafeMutableBytes { buffer in
            var offset = 0
            guard case .message(.text, let payload) = decoder.next(buffer, offset: &offset) else {
                Issue.record("expected a text message")
                return
            }
            #expect(payload.baseAddress == UnsafeRawPointer(buffer.baseAddress! + 6))
            #expect(String(decoding: payload, as: UTF8.self) == text)
            #expect(!decoder.holdsAccumulationBuffer)
            #expect(offset == buffer.count)
        }
    }

    @Test("a buffer used for a split frame is released on the call after delivery")
    func bufferReleasedAfterDelivery() {
        var decoder = WebSocketFrameDecoder(maxFrameBytes: 1024, maxMessageBytes: 1024)
        let frame = ClientFrame.text("split across two reads")
        var first = Array(frame[..<10])
        var second = Array(frame[10...])
        first.withUnsafeMutableBytes { buffer in
            var offset = 0
            #expect(decoder.next(buffer, offset: &offset).isNeedMore)
        }
        #expect(decoder.holdsAccumulationBuffer)
        second.withUnsafeMutableBytes { buffer in
            var offset = 0
            guard case .message(.text, let payload) = decoder.next(buffer, offset: &offset) else {
                Issue.record("expected a text message")
                return
            }
            #expect(String(decoding: payload, as: UTF8.self) == "split across two reads")
            #expect(decoder.next(buffer, offset: &offset).isNeedMore)
        }
        #expect(!decoder.holdsAccumulationBuffer, "an idle connection holds no buffer")
    }

    @Test("releaseMemory drops a partial message")
    func releaseMemory() {
        var decoder = WebSocketFrameDecoder(maxFrameBytes: 1024, maxMessageBytes: 1024)
        var fragment = ClientFrame.make(.binary, [1, 2, 3], fin: false)
        fragment.withUnsafeMutableBytes { buffer in
            var offset = 0
            #expect(decoder.next(buffer, offset: &offset).isNeedMore)
        }
        #expect(decoder.holdsAccumulationBuffer)
        decoder.releaseMemory()
        #expect(!decoder.holdsAccumulationBuffer)
    }
}

extension WebSocketEvent {
    var isNeedMore: Bool {
        if case .needMore = self { return true }
        return false
    }
}
