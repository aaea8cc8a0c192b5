import Testing
@testable import PetrelLoadTestKit

@Test(arguments: [0, 1, 7, 8, 9, 125, 126, 1000, 65_535, 65_536])
func maskedFramesUnmaskToThePayload(size: Int) {
    let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
    let key: UInt32 = 0xA1B2_C3D4
    var out = [UInt8](repeating: 0, count: ClientFrameWriter.frameSize(payloadLength: size))
    let written = out.withUnsafeMutableBytes { dst in
        payload.withUnsafeBytes { ClientFrameWriter.write(into: dst.baseAddress!, opcode: 2, payload: $0, key: key) }
    }
    #expect(written == out.count)
    #expect(out[0] == 0x82)
    #expect(out[1] & 0x80 == 0x80, "client frames are masked (RFC 6455 §5.3)")
    let headerLength = size <= 125 ? 2 : (size <= 0xFFFF ? 4 : 10)
    let keyBytes = Array(out[headerLength..<(headerLength + 4)])
    let body = out[(headerLength + 4)...].enumerated().map { $0.element ^ keyBytes[$0.offset % 4] }
    #expect(body == payload)
    switch out[1] & 0x7F {
    case 126: #expect(Int(out[2]) << 8 | Int(out[3]) == size)
    case 127: #expect(out[2..<10].reduce(0) { $0 << 8 | Int($1) } == size)
    default: #expect(Int(out[1] & 0x7F) == size)
    }
}
