import PetrelConfig
import PetrelCore
import PetrelCrypto
import Synchronization

/// The HTTP API half of the running configuration (DESIGN §8): the frozen route table with each
/// route's integration, authorizer, throttle and validator, plus CORS, the node-wide throttle and
/// the API keys. Built once per `GatewaySettings` and read-only after; a SIGHUP builds a new one
/// (token buckets and quotas then start afresh).
final class HTTPAPI: Sendable {
    /// A class, so selecting a route retains one object rather than each of its fields.
    final class Route: Sendable {
        let key: HTTPRouteKey
        /// This route's number for per-route metrics (`MetricRoutes`).
        let metricIndex: Int
        let integration: HTTPAPIIntegration
        let authorizer: RouteAuthorizer?
        /// JWT scopes of which the token must carry one (empty: none required).
        let scopes: [String]
        /// sigv4: the access key ids this route accepts; nil = all of the authorizer's.
        let accessKeys: Set<String>?
        let throttle: SharedTokenBucket?
        let apiKeyRequired: Bool
        let validator: HTTPRequestValidator?

        /// An `http_proxy` route that can take a request body as it arrives: not one whose
        /// authorizer (`sigv4` signs the body's hash) or validator (a body schema) needs it whole.
        var streamsRequestBody: Bool {
            guard case .proxy = integration, validator?.bodySchema == nil else { return false }
            if case .sigv4 = authorizer { return false }
            return true
        }

        init(key: HTTPRouteKey, metricIndex: Int, integration: HTTPAPIIntegration, authorizer: RouteAuthorizer?, scopes: [String],
             accessKeys: Set<String>?, throttle: SharedTokenBucket?, apiKeyRequired: Bool, validator: HTTPRequestValidator?) {
            self.key = key
            self.metricIndex = metricIndex
            self.integration = integration
            self.authorizer = authorizer
            self.scopes = scopes
            self.accessKeys = accessKeys
            self.throttle = throttle
            self.apiKeyRequired = apiKeyRequired
            self.validator = validator
        }
    }

    /// One selected route and where its parameters are in the path.
    struct RouteMatch {
        let route: Route
        fileprivate let found: HTTPRouter.Match

        /// Path parameter values as raw (still percent-encoded) text, in route-key order.
        func rawParameters(in path: String) -> [(name: String, value: String)] {
            found.parameters.isEmpty ? [] : found.rawParameters(in: path)
        }
    }

    let router: HTTPRouter
    /// What each of the router's keys does, by the router's route number.
    let routes: [Route]
    /// Some route streams request bodies: only then is a route chosen from a request's head
    /// before its body is read.
    let hasStreamingRoutes: Bool
    let cors: CORSPolicy?
    /// Key `throttling`: node-wide, every HTTP route.
    let throttle: SharedTokenBucket?
    let apiKeys: APIKeyTable?
    /// `stageVariables` of the events (a JSON object), nil when the config has none.
    let stageVariablesJSON: String?

    var isEmpty: Bool { router.count == 0 }

    init(_ config: PetrelConfig) throws(GatewaySettings.BuildError) {
        var authorizers: [String: RouteAuthorizer] = [:]
        func authorizer(_ name: String) throws(GatewaySettings.BuildError) -> RouteAuthorizer {
            if let built = authorizers[name] { return built }
            guard let settings = config.authorizers[name] else {
                throw GatewaySettings.BuildError(description: "authorizers: no authorizer named \(name)")
            }
            let built = try RouteAuthorizer(name: name, settings)
            authorizers[name] = built
            return built
        }
        var entries: [Route] = []
        for (text, route) in config.http.routes.sorted(by: { $0.key < $1.key }) {
            let at = "http.routes.\(text)"
            let key: HTTPRouteKey
            do { key = try HTTPRouteKey(parsing: text) } catch { throw GatewaySettings.BuildError(description: "\(at): \(error)") }
            guard let integrationConfig = config.integrations[route.integration] else {
                throw GatewaySettings.BuildError(description: "\(at).integration: no integration named \(route.integration)")
            }
            let integration = try HTTPAPIIntegration(integrationConfig, key: key, at: at)
            var validator: HTTPRequestValidator?
            if let validation = route.validation {
                var schema: JSONSchema?
                if let text = validation.bodySchemaJSON {
                    guard let json = JSONValue.parse(text) else {
                        throw GatewaySettings.BuildError(description: "\(at).validation.body: not JSON")
                    }
                    do { schema = try JSONSchema(json) } catch {
                        throw GatewaySettings.BuildError(description: "\(at).validation.body: \(error)")
                    }
                }
                validator = HTTPRequestValidator(requiredQuery: validation.query, requiredHeaders: validation.headers, bodySchema: schema)
            }
            let routeAuthorizer = try route.authorizer.map { name throws(GatewaySettings.BuildError) in try authorizer(name) }
            entries.append(Route(
                key: key, metricIndex: MetricRoutes.number(text), integration: integration,
                authorizer: routeAuthorizer, scopes: route.scopes,
                accessKeys: route.accessKeys.isEmpty ? nil : Set(route.accessKeys),
                throttle: route.throttle.map { SharedTokenBucket(rate: $0.rate, burst: $0.burst, nowMs: 0) },
                apiKeyRequired: route.apiKeyRequired, validator: validator))
        }
        routes = entries
        hasStreamingRoutes = entries.contains { $0.streamsRequestBody }
        do { router = try HTTPRouter(entries.map(\.key)) } catch { throw GatewaySettings.BuildError(description: "http.routes.\(error)") }
        cors = config.http.cors.map {
            CORSPolicy(allowOrigins: $0.allowOrigins, allowMethods: $0.allowMethods, allowHeaders: $0.allowHeaders,
                       exposeHeaders: $0.exposeHeaders, maxAge: $0.maxAge, allowCredentials: $0.allowCredentials)
        }
        throttle = config.throttling.map { SharedTokenBucket(rate: $0.rate, burst: $0.burst, nowMs: 0) }
        apiKeys = config.apiKeys.map(APIKeyTable.init)
        stageVariablesJSON = config.stageVariables.isEmpty ? nil
            : "{" + config.stageVariables.sorted { $0.key < $1.key }.map { JSONText.quoted($0.key) + ":" + JSONText.quoted($0.value) }
                .joined(separator: ",") + "}"
    }

