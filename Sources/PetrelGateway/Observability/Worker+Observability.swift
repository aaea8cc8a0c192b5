import CLibUV
import PetrelCodecs
import PetrelConfig
import PetrelCore

/// The hooks the connection state machine calls (one line each at its call sites), and the
/// `/metrics` scrape across loops.
extension Worker {
    // MARK: HTTP requests and handshakes

    /// A request was parsed: note its start, its route (or management operation), and its trace.
    func observeRequest(_ connection: Connection, _ head: HTTPRequestHead) {
        var o = ConnectionObservation()
        // Only the access log's latency reads it: no clock read per request without a log.
        if metrics.log.state != nil { o.startNs = uv_hrtime() }
        if connection.isAdmin {
            // The operation is noted where the request is parsed (`handleManagement`).
            o.kind = .admin
            o.route = Int32(ManagementOperation.notFound.rawValue)
        } else if WebSocketHandshake.isUpgradeRequest(head) {
            o.kind = .upgrade
        } else {
            // The route is noted where it is matched (`handleAPIRequest`); none until then.
            o.kind = .http
            o.route = Int32(MetricRoutes.none)
        }
        if !connection.isAdmin {
            connection.userAgent = head.headers.first("User-Agent") ?? ""
            if metrics.log.state != nil { o.requestLine = head.method + " " + head.path }
            if let header = head.headers.first("traceparent"), let parsed = TraceContext.parse(header.trimmedSpaces) {
                o.trace = parsed
                o.traceState = head.headers.first("tracestate") ?? ""
                o.traceFromClient = true
            }
            // Without one, a plain request gets a new trace when something first needs it, and a
            // handshake one derived from its connection id (`traceContext(for:)`).
        }
        connection.http?.observation = o
    }

    /// Every response the connection writes (not the 101, see `observeConnect`).
    func observeResponse(_ connection: Connection, _ response: HTTPResponse) {
        observeResponse(connection, status: response.status, body: response.body)
    }

    func observeResponse(_ connection: Connection, status: Int, body: [UInt8]) {
        // The counters need two scalars; the whole observation is copied only for a log line.
        let kind = connection.http?.observation.kind ?? .none
        let route = Int(connection.http?.observation.route ?? 0)
        switch kind {
        case .admin:
            metrics.management[route * 1000 + status, default: 0] += 1
            return
        case .http:
            metrics.httpRequests[route * 1000 + status, default: 0] += 1
        case .upgrade:
            metrics.handshakes[status, default: 0] += 1
        case .none:
            // A request the parser refused: no route.
            metrics.httpRequests[MetricRoutes.none * 1000 + status, default: 0] += 1
        }
        guard let state = metrics.log.state else { return }
        let o = connection.http?.observation ?? ConnectionObservation()
        var line = AccessLogLine(fields: state.fields)
        line.set(.requestId, nextRequestID().description)
        setTime(&line)
        line.set(.eventType, o.kind == .upgrade ? "CONNECT" : "HTTP")
        if o.kind == .upgrade {
            line.set(.routeKey, "$connect")
            if connection.connectionId.high != 0 || connection.connectionId.low != 0 {
                line.set(.connectionId, connection.connectionId.description)
            }
        } else if o.kind == .http {
            line.set(.routeKey, MetricRoutes.names().dropFirst(Int(o.route)).first ?? "(none)")
        }
        line.set(.status, status)
        line.set(.integrationLatency, o.integrationUs >= 0 ? Int(o.integrationUs) / 1000 : nil)
        line.set(.responseLatency, o.startNs == 0 ? nil : Int((uv_hrtime() &- o.startNs) / 1_000_000))
        line.set(.sourceIp, connection.sourceIp)
        line.set(.userAgent, connection.userAgent)
        if o.kind == .http, let space = o.requestLine.firstIndex(of: " ") {
            line.set(.httpMethod, String(o.requestLine[..<space]))
            line.set(.path, String(o.requestLine[o.requestLine.index(after: space)...]))
        }
        if status >= 400 { line.set(.errorMessage, Self.errorMessage(status: status, body: body)) }
        let trace = traceContext(for: connection).trace
        if trace.isValid { line.set(.traceparent, trace.header) }
        metrics.log.append(line)
    }

