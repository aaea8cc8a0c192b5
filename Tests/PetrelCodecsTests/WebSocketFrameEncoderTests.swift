import PetrelCodecs
import Testing

@Suite("WebSocketFrameEncoder")
struct WebSocketFrameEncoderTests {
    private func header(_ opcode: WebSocketOpcode, fin: Bool = true, length: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: WebSocketFrameEncoder.maxHeaderSize)
        let written = bytes.withUnsafeMutableBytes {
            WebSocketFrameEncoder.writeHeader(into: $0.baseAddress!, opcode: opcode, fin: fin, payloadLength: length)
        }
        return Array(bytes[..<written])
    }

    @Test("lengths up to 125 use the 7-bit form")
    func sevenBitLength() {
        #expect(header(.text, length: 0) == [0x81, 0])
        #expect(header(.binary, length: 125) == [0x82, 125])
    }

    @Test("lengths 126...65535 use the 16-bit form")
    func sixteenBitLength() {
        #expect(header(.text, length: 126) == [0x81, 126, 0, 126])
        #expect(header(.text, length: 65535) == [0x81, 126, 0xFF, 0xFF])
    }

    @Test("lengths from 65536 use the 64-bit form")
    func sixtyFourBitLength() {
        #expect(header(.binary, length: 65536) == [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0])
    }

    @Test("fin false leaves the FIN bit clear; server frames are never masked")
    func finBitAndNoMask() {
        #expect(header(.text, fin: false, length: 3) == [0x01, 3])
        #expect(header(.pong, length: 3)[1] & 0x80 == 0)
    }

    @Test("close payload is the big-endian code followed by the reason")
    func closePayload() {
        #expect(WebSocketFrameEncoder.closePayload(code: 1001, reason: "Going away") == [0x03, 0xE9] + Array("Going away".utf8))
    }

    @Test("a long reason is cut to 125 bytes without splitting a character")
    func closePayloadTruncatedAtBoundary() {
        let reason = String(repeating: "a", count: 122) + "é"      // é is 2 bytes: 124 + 2 = 126 > 125
        let payload = WebSocketFrameEncoder.closePayload(code: 1000, reason: reason)
        #expect(payload.count == 124)
        #expect(String(validating: payload[2...], as: UTF8.self) != nil)
    }

    @Test("the encoder's frames decode back, once masked as a client would")
    func roundTripThroughDecoder() {
        let payload = [UInt8](repeating: 0x5A, count: 70_000)
        let head = header(.binary, length: payload.count)
        #expect(head.count == 10)
        let frame = ClientFrame.make(.binary, payload)
        #expect(Array(frame[2..<10]) == Array(head[2..<10]))
        #expect(DecoderHarness.decode([frame], mode: .allInOneRead) == [.message(.binary, payload)])
    }
}
