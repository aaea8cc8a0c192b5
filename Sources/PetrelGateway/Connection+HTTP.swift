import PetrelCodecs
import PetrelCore
import PetrelCrypto
import PetrelHTTPClient
import PetrelLoop

/// The HTTP/1.1 half of a connection: requests (keep-alive, pipelined), embedded routes, and the
/// WebSocket upgrade.
extension Connection {
    func handleHTTPBytes(_ bytes: UnsafeMutableRawBufferPointer) {
        guard let session = http else { return }
        session.parser.feed(UnsafeRawBufferPointer(bytes))
        if awaitingResponse != nil && bytes.count > 0 {
            if session.parser.isReadingBody {
                // The body of a request whose backend call streams it (HTTPAPI/ProxyStream.swift):
                // read on while little of it waits for the backend.
                if session.parser.bufferedByteCount > ProxyStream.uploadBufferBytes { stream.stopReading() }
                proxyStream?.clientBodyArrived()
            } else {
                // Bytes behind a request still being answered: hold the rest in the socket (reading
                // stops only now, not for every call, which would cost epoll_ctl calls per request).
                stream.stopReading()
            }
        }
        // A handshake waiting for its authorizer or `$connect` (pendingKey) parses nothing more:
        // bytes pipelined behind it are WebSocket frames if it succeeds, and dropped if not.
        while phase == .http && awaitingResponse == nil && session.pendingKey == nil
                && session.admin.count < AdminPipeline.maxParked {
            let result: HTTPParseResult
            if session.parser.isReadingBody {
                // A body being buffered after its head.
                result = session.parser.next()
            } else {
                // The head first: an `http_proxy` route streams the body to its backend; every
                // other request is buffered whole.
                switch session.parser.nextHead() {
                case .needMore:
                    return
                case .failure(let error):
                    result = .failure(error)
                case .head(let head, let framing):
                    if framing != .none && !isAdmin, let match = streamingRoute(head) {
                        guard applyForwardedFor(head) else { return }
                        worker.observeRequest(self, head)
                        phaseDeadlineMs = worker.loop.nowMs + worker.settings.limits.handshakeTimeoutMs
                        handleStreamedAPIRequest(head, framing: framing, match: match)
                        continue
                    }
                    if framing != .none { sendContinueIfExpected(head) }
                    result = session.parser.next()
                }
            }
            switch result {
            case .needMore:
                return
            case .failure(let error):
                switch error.status {
                case 413: worker.metrics.limitHit(.maxBodyBytes)
                case 414, 431: worker.metrics.limitHit(.maxHeaderBytes)
                default: break
                }
                Log.info("bad request", ["status": .int(error.status), "reason": .string(error.reason), "sourceIp": .string(sourceIp)])
                respond(.message(error.status, HTTPResponse.reasonPhrase(error.status)), keepAlive: false)
                return
            case .request(let request):
                guard applyForwardedFor(request.head) else { return }
                worker.observeRequest(self, request.head)
                phaseDeadlineMs = worker.loop.nowMs + worker.settings.limits.handshakeTimeoutMs
                if isAdmin {
                    let isHead = request.head.method == "HEAD"
                    session.admin.current = (request.head.keepAlive, isHead)
                    if let response = worker.handleManagement(request, from: self) {
                        if session.admin.isEmpty {
                            respond(response, keepAlive: request.head.keepAlive, head: isHead)
                        } else {
                            session.admin.append(response)
                        }
                    }
                } else {
                    handlePublicRequest(request)
                }
            }
        }
    }

    /// An admin answer that came later: responses go out in request order, then parsing goes on.
    func finishParkedAdminResponse(_ slot: AdminPipeline.Slot, _ response: HTTPResponse) {
        guard phase == .http, let session = http else { return }
        slot.response = response
        let resume = session.admin.count >= AdminPipeline.maxParked
        while phase == .http, let (ready, keepAlive, head) = session.admin.popReady() {
            respond(ready, keepAlive: keepAlive, head: head)
        }
        if resume && phase == .http {
            handleHTTPBytes(UnsafeMutableRawBufferPointer(start: nil, count: 0))
        }
        stream.flush()
    }

