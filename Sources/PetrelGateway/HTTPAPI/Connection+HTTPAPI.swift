import CLibUV
import PetrelCodecs
import PetrelCore
import PetrelHTTPClient

/// One request on its way through an HTTP route, kept while an authorizer or integration answers.
struct APIRequest {
    let request: HTTPRequest
    /// The path without the stage prefix (what routes match).
    let path: String
    let route: HTTPAPI.Route
    /// Raw (still percent-encoded) path parameters, in route-key order.
    let parameters: [(name: String, value: String)]
    let requestId: RequestID
    let timeMs: Int64
    /// CORS of the settings the request started under (a reload may swap them meanwhile).
    let cors: CORSPolicy?
    /// Set when the body is not in `request` but streams from the client to an `http_proxy`
    /// backend as it arrives (ProxyStream); how the client framed it.
    var streamedBody: HTTPBodyFraming?
    var authorizerJSON: String?

    var keepAlive: Bool { request.head.keepAlive }
    var isHead: Bool { request.head.method == "HEAD" }
}

/// HTTP API routes (DESIGN §8): CORS preflight → route → throttles → API key → authorizer →
/// validation → integration → CORS headers on the answer. Synchronous steps answer at once;
/// an `http` authorizer or integration parks the connection in `awaitingResponse` (pipelined
/// requests wait behind it, so answers keep their order) and `finishAsyncResponse` resumes it.
extension Connection {
    /// Serves `request` when the CORS preflight or an HTTP route takes it; false when no route
    /// matches (the caller answers 404, or 426 on the WebSocket path). A request whose body
    /// streams comes with the route `streamingRoute` already chose (never a preflight).
    func handleAPIRequest(_ request: HTTPRequest, path: String, streaming: (match: HTTPAPI.RouteMatch, body: HTTPBodyFraming)? = nil) -> Bool {
        let api = worker.settings.httpAPI
        let head = request.head
        var origin: String?
        if let cors = api.cors, streaming == nil {
            origin = head.headers.first("Origin")
            if CORSPolicy.isPreflight(method: head.method, origin: origin, requestMethod: head.headers.first("Access-Control-Request-Method")) {
                let optionsRoute = api.route(method: "OPTIONS", path: path)?.route
                // Answered by the gateway, without the backend, unless a route is written for
                // OPTIONS itself (API Gateway's HTTP APIs answer preflights even with no route).
                if optionsRoute?.key.method != "OPTIONS" {
                    http?.observation.route = Int32(optionsRoute?.metricIndex ?? MetricRoutes.none)
                    let headers = cors.preflightHeaders(origin: origin ?? "", requestMethod: head.headers.first("Access-Control-Request-Method") ?? "",
                                                        requestHeaders: head.headers.first("Access-Control-Request-Headers"))
                    respond(HTTPResponse(status: 204, headers: headers), keepAlive: head.keepAlive)
                    return true
                }
            }
        }
        guard let match = streaming?.match ?? api.route(method: head.method, path: path) else { return false }
        let route = match.route
        http?.observation.route = Int32(route.metricIndex)
        let state = APIRequest(request: request, path: path, route: route,
                               parameters: match.rawParameters(in: path),
                               requestId: worker.nextRequestID(), timeMs: WallClock.nowMs(), cors: api.cors,
                               streamedBody: streaming?.body)
        if let denial = admit(state, api: api) {
            deliver(denial, state)
            return true
        }
        authorize(state)
        return true
    }

    // MARK: Streamed request bodies

    /// The `http_proxy` route that takes the body of the request whose head just arrived as it
    /// comes, or nil: the body is then buffered. Not a route whose authorizer (`sigv4` signs the
    /// body's hash) or validator (a body schema) needs the whole body first, nor a CORS preflight.
    func streamingRoute(_ head: HTTPRequestHead) -> HTTPAPI.RouteMatch? {
        let settings = worker.settings
        let api = settings.httpAPI
        guard api.hasStreamingRoutes, !WebSocketHandshake.isUpgradeRequest(head),
              let match = api.route(method: head.method, path: settings.pathWithoutStage(head.path)),
              match.route.streamsRequestBody else { return nil }
        if api.cors != nil, CORSPolicy.isPreflight(method: head.method, origin: head.headers.first("Origin"),
                                                   requestMethod: head.headers.first("Access-Control-Request-Method")) {
            return nil
        }
        return match
    }