    /// The 101 went out: one connect counted and logged.
    func observeConnect(_ connection: Connection) {
        metrics.connects += 1
        metrics.handshakes[101, default: 0] += 1
        let o = connection.http?.observation ?? ConnectionObservation()
        if o.traceFromClient { connection.clientTrace = ClientTrace(trace: o.trace, state: o.traceState) }
        guard let state = metrics.log.state else { return }
        var line = AccessLogLine(fields: state.fields)
        line.set(.requestId, nextRequestID().description)
        setTime(&line)
        line.set(.eventType, "CONNECT")
        line.set(.routeKey, "$connect")
        line.set(.connectionId, connection.connectionId.description)
        line.set(.status, 101)
        line.set(.integrationLatency, o.integrationUs >= 0 ? Int(o.integrationUs) / 1000 : nil)
        line.set(.responseLatency, o.startNs == 0 ? nil : Int((uv_hrtime() &- o.startNs) / 1_000_000))
        line.set(.sourceIp, connection.sourceIp)
        line.set(.userAgent, connection.userAgent)
        let trace = traceContext(for: connection).trace
        if trace.isValid { line.set(.traceparent, trace.header) }
        metrics.log.append(line)
    }

    /// An accepted WebSocket ended (before `$disconnect` runs).
    func observeDisconnect(_ connection: Connection) {
        metrics.disconnects[DisconnectReason(code: connection.disconnectCode).rawValue] += 1
        guard let state = metrics.log.state else { return }
        var line = AccessLogLine(fields: state.fields)
        line.set(.requestId, nextRequestID().description)
        setTime(&line)
        line.set(.eventType, "DISCONNECT")
        line.set(.routeKey, "$disconnect")
        line.set(.connectionId, connection.connectionId.description)
        line.set(.disconnectStatusCode, connection.disconnectCode)
        line.set(.disconnectReason, connection.disconnectReason)
        line.set(.sourceIp, connection.sourceIp)
        line.set(.userAgent, connection.userAgent)
        let trace = traceContext(for: connection).trace
        if trace.isValid { line.set(.traceparent, trace.header) }
        metrics.log.append(line)
    }

    // MARK: Messages

    /// After a message's integration was invoked, when messages are sampled
    /// (`metrics.samplesMessages`): a line now (synchronous answers) or when the answer arrives.
    @inline(never)
    func observeMessage(_ connection: Connection, route: GatewaySettings.WebSocketRoute, requestId: RequestID,
                        messageId: RequestID, requestTimeMs: Int64, reply: IntegrationReply, token: UInt64) {
        guard metrics.log.sampleMessage() else { return }
        if case .pending = reply {
            metrics.calls[token]?.logged = (requestId, messageId, requestTimeMs)
            return
        }
        logMessage(connection, routeKey: route.key, requestId: requestId, messageId: messageId,
                   requestTimeMs: requestTimeMs, reply: reply, integrationUs: nil)
    }

    private func logMessage(_ connection: Connection, routeKey: String, requestId: RequestID, messageId: RequestID,
                            requestTimeMs: Int64, reply: IntegrationReply, integrationUs: Int?) {
        guard let state = metrics.log.state else { return }
        var line = AccessLogLine(fields: state.fields)
        line.set(.requestId, requestId.description)
        line.set(.requestTime, TimeFormat.clf(requestTimeMs))
        line.set(.requestTimeEpoch, Int(requestTimeMs))
        line.set(.eventType, "MESSAGE")
        line.set(.routeKey, routeKey)
        line.set(.connectionId, connection.connectionId.description)
        line.set(.messageId, messageId.description)
        var status = 200
        switch reply {
        case .response(let s, _, _, _): status = s
        case .failure(let failure):
            status = failure == .timeout ? 504 : 502
            line.set(.errorMessage, "integration failed: \(failure)")
        default: break
        }
        line.set(.status, status)
        line.set(.integrationLatency, integrationUs.map { $0 / 1000 })
        line.set(.responseLatency, Int(WallClock.nowMs() - requestTimeMs))
        line.set(.sourceIp, connection.sourceIp)
        line.set(.userAgent, connection.userAgent)
        let trace = traceContext(for: connection).trace
        if trace.isValid { line.set(.traceparent, trace.header) }
        metrics.log.append(line)
    }

    /// An asynchronous integration answered (before the connection acts on the answer).
    func observeCompletion(token: UInt64, connection: Connection, reply: IntegrationReply) {
        guard let call = metrics.callFinished(token: token, reply: reply) else { return }
        let elapsedUs = Int((uv_hrtime() &- call.startNs) / 1000)
        connection.http?.observation.integrationUs = Int32(clamping: elapsedUs)
        if let logged = call.logged {
            let names = MetricRoutes.names()
            logMessage(connection, routeKey: call.route < names.count ? names[call.route] : "", requestId: logged.requestId,
                       messageId: logged.messageId, requestTimeMs: logged.requestTimeMs, reply: reply, integrationUs: elapsedUs)
        }
    }

