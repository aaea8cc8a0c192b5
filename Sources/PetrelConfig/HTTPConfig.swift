/// Key `http`.
public struct HTTPConfig: Sendable, Equatable {
    /// Route key (`METHOD /path/{param}/{greedy+}`, `ANY /path` or `$default`) → route.
    public var routes: [String: HTTPRouteConfig]
    public var cors: CORSConfig?

    public init(routes: [String: HTTPRouteConfig] = [:], cors: CORSConfig? = nil) {
        self.routes = routes
        self.cors = cors
    }

    /// Methods a route key may start with.
    public static let routeMethods: Set<String> = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY"]
}

/// One entry of `http.routes`.
public struct HTTPRouteConfig: Sendable, Equatable {
    public var integration: String
    public var authorizer: String?
    public var throttle: RateLimitConfig?
    /// JWT scopes of which the token must hold at least one (empty = no scope check).
    public var scopes: [String]
    /// Key `api_key_required`: the request must carry a configured `x-api-key` (API Gateway
    /// REST's `apiKeyRequired`); its usage plan's throttle and quota then apply.
    public var apiKeyRequired: Bool
    /// Key `access_keys`: with a `sigv4` authorizer, the access key ids this route accepts
    /// (empty = every key of the authorizer).
    public var accessKeys: [String]
    /// Key `validation`: API Gateway REST's request validator for this route.
    public var validation: RouteValidationConfig?

    public init(integration: String, authorizer: String? = nil, throttle: RateLimitConfig? = nil, scopes: [String] = [],
                apiKeyRequired: Bool = false, accessKeys: [String] = [], validation: RouteValidationConfig? = nil) {
        self.integration = integration
        self.authorizer = authorizer
        self.throttle = throttle
        self.scopes = scopes
        self.apiKeyRequired = apiKeyRequired
        self.accessKeys = accessKeys
        self.validation = validation
    }
}

/// Key `http.routes.*.validation`: required query parameters and headers (400 `Missing required
/// request parameters: [...]`), and a JSON Schema for the body (400 `Invalid request body`).
public struct RouteValidationConfig: Sendable, Equatable {
    /// Key `query`: query parameters that must be present and non-empty (case-sensitive).
    public var query: [String]
    /// Key `headers`: headers that must be present and non-empty (case-insensitive).
    public var headers: [String]
    /// Key `body` (inline YAML) or `body_file` (a JSON file): the schema, as JSON text. Its
    /// keywords are checked when the gateway builds its route table.
    public var bodySchemaJSON: String?

    public init(query: [String] = [], headers: [String] = [], bodySchemaJSON: String? = nil) {
        self.query = query
        self.headers = headers
        self.bodySchemaJSON = bodySchemaJSON
    }
}

/// Key `http.cors`.
public struct CORSConfig: Sendable, Equatable {
    public var allowOrigins: [String]
    public var allowMethods: [String]
    public var allowHeaders: [String]
    /// Seconds.
    public var maxAge: Int?
    /// Key `expose_headers`: response headers scripts may read.
    public var exposeHeaders: [String]
    /// Key `allow_credentials`: `access-control-allow-credentials: true` (the origin is then
    /// echoed, never `*`).
    public var allowCredentials: Bool

    public init(allowOrigins: [String] = [], allowMethods: [String] = [], allowHeaders: [String] = [], maxAge: Int? = nil,
                exposeHeaders: [String] = [], allowCredentials: Bool = false) {
        self.allowOrigins = allowOrigins
        self.allowMethods = allowMethods
        self.allowHeaders = allowHeaders
        self.maxAge = maxAge
        self.exposeHeaders = exposeHeaders
        self.allowCredentials = allowCredentials
    }
}

/// Key `api_keys` (API Gateway REST's API keys and usage plans): clients send a key in
/// `x-api-key` on routes with `api_key_required: true`.
public struct APIKeysConfig: Sendable, Equatable {
    /// Key `keys`, plus the lines of `keys_file` (`VALUE PLAN [ID]`, `#` comments).
    public var keys: [APIKeyConfig]
    /// Key `plans`: name → plan.
    public var plans: [String: UsagePlanConfig]

    public init(keys: [APIKeyConfig] = [], plans: [String: UsagePlanConfig] = [:]) {
        self.keys = keys
        self.plans = plans
    }
}

public struct APIKeyConfig: Sendable, Equatable {
    /// Names the key in logs and events (`identity.apiKeyId`); defaults to `key-N`.
    public var id: String
    /// The secret clients send (`value` or `value_file`).
    public var value: String
    /// The usage plan it belongs to.
    public var plan: String

    public init(id: String, value: String, plan: String) {
        self.id = id
        self.value = value
        self.plan = plan
    }
}

/// One usage plan: a token bucket per key and a quota per key.
public struct UsagePlanConfig: Sendable, Equatable {
    public var throttle: RateLimitConfig?
    public var quota: QuotaConfig?

    public init(throttle: RateLimitConfig? = nil, quota: QuotaConfig? = nil) {
        self.throttle = throttle
        self.quota = quota
    }
}

/// Key `quota`: at most `limit` requests per `period` (`day`, `week` or `month`, UTC).
public struct QuotaConfig: Sendable, Equatable {
    public var limit: Int
    public var period: QuotaPeriod

    public init(limit: Int, period: QuotaPeriod) {
        self.limit = limit
        self.period = period
    }
}

public enum QuotaPeriod: String, Sendable, Equatable, CaseIterable {
    case day, week, month
}