    /// A request whose body streams: everything up to the backend call runs on the head alone;
    /// an answer given before the body was read closes the connection (`respond`).
    func handleStreamedAPIRequest(_ head: HTTPRequestHead, framing: HTTPBodyFraming, match: HTTPAPI.RouteMatch) {
        _ = handleAPIRequest(HTTPRequest(head: head, body: []), path: worker.settings.pathWithoutStage(head.path),
                             streaming: (match, framing))
    }

    // MARK: Throttles and API keys

    /// 429 from the node-wide or the route's bucket, 403/429 from the API key; nil: go on.
    private func admit(_ state: APIRequest, api: HTTPAPI) -> HTTPResponse? {
        let now = worker.loop.nowMs
        if let bucket = api.throttle, let retry = bucket.take(nowMs: now) {
            return throttled(retry, limit: "throttling")
        }
        if let bucket = state.route.throttle, let retry = bucket.take(nowMs: now) {
            return throttled(retry, limit: "route_throttle")
        }
        guard state.route.apiKeyRequired else { return nil }
        guard let value = state.request.head.headers.first("x-api-key"), let key = api.apiKeys?.key(value) else {
            return .message(403, "Forbidden")
        }
        if let bucket = key.throttle, let retry = bucket.take(nowMs: now) {
            return throttled(retry, limit: "api_key_throttle")
        }
        if !key.useQuota(nowMs: WallClock.nowMs()) {
            Log.info("limit reached", ["limit": "api_key_quota", "status": 429, "apiKeyId": .string(key.id)])
            return .message(429, "Limit Exceeded")
        }
        return nil
    }

    private func throttled(_ retryAfter: Int, limit: String) -> HTTPResponse {
        Log.info("limit reached", ["limit": .string(limit), "status": 429, "sourceIp": .string(sourceIp)])
        return .message(429, "Too Many Requests", headers: [("retry-after", String(retryAfter))])
    }

    // MARK: Authorizers

    private func authorize(_ state: APIRequest) {
        guard let authorizer = state.route.authorizer else {
            proceed(state)
            return
        }
        let head = state.request.head
        let outcome: RouteAuthorizer.Outcome
        switch authorizer {
        case .jwt(let verifier, let identity):
            outcome = RouteAuthorizer.decideJWT(verifier: verifier, identity: identity, head: head, scopes: state.route.scopes,
                                                nowEpochSeconds: state.timeMs / 1000)
        case .sigv4(let verifier):
            outcome = RouteAuthorizer.decideSigV4(verifier, head: head, body: state.request.body, accessKeys: state.route.accessKeys,
                                                  nowEpochSeconds: state.timeMs / 1000)
        case .http(let name, let url, let timeoutMs, let cacheTTLMs, let identity):
            guard let values = identity.values(head) else {
                deliver(.message(401, "Unauthorized"), state)
                return
            }
            let cacheKey = "route\u{0}\(name)\u{0}" + values.joined(separator: "\u{0}")
            if let cached = worker.cachedAuthorization(cacheKey) {
                applyRouteDecision(cached, state)
                return
            }
            callHTTPAuthorizer(url: url, timeoutMs: timeoutMs, cacheKey: cacheKey, cacheTTLMs: cacheTTLMs, identity: values, state)
            return
        }
        switch outcome {
        case .allow(let context):
            var state = state
            state.authorizerJSON = context
            proceed(state)
        case .deny(let denial):
            deliver(.message(denial.status, denial.message, headers: denial.headers), state)
        }
    }

