/// The verdict on an opening handshake request (RFC 6455 §4.2.1, §4.2.2).
public enum WebSocketHandshakeOutcome: Sendable {
    /// Answer 101 with `Sec-WebSocket-Accept` computed from `key` (SHA-1 lives in PetrelCrypto).
    /// `protocols` = Sec-WebSocket-Protocol tokens in order, may be empty.
    case accept(key: String, protocols: [String])
    /// Answer `status` with `extraHeaders` and close.
    case reject(status: Int, reason: String, extraHeaders: [(String, String)])
}