    @inline(__always)
    func route(method: String, path: String) -> RouteMatch? {
        router.match(method: method, path: path).map { RouteMatch(route: routes[$0.route], found: $0) }
    }
}

/// What an HTTP route calls.
enum HTTPAPIIntegration: Sendable {
    /// `type: mock` whose body has `${context.*}` placeholders.
    case mock(status: Int, body: ContextTemplate, headers: [(String, String)])
    /// `type: mock` with the same body for every request.
    case fixedMock(PrebuiltAnswer)
    /// `type: mock, mode: echo`: the request body back.
    case echo
    /// `type: http`: POSTs API Gateway's HTTP API payload format 2.0 event to `url`, with the
    /// integration's `headers`.
    case event(url: String, timeoutMs: Int64, headers: [(String, String)])
    /// `type: http_proxy`: forwards the request itself; the integration's `headers` replace the
    /// client's of the same name.
    case proxy(ProxyTarget, timeoutMs: Int64, headers: [(String, String)])

    init(_ config: IntegrationConfig, key: HTTPRouteKey, at: String) throws(GatewaySettings.BuildError) {
        switch config.type {
        case .mock:
            if config.mode == .echo {
                self = .echo
            } else {
                let body = ContextTemplate(config.body ?? "")
                if let fixed = body.fixedBytes {
                    self = .fixedMock(PrebuiltAnswer(status: config.status ?? 200, headers: config.sortedHeaders, body: fixed))
                } else {
                    self = .mock(status: config.status ?? 200, body: body, headers: config.sortedHeaders)
                }
            }
        case .http:
            self = .event(url: config.url ?? "", timeoutMs: config.httpRouteTimeout, headers: config.sortedHeaders)
        case .httpProxy:
            self = .proxy(try ProxyTarget(url: config.url ?? "", key: key, at: at), timeoutMs: config.httpRouteTimeout,
                          headers: config.sortedHeaders)
        }
    }
}

/// Node-wide API keys (key `api_keys`): each key's usage plan gives it a token bucket and a quota.
final class APIKeyTable: Sendable {
    final class Key: Sendable {
        let id: String
        let plan: String
        let throttle: SharedTokenBucket?
        /// nil inside: the plan has no quota.
        private let quota: Mutex<UsageQuota?>

        init(id: String, plan: String, throttle: SharedTokenBucket?, quota: UsageQuota?) {
            self.id = id
            self.plan = plan
            self.throttle = throttle
            self.quota = Mutex(quota)
        }

        /// Counts one request against the quota; false when it is spent.
        func useQuota(nowMs: Int64) -> Bool {
            quota.withLock { quota in
                guard quota != nil else { return true }
                return quota!.tryUse(nowMs: nowMs)
            }
        }
    }

    private let byValue: [String: Key]

    init(_ config: APIKeysConfig) {
        var byValue: [String: Key] = [:]
        for key in config.keys {
            let plan = config.plans[key.plan]
            byValue[key.value] = Key(
                id: key.id, plan: key.plan,
                throttle: plan?.throttle.map { SharedTokenBucket(rate: $0.rate, burst: $0.burst, nowMs: 0) },
                quota: plan?.quota.map { UsageQuota(limit: $0.limit, period: UsageQuota.Period(rawValue: $0.period.rawValue) ?? .day) })
        }
        self.byValue = byValue
    }

    func key(_ value: String) -> Key? { byValue[value] }
}
