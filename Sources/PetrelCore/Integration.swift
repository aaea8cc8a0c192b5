/// What an integration answers for one event.
public enum IntegrationReply: Sendable {
    /// Nothing goes back to the client (or, on CONNECT, the connection is accepted).
    case none
    /// Send the message back exactly as received (the mock `echo` mode).
    case echo
    /// A response: on CONNECT a 2xx status accepts (with an optional subprotocol) and anything
    /// else rejects the handshake with that status; on MESSAGE the body goes to the client when
    /// the route has `respond: true`.
    case response(status: Int, body: [UInt8], headers: [(String, String)], subprotocol: String?)
    /// The integration answers later, on the connection's loop (outbound HTTP integrations).
    case pending
}

/// A backend behind routes. Called on the connection's event loop; must not block.
public protocol Integration: AnyObject, Sendable {
    func invoke(_ event: borrowing IntegrationEvent) -> IntegrationReply
}
