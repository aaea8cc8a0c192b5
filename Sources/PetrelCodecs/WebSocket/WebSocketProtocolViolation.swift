/// Every way a client can break RFC 6455, with the close code and reason the server answers.
/// One table, so logs, docs and tests name the same things.
struct WebSocketProtocolViolation: Error {
    let code: WebSocketCloseCode
    let reason: StaticString

    var event: WebSocketEvent { .failure(code: code, reason: reason) }

    /// §5.1: "a client MUST mask all frames that it sends to the server".
    static let unmaskedFrame = Self(code: .protocolError, reason: "Client frame not masked")
    /// §5.2: RSV1-3 MUST be 0 unless an extension defines them; we negotiate none.
    static let reservedBitsSet = Self(code: .protocolError, reason: "Reserved bits set")
    /// §5.2: opcodes 3-7 and 0xB-0xF are reserved.
    static let reservedOpcode = Self(code: .protocolError, reason: "Reserved opcode")
    /// §5.5: control frames carry at most 125 bytes.
    static let controlFrameTooLong = Self(code: .protocolError, reason: "Control frame payload over 125 bytes")
    /// §5.5: control frames MUST NOT be fragmented.
    static let fragmentedControlFrame = Self(code: .protocolError, reason: "Fragmented control frame")
    /// §5.4: a continuation frame only continues a message that was started.
    static let continuationWithoutMessage = Self(code: .protocolError, reason: "Continuation frame without a message")
    /// §5.4: fragments of one message are not interleaved with another data message.
    static let dataFrameInsideFragmentedMessage = Self(code: .protocolError, reason: "New data frame inside a fragmented message")
    /// §5.2: "the most significant bit MUST be 0" in the 64-bit length.
    static let payloadLengthMSBSet = Self(code: .protocolError, reason: "Payload length has its most significant bit set")
    /// §5.5.1: a close body is empty or starts with a 2-byte code.
    static let oneByteClosePayload = Self(code: .protocolError, reason: "Close frame payload of 1 byte")
    /// §7.4.1/§7.4.2: only registered or application codes may be sent.
    static let invalidCloseCode = Self(code: .protocolError, reason: "Invalid close code")
    /// §5.5.1: the close reason is UTF-8; §8.1 says invalid UTF-8 fails the connection with 1007.
    static let invalidCloseReason = Self(code: .invalidPayload, reason: "Close reason is not valid UTF-8")
    /// §5.6/§8.1: text messages are UTF-8, checked as bytes arrive.
    static let invalidTextPayload = Self(code: .invalidPayload, reason: "Text message is not valid UTF-8")
    /// §7.4.1 1009: the configured `max_frame_bytes` limit.
    static let frameTooBig = Self(code: .messageTooBig, reason: "Frame too big")
    /// §7.4.1 1009: the configured `max_message_bytes` limit.
    static let messageTooBig = Self(code: .messageTooBig, reason: "Message too big")
}
