/// The fixed part of a frame header (RFC 6455 §5.2), decoded from its 2 to 14 bytes.
struct WebSocketFrameHeader {
    var fin: Bool
    var opcode: WebSocketOpcode
    var payloadLength: UInt64
    /// Masking key octets in wire order, as loaded from memory.
    var maskingKey: UInt32

    /// Checks what the first two header bytes alone can tell, so a bad frame fails before the rest
    /// of its header arrives. Returns nil when the bytes are acceptable.
    static func violation(firstByte: UInt8, secondByte: UInt8) -> WebSocketProtocolViolation? {
        if firstByte & 0x70 != 0 { return .reservedBitsSet }
        guard let opcode = WebSocketOpcode(rawValue: firstByte & 0x0F) else { return .reservedOpcode }
        if secondByte & 0x80 == 0 { return .unmaskedFrame }
        if opcode.isControl {
            if firstByte & 0x80 == 0 { return .fragmentedControlFrame }
            // Lengths 126 and 127 announce an extended length, necessarily over 125.
            let shortLength = secondByte & 0x7F
            if shortLength > 125 { return .controlFrameTooLong }
            if opcode == .close && shortLength == 1 { return .oneByteClosePayload }
        }
        return nil
    }

    /// Total header size (including the masking key) announced by the second byte.
    static func headerLength(secondByte: UInt8) -> Int {
        let maskLength = secondByte & 0x80 != 0 ? 4 : 0
        switch secondByte & 0x7F {
        case 126: return 2 + 2 + maskLength
        case 127: return 2 + 8 + maskLength
        default: return 2 + maskLength
        }
    }

    /// Decodes a complete header whose first two bytes already passed `violation(firstByte:secondByte:)`.
    ///
    /// Non-minimal length encodings (e.g. 5 written in the 16-bit form) are accepted: §5.2 puts the
    /// "minimal number of bytes" duty on the sender, gives the receiver no rule, and Autobahn does not
    /// test it; rejecting would only break sloppy clients. The 64-bit form with its MSB set is
    /// rejected (§5.2 "the most significant bit MUST be 0").
    static func decode(_ bytes: UnsafeRawPointer) -> Result<WebSocketFrameHeader, WebSocketProtocolViolation> {
        let firstByte = bytes.load(as: UInt8.self)
        let secondByte = bytes.load(fromByteOffset: 1, as: UInt8.self)
        var length = UInt64(secondByte & 0x7F)
        var cursor = 2
        if length == 126 {
            length = UInt64(bytes.load(fromByteOffset: 2, as: UInt8.self)) << 8
                | UInt64(bytes.load(fromByteOffset: 3, as: UInt8.self))
            cursor = 4
        } else if length == 127 {
            length = 0
            for index in 2..<10 {
                length = length << 8 | UInt64(bytes.load(fromByteOffset: index, as: UInt8.self))
            }
            if length & (1 << 63) != 0 { return .failure(.payloadLengthMSBSet) }
            cursor = 10
        }
        let key = bytes.loadUnaligned(fromByteOffset: cursor, as: UInt32.self)
        return .success(WebSocketFrameHeader(
            fin: firstByte & 0x80 != 0,
            opcode: WebSocketOpcode(rawValue: firstByte & 0x0F)!,
            payloadLength: length,
            maskingKey: key))
    }
}
