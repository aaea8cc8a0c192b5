/// Why an integration produced no usable answer.
public enum IntegrationFailure: Sendable, Equatable {
    /// No answer within the integration's timeout (`$connect`: 504).
    case timeout
    /// The backend could not be reached (`$connect`: 502).
    case unreachable
    /// It answered with something unusable: a 5xx, a malformed response (`$connect`: 502).
    case badResponse
}

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
    /// The call failed: the client gets API Gateway's `Internal server error` frame (MESSAGE) or
    /// a 502/504 on the handshake (CONNECT).
    case failure(IntegrationFailure)
    /// The answer comes later, through the `IntegrationCompletion` passed to `invoke`.
    case pending
}

/// Receives answers of integrations that returned `.pending`. The gateway's per-loop worker.
public protocol IntegrationCompletionTarget: AnyObject {
    func integrationCompleted(token: UInt64, reply: IntegrationReply)
}

/// How a pending integration reports back: a target and a token, so handing it over costs no
/// allocation. Call it exactly once, on the loop that invoked the integration.
public struct IntegrationCompletion {
    public unowned(unsafe) let target: any IntegrationCompletionTarget
    public let token: UInt64

    public init(target: any IntegrationCompletionTarget, token: UInt64) {
        self.target = target
        self.token = token
    }

    public func callAsFunction(_ reply: IntegrationReply) {
        target.integrationCompleted(token: token, reply: reply)
    }
}

/// Per-loop services an integration may need (the loop's HTTP client). Integrations that need one
/// downcast to the gateway's concrete type; pure ones ignore it.
public protocol IntegrationServices: AnyObject {}

/// A backend behind routes. Called on the connection's event loop; must not block.
public protocol Integration: AnyObject, Sendable {
    func invoke(_ event: borrowing IntegrationEvent, services: any IntegrationServices,
                completion: IntegrationCompletion) -> IntegrationReply
}