    private func callHTTPAuthorizer(url: String, timeoutMs: Int64, cacheKey: String, cacheTTLMs: Int64?, identity: [String],
                                    _ state: APIRequest) {
        let event = HTTPAPIEvent(head: state.request.head, body: [], routeKey: state.route.key.text, pathParameters: state.parameters,
                                 requestId: state.requestId, timeMs: state.timeMs, stage: worker.settings.stage,
                                 apiId: worker.settings.apiId, sourceIp: sourceIp, authorizerJSON: nil,
                                 stageVariablesJSON: worker.settings.httpAPI.stageVariablesJSON, clientCertJSON: clientCertJSON)
        let request = HTTPClientRequest(method: "POST", url: url, headers: [("Content-Type", "application/json")] + worker.traceHeaders(for: self),
                                        body: event.authorizerInput(identity: identity, routeArnMethod: state.request.head.method),
                                        timeoutMs: timeoutMs)
        beginAsync(state, timeoutMs: timeoutMs)
        guard !worker.shutDown else {
            deliver(.message(500, "Internal Server Error"), state)
            return
        }
        worker.httpClient.send(request) { [self] result in
            let decision: AuthorizerDecision
            switch result {
            case .success(let response): decision = RouteAuthorizer.httpDecision(status: response.status, body: response.body)
            case .failure(let error):
                Log.warn("route authorizer failed", ["error": .string("\(error)"), "route": .string(state.route.key.text)])
                decision = .deny(status: 500)
            }
            if let cacheTTLMs {
                switch decision {
                case .allow, .deny(403): worker.cacheAuthorization(cacheKey, decision, ttlMs: cacheTTLMs)
                default: break
                }
            }
            applyRouteDecision(decision, state)
        }
    }

    private func applyRouteDecision(_ decision: AuthorizerDecision, _ state: APIRequest) {
        switch decision {
        case .allow(let context):
            var state = state
            state.authorizerJSON = context
            proceed(state)
        case .deny(let status):
            let message = status == 401 ? "Unauthorized" : status == 403 ? "Forbidden" : "Internal Server Error"
            deliver(.message(status, message), state)
        }
    }

    // MARK: Validation and integrations

    private func proceed(_ state: APIRequest) {
        let head = state.request.head
        if let validator = state.route.validator {
            let outcome = validator.validate(query: PercentDecoding.queryPairs(head.query),
                                             hasHeader: { !(head.headers.first($0) ?? "").isEmpty }, body: state.request.body)
            if let message = outcome.message {
                if case .invalidBody(let detail) = outcome {
                    Log.info("request validation failed", ["route": .string(state.route.key.text), "detail": .string(detail)])
                }
                deliver(.message(400, message), state)
                return
            }
        }
        switch state.route.integration {
        case .mock(let status, let body, let headers):
            let text = body.render(connectionId: ConnectionID(high: 0, low: 0), requestId: state.requestId,
                                   routeKey: state.route.key.text, stage: worker.settings.stage)
            deliver(HTTPResponse(status: status, headers: headers, body: text), state)
        case .fixedMock(let answer):
            if state.cors == nil && awaitingResponse == nil {
                respond(answer, state)
            } else {
                deliver(answer.response, state)
            }
        case .echo:
            deliver(HTTPResponse(status: 200, body: state.request.body), state)
        case .event(let url, let timeoutMs, let extraHeaders):
            let settings = worker.settings
            let event = HTTPAPIEvent(head: head, body: state.request.body, routeKey: state.route.key.text,
                                     pathParameters: state.parameters, requestId: state.requestId, timeMs: state.timeMs,
                                     stage: settings.stage, apiId: settings.apiId, sourceIp: sourceIp,
                                     authorizerJSON: state.authorizerJSON, stageVariablesJSON: settings.httpAPI.stageVariablesJSON,
                                     clientCertJSON: clientCertJSON)
            let request = HTTPClientRequest(method: "POST", url: url,
                                            headers: [("Content-Type", "application/json")] + worker.traceHeaders(for: self) + extraHeaders,
                                            body: event.json(), timeoutMs: timeoutMs)
            send(request, state, timeoutMs: timeoutMs) { response in
                HTTPAPIResponse.read(status: response.status, headers: response.headers, body: response.body)
                    ?? .message(500, "Internal Server Error")
            }
        case .proxy(let target, let timeoutMs, let extraHeaders):
            var headers = ProxyHeaders.request(head.headers, sourceIp: sourceIp, isTLS: stream.isTLS)
            if head.headers.first("traceparent") == nil { headers += worker.traceHeaders(for: self) }
            if !extraHeaders.isEmpty {
                headers.removeAll { header in extraHeaders.contains { $0.0.lowercased() == header.0.lowercased() } }
                headers += extraHeaders
            }
            let request = HTTPClientRequest(method: head.method, url: target.url(parameters: state.parameters, path: state.path, query: head.query),
                                            headers: headers, body: state.request.body, timeoutMs: timeoutMs)
            beginAsync(state, timeoutMs: timeoutMs)
            guard !worker.shutDown else {
                deliver(.message(502, "Internal Server Error"), state)
                return
            }
            let proxy = ProxyStream(connection: self, state: state, timeoutMs: timeoutMs)
            proxyStream = proxy
            let id: HTTPRequestID
            if let framing = state.streamedBody {
                sendContinueIfExpected(head)
                var length: Int?
                if case .contentLength(let count) = framing { length = count }
                id = worker.httpClient.stream(request, body: proxy, bodyLength: length, to: proxy)
            } else {
                id = worker.httpClient.stream(request, to: proxy)
            }
            // Refused up front: the stream already ended.
            if proxyStream === proxy { proxy.id = id }
        }
    }