    /// The answer to the request we were waiting on; then go on with pipelined requests.
    func finishAsyncResponse(_ response: HTTPResponse) {
        guard phase == .http, let waiting = awaitingResponse else { return }
        awaitingResponse = nil
        respond(response, keepAlive: waiting.keepAlive, head: waiting.head)
        if phase == .http {
            handleHTTPBytes(UnsafeMutableRawBufferPointer(start: nil, count: 0))
        }
        stream.flush()
    }

    /// Writes a response; without keep-alive the connection then closes gracefully.
    func respond(_ response: HTTPResponse, keepAlive: Bool, head: Bool = false) {
        worker.observeResponse(self, response)
        write(body: response.body, keepAlive: keepAlive, head: head) { response.appendHead(to: &$0, keepAlive: $1) }
    }

    /// A prebuilt `mock` answer to an HTTP API request, answered at once.
    func respond(_ answer: PrebuiltAnswer, _ state: APIRequest) {
        worker.observeResponse(self, status: answer.status, body: answer.body)
        write(body: answer.body, keepAlive: state.keepAlive, head: state.isHead) {
            answer.appendHead(to: &$0, requestId: state.requestId, keepAlive: $1)
        }
    }

    /// The head `appendHead` writes (told whether the connection stays open), then the body.
    @inline(__always)
    private func write(body: [UInt8], keepAlive: Bool, head: Bool, appendHead: (inout [UInt8], Bool) -> Void) {
        // Answered inside a streamed body (denied, or the backend answered early): the rest of
        // the body is not read, so the connection cannot carry another request.
        let keep = keepAlive && !worker.draining && (http?.parser.isBetweenRequests ?? true)
        servedRequest = true
        // The loop's head buffer is taken out while in use, so a write that re-enters `respond`
        // (a failing socket's callbacks) finds none to share and makes its own.
        var headBytes: [UInt8] = []
        swap(&headBytes, &worker.responseHead)
        headBytes.removeAll(keepingCapacity: true)
        appendHead(&headBytes, keep)
        // The stream copies (or sends) both parts at once; the body is never concatenated.
        headBytes.withUnsafeBytes { headPart in
            body.withUnsafeBytes { stream.write(headPart, head ? UnsafeRawBufferPointer(start: nil, count: 0) : $0) }
        }
        worker.responseHead = headBytes
        if !keep {
            http = nil
            finishAfterFlush()
        }
    }

    /// `Expect: 100-continue` (RFC 9110 §10.1.1): the client waits for this before the body.
    func sendContinueIfExpected(_ head: HTTPRequestHead) {
        guard head.versionMinor >= 1, head.headers.containsToken("Expect", "100-continue") else { return }
        let interim: StaticString = "HTTP/1.1 100 Continue\r\n\r\n"
        stream.write(UnsafeRawBufferPointer(start: interim.utf8Start, count: interim.utf8CodeUnitCount))
    }

    private func handlePublicRequest(_ request: HTTPRequest) {
        let head = request.head
        let settings = worker.settings
        let path = settings.pathWithoutStage(head.path)
        if WebSocketHandshake.isUpgradeRequest(head) {
            guard path == settings.webSocketPath else {
                respond(.message(404, "Not Found"), keepAlive: false)
                return
            }
            upgrade(head)
            return
        }
        // HTTP API routes (HTTPAPI/Connection+HTTPAPI.swift).
        if handleAPIRequest(request, path: path) { return }
        if path == settings.webSocketPath {
            // A plain GET on the WebSocket path: tell the client what it must do (RFC 6455 §4.2.2).
            respond(.message(426, "Upgrade Required", headers: [("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")]),
                    keepAlive: head.keepAlive)
            return
        }
        respond(.message(404, "Not Found"), keepAlive: head.keepAlive)
    }

    // MARK: WebSocket upgrade (RFC 6455 §4.2)