    private func setTime(_ line: inout AccessLogLine) {
        let now = WallClock.nowMs()
        line.set(.requestTime, TimeFormat.clf(now))
        line.set(.requestTimeEpoch, Int(now))
    }

    private static func errorMessage(status: Int, body: [UInt8]) -> String {
        // Our error bodies are `{"message":"..."}` (no escapes in the texts we write).
        let prefix = Array("{\"message\":\"".utf8)
        if body.count > prefix.count, Array(body[0..<prefix.count]) == prefix,
           let end = body[prefix.count...].firstIndex(of: 0x22) {
            return String(decoding: body[prefix.count..<end], as: UTF8.self)
        }
        return HTTPResponse.reasonPhrase(status)
    }

    // MARK: Tracing

    /// `traceparent` (with a new span id for this call) and `tracestate` for an integration call.
    func traceHeaders(for context: any ConnectionContext) -> [(String, String)] {
        guard let connection = context as? Connection else { return [] }
        let (trace, state) = traceContext(for: connection)
        guard trace.isValid else { return [] }
        let span = ids.makeID()
        var headers = [("traceparent", trace.header(span: span.high | 1))]
        if !state.isEmpty { headers.append(("tracestate", state)) }
        return headers
    }

    /// The client's trace (from the handshake or this HTTP request), else one derived from the
    /// connection id — 96 random bits from the loop's id generator, plus this loop's random salt
    /// — so every call and log line of a connection shares it without storing it.
    func traceContext(for connection: Connection) -> (trace: TraceContext, state: String) {
        if let client = connection.clientTrace { return (client.trace, client.state) }
        let id = connection.connectionId
        if let o = connection.http?.observation, o.traceFromClient || (id.high == 0 && id.low == 0) {
            if o.kind == .http && !o.trace.isValid {
                let a = ids.makeID(), b = ids.makeID()
                let minted = TraceContext(traceHigh: a.high, traceLow: b.high | 1, spanId: UInt64(a.low) << 32 | UInt64(b.low) | 1, flags: 0)
                connection.http?.observation.trace = minted
                return (minted, "")
            }
            return (o.trace, o.traceState)
        }
        guard id.high != 0 || id.low != 0 else { return (TraceContext(), "") }
        let salt = metrics.traceSalt
        return (TraceContext(traceHigh: id.high, traceLow: UInt64(id.low) << 32 | (salt & 0xFFFF_FFFF),
                             spanId: (id.high ^ salt) | 1, flags: 0), "")
    }

    // MARK: /metrics

    func serveMetrics(_ admin: Connection) -> HTTPResponse? {
        answer(admin) { reply in self.gatherMetrics { reply(Self.metricsResponse($0)) } }
    }

    /// Every loop's samples merged, plus the process stats: at once with one loop, else when each
    /// other loop has answered through the mailboxes. `/metrics` and the dashboard both use it.
    func gatherMetrics(_ done: @escaping (MetricSet) -> Void) {
        let mailboxes = shared.mailboxes.withLock { $0 }
        metrics.nextScrape &+= 1
        let token = metrics.nextScrape
        metrics.scrapes[token] = (mailboxes.count, metricsSnapshot(), done)
        let reply = mailboxes.indices.contains(loop.index) ? mailboxes[loop.index] : nil
        for (index, mailbox) in mailboxes.enumerated() where index != loop.index {
            let posted = reply != nil && mailbox.post { other in
                let part = (other.owner as? Worker)?.metricsSnapshot() ?? MetricSet()
                reply?.post { adminLoop in (adminLoop.owner as? Worker)?.scrapePart(token, part) }
            }
            // A loop that has shut its mailbox (draining) answers nothing.
            if !posted { scrapePart(token, nil) }
        }
        // This loop's own part, last: done runs now when no other loop was asked.
        scrapePart(token, nil)
    }

    func metricsSnapshot() -> MetricSet {
        metrics.snapshot(loop: loop.index, openWebSockets: byId.count, tcpConnections: connections.count)
    }

    private func scrapePart(_ token: UInt64, _ part: MetricSet?) {
        guard var scrape = metrics.scrapes[token] else { return }
        if let part { scrape.set.merge(part) }
        scrape.remaining -= 1
        if scrape.remaining > 0 {
            metrics.scrapes[token] = scrape
            return
        }
        metrics.scrapes.removeValue(forKey: token)
        ProcessStats.add(to: &scrape.set)
        scrape.done(scrape.set)
    }

    private static func metricsResponse(_ set: MetricSet) -> HTTPResponse {
        HTTPResponse(status: 200, headers: [("Content-Type", PrometheusText.contentType)], body: Array(PrometheusText.render(set).utf8))
    }
}