    /// An outbound call through the loop's HTTP client; its failures answer as API Gateway's
    /// HTTP APIs do: 503 Service Unavailable after the timeout, 502 when unreachable or broken.
    private func send(_ request: HTTPClientRequest, _ state: APIRequest, timeoutMs: Int64,
                      read: @escaping (HTTPClientResponse) -> HTTPResponse) {
        beginAsync(state, timeoutMs: timeoutMs)
        guard !worker.shutDown else {
            deliver(.message(502, "Internal Server Error"), state)
            return
        }
        let startNs = uv_hrtime()
        worker.httpClient.send(request) { [self] result in
            http?.observation.integrationUs = Int32(clamping: (uv_hrtime() &- startNs) / 1000)
            switch result {
            case .success(let response):
                deliver(read(response), state)
            case .failure(let error):
                Log.warn("http route integration failed", ["error": .string("\(error)"), "route": .string(state.route.key.text)])
                deliver(error == .timeout ? .message(503, "Service Unavailable") : .message(502, "Internal Server Error"), state)
            }
        }
    }

    /// A streamed answer (ProxyStream) is complete: like `deliver` after an asynchronous step.
    func finishStreamedResponse(keepAlive: Bool) {
        guard phase == .http, awaitingResponse != nil else { return }
        awaitingResponse = nil
        // A drain that began after the head went out still ends the connection here.
        guard keepAlive && !worker.draining else {
            http = nil
            finishAfterFlush()
            return
        }
        phaseDeadlineMs = worker.loop.nowMs + worker.settings.limits.handshakeTimeoutMs
        stream.startReading()
        handleHTTPBytes(UnsafeMutableRawBufferPointer(start: nil, count: 0))
        stream.flush()
    }

    // MARK: Answers

    /// Parks the connection until `deliver`, with a deadline past the call's own timeout.
    /// Reading goes on, so a client that leaves is noticed (and its call cancelled), until bytes
    /// of a pipelined request arrive (`handleHTTPBytes` then stops it, so a client cannot pile
    /// them up).
    private func beginAsync(_ state: APIRequest, timeoutMs: Int64) {
        guard awaitingResponse == nil else { return }
        awaitingResponse = (state.keepAlive, state.isHead)
        phaseDeadlineMs = worker.loop.nowMs + timeoutMs + 5_000
    }

    /// The route's CORS headers (the backend's own replaced) and API Gateway's `apigw-requestid`.
    func decorateAPIResponse(_ response: inout HTTPResponse, _ state: APIRequest) {
        if let cors = state.cors {
            response.headers.removeAll { CORSPolicy.isCORSResponseHeader($0.0) }
            response.headers += cors.responseHeaders(origin: state.request.head.headers.first("Origin"))
        }
        response.requestId = state.requestId
    }

    /// Writes the decorated answer; after an asynchronous step, resumes pipelined requests.
    func deliver(_ response: HTTPResponse, _ state: APIRequest) {
        var response = response
        decorateAPIResponse(&response, state)
        guard awaitingResponse != nil else {
            respond(response, keepAlive: state.keepAlive, head: state.isHead)
            return
        }
        guard phase == .http else { return }
        phaseDeadlineMs = worker.loop.nowMs + worker.settings.limits.handshakeTimeoutMs
        stream.startReading()
        finishAsyncResponse(response)
    }
}
