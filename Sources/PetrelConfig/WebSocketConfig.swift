/// Key `websocket`.
public struct WebSocketConfig: Sendable, Equatable {
    /// Upgrade path; starts with `/`.
    public var path: String
    /// Key `route_selection`: API Gateway's `routeSelectionExpression`. Its grammar is checked by
    /// `PetrelCodecs.RouteSelectionExpression` when the gateway builds its route table.
    public var routeSelection: String
    /// Key `allowed_origins`; empty = any `Origin`.
    public var allowedOrigins: [String]
    public var limits: WebSocketLimits
    /// Route key (`$connect`, `$disconnect`, `$default` or a custom key) → route.
    public var routes: [String: WebSocketRouteConfig]

    public init(
        path: String = "/", routeSelection: String = "$request.body.action", allowedOrigins: [String] = [],
        limits: WebSocketLimits = WebSocketLimits(), routes: [String: WebSocketRouteConfig] = [:]
    ) {
        self.path = path
        self.routeSelection = routeSelection
        self.allowedOrigins = allowedOrigins
        self.limits = limits
        self.routes = routes
    }
}

/// Key `websocket.limits` (DESIGN §3, §4). Every limit is positive; the optional ones are off when `nil`.
public struct WebSocketLimits: Sendable, Equatable {
    /// 128 KiB rather than API Gateway's 32 KB frame limit: chat payloads with metadata exceed 32 KB.
    public var maxMessageBytes: Int = 131_072
    public var maxFrameBytes: Int = 131_072
    /// Closed with 1001 after this long.
    public var maxConnectionDuration: Milliseconds = 2 * 3_600_000
    /// Closed with 1001 after this long without a frame from the client.
    public var idleTimeout: Milliseconds = 10 * 60_000
    /// New connections per second, per node; past it the handshake gets 429.
    public var connectRate: RateLimitConfig? = nil
    /// Key `send_buffer_bytes`: past it a slow client is closed with 1008.
    public var sendBufferBytes: Int = 1_048_576
    /// Key `max_pending_messages`: messages waiting for integrations, per connection.
    public var maxPendingMessages: Int = 64
    /// Key `handshake_timeout`.
    public var handshakeTimeout: Milliseconds = 10_000
    /// Key `max_header_bytes`: request headers past it get 431.
    public var maxHeaderBytes: Int = 8192
    /// Key `max_body_bytes`: a public HTTP request body past it gets 413 (API Gateway's 10 MB
    /// payload limit by default; `http_proxy` routes stream bodies, so raising it costs no memory).
    public var maxBodyBytes: Int = 10 * 1024 * 1024
    /// Key `max_connections`: node-wide cap.
    public var maxConnections: Int? = nil
    /// Key `max_connections_per_ip`.
    public var maxConnectionsPerIP: Int? = nil

    public init() {}
}

/// One entry of `websocket.routes`.
public struct WebSocketRouteConfig: Sendable, Equatable {
    /// Name of an entry in `integrations`.
    public var integration: String
    /// Name of an entry in `authorizers`; `$connect` only, as in API Gateway.
    public var authorizer: String?
    /// Send the integration's response body back to the client as one message.
    public var respond: Bool

    public init(integration: String, authorizer: String? = nil, respond: Bool = false) {
        self.integration = integration
        self.authorizer = authorizer
        self.respond = respond
    }
}
