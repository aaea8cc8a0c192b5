/// What `WebSocketFrameDecoder.next` found in the bytes fed so far.
///
/// Payload pointers are borrowed: they point either into the caller's read buffer or into the
/// decoder's own accumulation buffer, and are valid only until the next call to `next`.
public enum WebSocketEvent {
    /// A complete data message (opcode .text or .binary). The pointer is valid only until the next call to `next`.
    case message(opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer)
    case ping(UnsafeRawBufferPointer)
    case pong(UnsafeRawBufferPointer)
    /// A valid close frame. code nil = empty payload (peer sent no status). reason already UTF-8-validated.
    case close(code: UInt16?, reason: UnsafeRawBufferPointer)
    /// The peer broke the protocol: the gateway sends a close frame with `code` and `reason` then closes.
    /// Decoder is dead afterwards.
    case failure(code: WebSocketCloseCode, reason: StaticString)
    /// All of the input was consumed; feed the next read.
    case needMore
}