    private func upgrade(_ head: HTTPRequestHead) {
        let settings = worker.settings
        let key: String
        let protocols: [String]
        switch WebSocketHandshake.validate(head) {
        case .reject(let status, let reason, let extraHeaders):
            Log.info("handshake rejected", ["status": .int(status), "reason": .string(reason), "sourceIp": .string(sourceIp)])
            respond(.message(status, HTTPResponse.reasonPhrase(status), headers: extraHeaders), keepAlive: false)
            return
        case .accept(let k, let p):
            key = k
            protocols = p
        }
        if !settings.allowedOrigins.isEmpty {
            let origin = head.headers.first("Origin") ?? ""
            guard settings.allowedOrigins.contains(origin) else {
                worker.metrics.limitHit(.allowedOrigins)
                respond(.message(403, "Forbidden"), keepAlive: false)
                return
            }
        }
        guard admitWebSocket() else { return }
        if let limiter = worker.shared.connectRate.withLock({ $0 }),
           let retryAfter = limiter.take(nowMs: worker.loop.nowMs) {
            worker.metrics.limitHit(.connectRate)
            Log.info("limit reached", ["limit": "connect_rate", "status": 429, "sourceIp": .string(sourceIp)])
            respond(.message(429, "Too Many Requests", headers: [("Retry-After", String(retryAfter))]), keepAlive: false)
            return
        }

        connectionId = worker.ids.makeID()
        connectedAtMs = WallClock.nowMs()
        userAgent = head.headers.first("User-Agent") ?? ""
        domainName = Connection.hostWithoutPort(head.headers.first("Host") ?? "")

        guard let authorizer = settings.connectAuthorizer else {
            runConnectIntegration(head, key: key, protocols: protocols)
            return
        }
        guard let identity = authorizer.identitySource.values(head) else {
            respond(.message(401, "Unauthorized"), keepAlive: false)
            return
        }
        http?.pendingKey = key
        http?.pendingHead = head
        http?.pendingProtocols = protocols
        switch authorizer {
        case .jwt(let jwt):
            applyAuthorization(jwt.decide(identity, nowEpochSeconds: connectedAtMs / 1000))
        case .http(let remote):
            let cacheKey = identity.joined(separator: "\u{0}")
            if let cached = worker.cachedAuthorization(cacheKey) {
                applyAuthorization(cached)
                return
            }
            let token = worker.nextIntegrationToken()
            let completion = IntegrationCompletion(target: worker, token: token)
            let request = HTTPClientRequest(method: "POST", url: remote.url, headers: [("Content-Type", "application/json")] + worker.traceHeaders(for: self),
                                            body: remote.input(head: head, connection: self, requestId: worker.nextRequestID(),
                                                               settings: settings),
                                            timeoutMs: remote.timeoutMs)
            stream.stopReading()
            worker.track(self, token: token, call: .authorize(cacheKey: cacheKey, ttlMs: remote.cacheTTLMs))
            worker.httpClient.send(request) { result in
                switch result {
                case .success(let response): completion(.response(status: response.status, body: response.body, headers: [], subprotocol: nil))
                case .failure: completion(.failure(.unreachable))
                }
            }
        }
    }

    /// After the authorizer: deny ends the handshake; allow records the context for every event
    /// and goes on to `$connect`.
    func applyAuthorization(_ decision: AuthorizerDecision) {
        guard phase == .http, let session = http, let key = session.pendingKey, let head = session.pendingHead else { return }
        switch decision {
        case .deny(let status):
            Log.info("connect denied by authorizer", ["status": .int(status), "sourceIp": .string(sourceIp)])
            let message = status == 401 ? "Unauthorized" : status == 403 ? "Forbidden" : "Internal Server Error"
            respond(.message(status, message), keepAlive: false)
        case .allow(let context):
            authorizerJSON = context
            session.pendingHead = nil
            runConnectIntegration(head, key: key, protocols: session.pendingProtocols)
        }
    }

    private func runConnectIntegration(_ head: HTTPRequestHead, key: String, protocols: [String]) {
        let settings = worker.settings
        guard let route = settings.connectRoute else {
            finishUpgrade(key: key, subprotocol: nil)
            return
        }
        let event = IntegrationEvent(type: .connect, routeKey: "$connect", connection: self,
                                     requestId: worker.nextRequestID(), requestTimeMs: connectedAtMs,
                                     stage: settings.stage, apiId: settings.apiId,
                                     connectRequest: ConnectRequestInfo(headers: head.headers.entries, rawQuery: head.query,
                                                                        subprotocols: protocols))
        let token = worker.nextIntegrationToken()
        let reply = route.integration.invoke(event, services: worker,
                                             completion: IntegrationCompletion(target: worker, token: token))
        if case .pending = reply {
            // The 101 waits for `$connect` (API Gateway's order); frames sent early stay in the
            // parser's buffer, and we read no more until the answer.
            http?.pendingKey = key
            stream.stopReading()
            worker.track(self, token: token, call: .connect)
            return
        }
        finishConnect(reply, key: key)
    }

