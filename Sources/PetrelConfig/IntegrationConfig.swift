/// One entry of `integrations`.
public struct IntegrationConfig: Sendable, Equatable {
    public var type: IntegrationType
    /// `http` and `http_proxy` only (required there). `${stageVariables.name}` is already
    /// substituted.
    public var url: String?
    /// API Gateway's 29 s integration timeout.
    public var timeout: Milliseconds
    /// `timeout` was written in the file. HTTP routes then use it; otherwise they use API
    /// Gateway HTTP APIs' 30 s (`httpRouteTimeout`).
    public var timeoutGiven = false

    /// The timeout on HTTP routes: the configured one, else 30 s (HTTP APIs' maximum and default).
    public var httpRouteTimeout: Milliseconds { timeoutGiven ? timeout : 30_000 }
    /// `mock` only: `echo` answers with the message itself.
    public var mode: MockMode?
    /// `mock` only: the status to answer; `nil` means 200.
    public var status: Int?
    /// `mock` only: may name `${context.connectionId}`, `${context.requestId}`,
    /// `${context.routeKey}` and `${context.stage}`, substituted per request.
    public var body: String?
    /// `mock`: response headers. `http`, `http_proxy`: request headers added for the backend
    /// (replacing a client's header of the same name).
    public var headers: [String: String]

    public init(
        type: IntegrationType, url: String? = nil, timeout: Milliseconds = 29_000, mode: MockMode? = nil,
        status: Int? = nil, body: String? = nil, headers: [String: String] = [:]
    ) {
        self.type = type
        self.url = url
        self.timeout = timeout
        self.mode = mode
        self.status = status
        self.body = body
        self.headers = headers
    }
}

extension IntegrationConfig {
    /// `headers` in a stable order (by name).
    public var sortedHeaders: [(String, String)] { headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
}

public enum IntegrationType: String, Sendable, Equatable, CaseIterable {
    case mock
    case http
    case httpProxy = "http_proxy"
}

public enum MockMode: String, Sendable, Equatable, CaseIterable {
    case echo
}
