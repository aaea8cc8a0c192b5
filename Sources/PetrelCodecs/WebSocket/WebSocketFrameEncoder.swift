/// Writes server frames. Server frames are never masked (RFC 6455 §5.1), so a header is 2, 4 or 10
/// bytes and the payload goes out as is, straight from the caller's buffer.
public enum WebSocketFrameEncoder {
    public static let maxHeaderSize = 10

    /// Writes a FIN frame header for `payloadLength` bytes of `opcode` at `into`; returns header bytes
    /// written (2, 4 or 10). Lengths use the minimal encoding, as §5.2 requires of senders.
    @inlinable
    public static func writeHeader(
        into destination: UnsafeMutableRawPointer, opcode: WebSocketOpcode, fin: Bool = true, payloadLength: Int
    ) -> Int {
        precondition(payloadLength >= 0, "negative payload length")
        destination.storeBytes(of: (fin ? 0x80 : 0) | opcode.rawValue, as: UInt8.self)
        if payloadLength <= 125 {
            destination.storeBytes(of: UInt8(truncatingIfNeeded: payloadLength), toByteOffset: 1, as: UInt8.self)
            return 2
        }
        if payloadLength <= 0xFFFF {
            destination.storeBytes(of: 126, toByteOffset: 1, as: UInt8.self)
            destination.storeBytes(of: UInt16(truncatingIfNeeded: payloadLength).bigEndian, toByteOffset: 2, as: UInt16.self)
            return 4
        }
        destination.storeBytes(of: 127, toByteOffset: 1, as: UInt8.self)
        destination.storeBytes(of: UInt64(payloadLength).bigEndian, toByteOffset: 2, as: UInt64.self)
        return 10
    }

    /// Close frame payload: 2-byte code big-endian + reason truncated to stay ≤ 125 bytes at a UTF-8
    /// boundary (§5.5: control payloads ≤ 125 bytes; §5.5.1: the reason must stay valid UTF-8).
    public static func closePayload(code: UInt16, reason: String) -> [UInt8] {
        let maxReasonBytes = 125 - 2
        var payload: [UInt8] = []
        payload.reserveCapacity(2 + Swift.min(reason.utf8.count, maxReasonBytes))
        payload.append(UInt8(code >> 8))
        payload.append(UInt8(code & 0xFF))
        let utf8 = Array(reason.utf8)
        var reasonLength = Swift.min(utf8.count, maxReasonBytes)
        // Back up over continuation bytes (10xxxxxx) so a scalar is never cut in half.
        if reasonLength < utf8.count {
            while reasonLength > 0 && utf8[reasonLength] & 0xC0 == 0x80 {
                reasonLength -= 1
            }
        }
        payload.append(contentsOf: utf8[..<reasonLength])
        return payload
    }
}