    /// `$connect`'s answer: accept (2xx, optional subprotocol) or reject the handshake.
    func finishConnect(_ reply: IntegrationReply, key: String) {
        guard phase == .http else { return }
        switch reply {
        case .response(let status, let body, let headers, let chosen):
            guard (200..<300).contains(status) else {
                respond(HTTPResponse(status: status, headers: headers.filter { $0.0.lowercased() != "content-length" }, body: body),
                        keepAlive: false)
                return
            }
            finishUpgrade(key: key, subprotocol: chosen ?? headers.first { $0.0.lowercased() == "sec-websocket-protocol" }?.1)
        case .failure(let failure):
            Log.warn("$connect integration failed", ["failure": .string("\(failure)"), "connectionId": .string(connectionId.description)])
            respond(failure == .timeout ? .message(504, "Gateway Timeout") : .message(502, "Bad Gateway"), keepAlive: false)
        case .none, .echo, .pending:
            finishUpgrade(key: key, subprotocol: nil)
        }
    }

    /// Registers the connection with the cluster registry, then completes the handshake: a
    /// `@connections` call from any node right after the 101 finds it (DESIGN §7). With Redis
    /// down the connection still opens (local calls work) and is written back on recovery.
    private func finishUpgrade(key: String, subprotocol: String?) {
        guard worker.shared.redis != nil else {
            // Alone, the local directory is the registry: nothing to wait for.
            sendSwitchingProtocols(key: key, subprotocol: subprotocol)
            return
        }
        stream.stopReading()
        worker.registry.register(worker.record(for: self), ttlMs: worker.registryTTLMs) { [self] _ in
            guard phase == .http else {
                // The client left while we registered it.
                worker.registry.unregister(connectionId, node: worker.shared.nodeId) { _ in }
                return
            }
            sendSwitchingProtocols(key: key, subprotocol: subprotocol)
        }
    }

    private func sendSwitchingProtocols(key: String, subprotocol: String?) {
        let settings = worker.settings
        var headers: [(String, String)] = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                           ("Sec-WebSocket-Accept", WebSocketAccept.value(forKey: key))]
        if let subprotocol { headers.append(("Sec-WebSocket-Protocol", subprotocol)) }
        // Registered before the 101 goes out, so a `@connections` call right after the handshake
        // finds it (DESIGN §7).
        worker.byId[connectionId] = self
        worker.shared.directory.register(connectionId, loop: worker.loop.index)
        let bytes = HTTPResponse(status: 101, headers: headers).serialized(keepAlive: true)
        bytes.withUnsafeBytes { stream.write($0) }
        worker.observeConnect(self)

        let limits = settings.limits
        var leftover = http?.parser.takeUnconsumedBytes() ?? []
        http = nil
        decoder = WebSocketFrameDecoder(maxFrameBytes: limits.maxFrameBytes, maxMessageBytes: limits.maxMessageBytes)
        phase = .open
        accepted = true
        openedAtMs = worker.loop.nowMs
        lastActivityMs = openedAtMs
        if !leftover.isEmpty {
            leftover.withUnsafeMutableBytes { handleFrames($0) }
        }
        if worker.draining {
            // Accepted before the listener closed: the client gets its 101, then 1001.
            close(code: .goingAway, reason: "Going away")
        }
        stream.startReading()
        stream.flush()
    }

    static func hostWithoutPort(_ host: String) -> String {
        if host.hasPrefix("[") {
            if let end = host.firstIndex(of: "]") { return String(host[host.startIndex...end]) }
            return host
        }
        if let colon = host.lastIndex(of: ":") { return String(host[..<colon]) }
        return host
    }
}
