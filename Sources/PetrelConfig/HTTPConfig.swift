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

    public init(integration: String, authorizer: String? = nil, throttle: RateLimitConfig? = nil, scopes: [String] = []) {
        self.integration = integration
        self.authorizer = authorizer
        self.throttle = throttle
        self.scopes = scopes
    }
}

/// Key `http.cors`.
public struct CORSConfig: Sendable, Equatable {
    public var allowOrigins: [String]
    public var allowMethods: [String]
    public var allowHeaders: [String]
    /// Seconds.
    public var maxAge: Int?

    public init(allowOrigins: [String] = [], allowMethods: [String] = [], allowHeaders: [String] = [], maxAge: Int? = nil) {
        self.allowOrigins = allowOrigins
        self.allowMethods = allowMethods
        self.allowHeaders = allowHeaders
        self.maxAge = maxAge
    }
}
