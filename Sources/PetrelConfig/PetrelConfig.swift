/// Durations in the configuration are whole milliseconds.
public typealias Milliseconds = Int64

/// The whole configuration (DESIGN §3), as loaded and validated by ``ConfigLoader``.
/// Every property has the default that applies when its key is omitted.
public struct PetrelConfig: Sendable, Equatable {
    public var node: NodeConfig
    /// Optional first path segment on both listeners; `$default` means no stage segment.
    public var stage: String
    /// Key `api_id`: the `apiId` that events carry.
    public var apiId: String
    public var listeners: ListenersConfig
    public var registry: RegistryConfig
    public var websocket: WebSocketConfig
    public var http: HTTPConfig
    public var integrations: [String: IntegrationConfig]
    public var authorizers: [String: AuthorizerConfig]
    /// Per node, all routes; `nil` = off.
    public var throttling: RateLimitConfig?
    /// `nil` = off.
    public var accessLog: AccessLogConfig?
    /// Key `api_keys`; `nil` = no API keys.
    public var apiKeys: APIKeysConfig?
    /// Key `stage_variables`: name → value, substituted for `${stageVariables.name}` in
    /// integration URLs and headers when the file is loaded, and passed in HTTP API events.
    public var stageVariables: [String: String] = [:]

    public init(
        node: NodeConfig = NodeConfig(),
        stage: String = "$default",
        apiId: String = "petrel",
        listeners: ListenersConfig = ListenersConfig(),
        registry: RegistryConfig = RegistryConfig(),
        websocket: WebSocketConfig = WebSocketConfig(),
        http: HTTPConfig = HTTPConfig(),
        integrations: [String: IntegrationConfig] = [:],
        authorizers: [String: AuthorizerConfig] = [:],
        throttling: RateLimitConfig? = nil,
        accessLog: AccessLogConfig? = nil
    ) {
        self.node = node
        self.stage = stage
        self.apiId = apiId
        self.listeners = listeners
        self.registry = registry
        self.websocket = websocket
        self.http = http
        self.integrations = integrations
        self.authorizers = authorizers
        self.throttling = throttling
        self.accessLog = accessLog
    }
}

/// Key `node`.
public struct NodeConfig: Sendable, Equatable {
    /// `nil`: the server picks `hostname-pid` at start.
    public var id: String?
    /// `nil` (`auto` or omitted): one loop thread per core.
    public var threads: Int?

    public init(id: String? = nil, threads: Int? = nil) {
        self.id = id
        self.threads = threads
    }
}

/// Key `registry`.
public struct RegistryConfig: Sendable, Equatable {
    /// `redis://`, `rediss://` or `unix://` URL; `nil` = the in-memory single-node registry.
    public var redis: String?

    public init(redis: String? = nil) {
        self.redis = redis
    }
}

/// A token bucket: `rate` tokens per second, at most `burst` at once.
public struct RateLimitConfig: Sendable, Equatable {
    public var rate: Double
    public var burst: Int

    public init(rate: Double, burst: Int) {
        self.rate = rate
        self.burst = burst
    }
}

/// Key `access_log`.
public struct AccessLogConfig: Sendable, Equatable {
    /// `stdout`, `stderr`, or a file path (made absolute against the config file's directory).
    public var path: String
    /// Only `json` for now.
    public var format: String
    /// Key `sample_rate`: the share of WebSocket messages that get a line, 0...1 (default 0: none).
    /// HTTP requests, connects and disconnects always get one.
    public var sampleRate: Double
    /// Key `fields`: the fields each line carries, in this order; default all of ``AccessLogField``.
    public var fields: [AccessLogField]

    public init(path: String, format: String = "json", sampleRate: Double = 0, fields: [AccessLogField] = AccessLogField.allCases) {
        self.path = path
        self.format = format
        self.sampleRate = sampleRate
        self.fields = fields
    }
}

/// The access log's fields, named as API Gateway's `$context` variables (DESIGN §9): the one
/// table that config validation, the log writer and the docs read.
public enum AccessLogField: String, Sendable, Equatable, CaseIterable {
    case requestId
    case requestTime
    case requestTimeEpoch
    case eventType
    case routeKey
    case connectionId
    case messageId
    case status
    case integrationLatency
    case responseLatency
    case sourceIp
    case userAgent
    case httpMethod
    case path
    case disconnectStatusCode
    case disconnectReason
    case errorMessage = "error.message"
    case traceparent
}
