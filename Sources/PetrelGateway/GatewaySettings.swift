import PetrelCodecs
import PetrelConfig
import PetrelCore
import PetrelCrypto

/// The running configuration, built once from a validated `PetrelConfig` and then read-only.
/// A reload builds a new one and each loop swaps its reference (DESIGN §2, SIGHUP).
public final class GatewaySettings: Sendable {
    public struct WebSocketRoute: Sendable {
        public let key: String
        public let integration: any Integration
        /// Send the integration's response body back to the client (API Gateway's two-way route).
        public let respond: Bool
        /// This route's number for per-route metrics (`MetricRoutes`).
        public internal(set) var metricIndex = 0
    }

    public struct Limits: Sendable {
        public let maxMessageBytes: Int
        public let maxFrameBytes: Int
        public let maxConnectionDurationMs: Int64
        public let idleTimeoutMs: Int64
        public let handshakeTimeoutMs: Int64
        public let maxHeaderBytes: Int
        /// Public HTTP request bodies (413 past it).
        public let maxBodyBytes: Int
        public let sendBufferBytes: Int
        public let maxPendingMessages: Int
        public let connectRate: RateLimitConfig?
        /// How long to wait for the peer's close frame, and to drain it, before dropping TCP.
        public let closeTimeoutMs: Int64 = 2000
    }

    public let stage: String
    /// `/{stage}`, built once: every request's path is checked for it.
    private let stagePathPrefix: String
    public let apiId: String
    public let webSocketPath: String
    public let routeSelection: RouteSelectionExpression
    public let routes: [String: WebSocketRoute]
    public let connectRoute: WebSocketRoute?
    public let disconnectRoute: WebSocketRoute?
    public let defaultRoute: WebSocketRoute?
    public let allowedOrigins: [String]
    /// HTTP routes: the frozen route table, CORS, throttles, API keys (HTTPAPI/HTTPAPI.swift).
    let httpAPI: HTTPAPI
    public let limits: Limits
    let adminAuth: AdminAuth
    /// Each listener's PROXY protocol, trusted proxies, IP rules and caps (ClientAddressPolicy.swift).
    let publicClientAddresses: ClientAddressPolicy
    let adminClientAddresses: ClientAddressPolicy
    /// The authorizer on `$connect` (the only route API Gateway lets authorizers guard).
    let connectAuthorizer: ConnectAuthorizer?

    public struct BuildError: Error, CustomStringConvertible {
        public let description: String
        /// The file is valid, but this build cannot run something it asks for yet.
        public var isUnavailableFeature = false
    }

    public init(_ config: PetrelConfig) throws(BuildError) {
        stage = config.stage
        stagePathPrefix = "/" + config.stage
        apiId = config.apiId
        webSocketPath = config.websocket.path
        do {
            routeSelection = try RouteSelectionExpression(parsing: config.websocket.routeSelection)
        } catch {
            throw BuildError(description: "websocket.route_selection: \(error)")
        }
        var integrations: [String: any Integration] = [:]
        for (name, integration) in config.integrations {
            switch integration.type {
            case .mock:
                if integration.mode == .echo {
                    integrations[name] = MockIntegration(mode: .echo)
                } else {
                    let headers = integration.sortedHeaders
                    integrations[name] = MockIntegration(mode: .fixed(status: integration.status ?? 200,
                                                                      body: ContextTemplate(integration.body ?? ""),
                                                                      headers: headers))
                }
            case .http:
                integrations[name] = HTTPIntegration(url: integration.url ?? "", timeoutMs: integration.timeout, headers: integration.sortedHeaders)
            case .httpProxy:
                // HTTP routes only (`HTTPAPI` builds them); the config refuses them on WebSocket routes.
                continue
            }
        }
        var routes: [String: WebSocketRoute] = [:]
        for (key, route) in config.websocket.routes {
            guard let integration = integrations[route.integration] else {
                throw BuildError(description: "websocket.routes.\(key).integration: no integration named \(route.integration)")
            }
            routes[key] = WebSocketRoute(key: key, integration: integration, respond: route.respond)
        }
        MetricRoutes.number(&routes)
        connectRoute = routes["$connect"]
        if let name = config.websocket.routes["$connect"]?.authorizer {
            guard let authorizer = config.authorizers[name] else {
                throw BuildError(description: "websocket.routes.$connect.authorizer: no authorizer named \(name)")
            }
            let identity = try IdentitySource(authorizer.identitySource)
            switch authorizer.type {
            case .jwt:
                do {
                    let verifier = try JWTVerifier.load(jwksFile: authorizer.jwksFile, hs256Secret: authorizer.secret,
                                                        issuer: authorizer.issuer, audiences: authorizer.audiences)
                    connectAuthorizer = .jwt(JWTAuthorizer(verifier: verifier, identitySource: identity))
                } catch {
                    throw BuildError(description: "authorizers.\(name): \(error)")
                }
            case .http:
                connectAuthorizer = .http(HTTPAuthorizer(url: authorizer.url ?? "", timeoutMs: authorizer.timeout ?? 10_000,
                                                         cacheTTLMs: authorizer.cacheTTL, identitySource: identity))
            case .sigv4:
                throw BuildError(description: "websocket.routes.$connect.authorizer: \(name) is a sigv4 authorizer, which guards HTTP routes only")
            }
        } else {
            connectAuthorizer = nil
        }
        disconnectRoute = routes["$disconnect"]
        defaultRoute = routes["$default"]
        self.routes = routes.filter { !$0.key.hasPrefix("$") }
        allowedOrigins = config.websocket.allowedOrigins
        httpAPI = try HTTPAPI(config)
        adminAuth = AdminAuth(config.listeners.admin.auth)
        publicClientAddresses = ClientAddressPolicy(config.listeners.public, limits: config.websocket.limits)
        adminClientAddresses = ClientAddressPolicy(config.listeners.admin, limits: nil)
        let l = config.websocket.limits
        limits = Limits(maxMessageBytes: l.maxMessageBytes, maxFrameBytes: l.maxFrameBytes,
                        maxConnectionDurationMs: l.maxConnectionDuration, idleTimeoutMs: l.idleTimeout,
                        handshakeTimeoutMs: l.handshakeTimeout, maxHeaderBytes: l.maxHeaderBytes,
                        maxBodyBytes: l.maxBodyBytes, sendBufferBytes: l.sendBufferBytes, maxPendingMessages: l.maxPendingMessages,
                        connectRate: l.connectRate)
    }

    /// API Gateway's route selection: the evaluated key's route, else `$default`, else nil.
    @inline(__always)
    func selectRoute(_ message: UnsafeRawBufferPointer) -> WebSocketRoute? {
        if routes.isEmpty { return defaultRoute }
        switch routeSelection.evaluate(message) {
        case .key(let key): return routes[key] ?? defaultRoute
        case .notEvaluable: return defaultRoute
        }
    }

    /// Strips an optional leading `/{stage}` segment (DESIGN §4, Stage).
    func pathWithoutStage(_ path: String) -> String {
        if stage != "$default", path.hasPrefix(stagePathPrefix) {
            let rest = path.dropFirst(stagePathPrefix.count)
            if rest.isEmpty { return "/" }
            if rest.first == "/" { return String(rest) }
        }
        return path
    }
}
