/// API Gateway's `eventType` values.
public enum IntegrationEventType: String, Sendable {
    case connect = "CONNECT"
    case message = "MESSAGE"
    case disconnect = "DISCONNECT"
}

/// What an integration may learn about the connection an event belongs to. The gateway's
/// connection implements it; integrations read only what they need, so nothing is formatted
/// on the hot path unless an integration asks for it.
public protocol ConnectionContext: AnyObject {
    var connectionId: ConnectionID { get }
    /// Epoch milliseconds (API Gateway's `connectedAt`).
    var connectedAtMs: Int64 { get }
    var sourceIp: String { get }
    var userAgent: String { get }
    /// The request's Host without port (API Gateway's `domainName`).
    var domainName: String { get }
    /// The authorizer's context as a JSON object text (`requestContext.authorizer`), when one ran.
    var authorizerJSON: String? { get }
    /// mTLS: the verified client certificate as the JSON object text of
    /// `requestContext.identity.clientCert`, when the client presented one.
    var clientCertJSON: String? { get }
}

extension ConnectionContext {
    public var clientCertJSON: String? { nil }
}

/// The handshake request as `$connect` integrations see it.
public struct ConnectRequestInfo: Sendable {
    public var headers: [(name: String, value: String)]
    public var rawQuery: String?
    /// Sec-WebSocket-Protocol tokens offered by the client, in order.
    public var subprotocols: [String]

    public init(headers: [(name: String, value: String)], rawQuery: String?, subprotocols: [String]) {
        self.headers = headers
        self.rawQuery = rawQuery
        self.subprotocols = subprotocols
    }
}

/// One CONNECT, MESSAGE or DISCONNECT event: everything API Gateway's WebSocket proxy event
/// carries, so an HTTP integration can build its JSON from it.
///
/// `body` points into the event loop's buffers and is valid only during `invoke`; an
/// integration that completes later copies what it needs.
public struct IntegrationEvent {
    public var type: IntegrationEventType
    public var routeKey: String
    public var connection: any ConnectionContext
    public var requestId: RequestID
    /// MESSAGE only (API Gateway's `messageId`).
    public var messageId: RequestID?
    /// Epoch milliseconds when the gateway received the request (`requestTimeEpoch`).
    public var requestTimeMs: Int64
    public var stage: String
    public var apiId: String
    public var body: UnsafeRawBufferPointer
    public var isBinary: Bool
    /// Set on CONNECT.
    public var connectRequest: ConnectRequestInfo?
    /// Set on DISCONNECT: the close code and reason (1006 and "" when TCP was lost).
    public var disconnectStatusCode: Int?
    public var disconnectReason: String?

    public init(type: IntegrationEventType, routeKey: String, connection: any ConnectionContext,
                requestId: RequestID, messageId: RequestID? = nil, requestTimeMs: Int64, stage: String, apiId: String,
                body: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0), isBinary: Bool = false,
                connectRequest: ConnectRequestInfo? = nil,
                disconnectStatusCode: Int? = nil, disconnectReason: String? = nil) {
        self.type = type
        self.routeKey = routeKey
        self.connection = connection
        self.requestId = requestId
        self.messageId = messageId
        self.requestTimeMs = requestTimeMs
        self.stage = stage
        self.apiId = apiId
        self.body = body
        self.isBinary = isBinary
        self.connectRequest = connectRequest
        self.disconnectStatusCode = disconnectStatusCode
        self.disconnectReason = disconnectReason
    }
}
