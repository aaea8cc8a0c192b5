import PetrelCodecs
import PetrelCore
import PetrelLoop

/// One client connection through its whole life: HTTP/1.1 requests, then (after an upgrade) a
/// WebSocket session, then the closing handshake. Lives on one loop; not `Sendable`.
///
/// Memory per idle WebSocket: this object, the libuv handle and nothing else — no timer (the
/// loop's sweep checks deadlines), no read buffer (the loop's), no write buffer unless the
/// socket pushed back, and the id as 12 raw bytes.
final class Connection: StreamHandler, ConnectionContext {
    enum Phase: UInt8 {
        /// Reading HTTP requests (keep-alive) or a handshake.
        case http
        /// WebSocket open.
        case open
        /// We sent a close frame and wait for the client's.
        case closeSent
        /// Closing handshake done (or failed): our FIN is out, we read and discard until the
        /// client's EOF, so unread bytes never turn our close into a reset.
        case closing
        case closed
    }

    unowned(unsafe) let worker: Worker
    /// Strong: integration answers may arrive after the socket closed, and must find a stream
    /// that ignores them rather than freed memory. The cycle with `stream.handler` ends at close.
    let stream: TCPStream
    let isAdmin: Bool
    var phase: Phase = .http
    var slot = -1
    var http: HTTPSession?
    var decoder = WebSocketFrameDecoder(maxFrameBytes: 0, maxMessageBytes: 0)

    var connectionId = ConnectionID(high: 0, low: 0)
    var connectedAtMs: Int64 = 0
    var openedAtMs: Int64 = 0
    var lastActivityMs: Int64
    /// In `http`: when the current request must be complete; in closing phases: when to drop TCP.
    var phaseDeadlineMs: Int64
    /// The client's address: the TCP peer, then the PROXY header's source or the address a
    /// trusted proxy's `X-Forwarded-For` names (Connection+ClientAddress.swift).
    var peer: IPAddress?
    /// Counted under `max_connections` / `max_connections_per_ip` until close.
    var holdsAdmission = false
    var userAgent = ""
    var domainName = ""
    /// `$connect` accepted, so `$disconnect` is owed exactly once.
    var accepted = false
    var disconnectCode = 1006
    var disconnectReason = ""
    var pausedForBackpressure = false
    /// At least one HTTP response went out on this connection.
    var servedRequest = false
    /// An HTTP request whose response comes later (admin calls answered by another loop): further
    /// pipelined requests wait, so responses keep their order. Holds the request's keep-alive.
    var awaitingResponse: (keepAlive: Bool, head: Bool)?
    /// Events waiting for this connection's integration call in flight (arrival order).
    var pendingWork: [PendingWork] = []
    var pendingMessageCount = 0
    /// An integration call of this connection is outstanding: later events queue behind it.
    var callInFlight = false
    var authorizerJSON: String?
    /// An `http_proxy` response being streamed to this client (HTTPAPI/ProxyStream.swift).
    var proxyStream: ProxyStream?
    /// The client's `traceparent`/`tracestate` from the handshake, when it sent one (Observability/).
    var clientTrace: ClientTrace?

    init(worker: Worker, stream: TCPStream, admin: Bool) {
        self.worker = worker
        self.stream = stream
        self.isAdmin = admin
        peer = stream.peerAddress()
        let now = worker.loop.nowMs
        lastActivityMs = now
        phaseDeadlineMs = now + worker.settings.limits.handshakeTimeoutMs
        let limits = worker.settings.limits
        http = HTTPSession(maxHeaderBytes: limits.maxHeaderBytes,
                           maxBodyBytes: admin ? max(limits.maxMessageBytes, 1 << 20) : limits.maxBodyBytes)
    }

    var sourceIp: String { peer?.description ?? "" }

    /// mTLS: the client's verified certificate (`identity.clientCert`), read from the TLS session
    /// when asked, so connections store no copy.
    var clientCertificate: ClientCertificateInfo? { stream.clientCertificate }

    /// `requestContext.identity.clientCert` (API Gateway's mTLS field) for the events.
    var clientCertJSON: String? {
        guard let c = clientCertificate else { return nil }
        return "{\"clientCertPem\":\(JSONText.quoted(c.clientCertPem)),\"subjectDN\":\(JSONText.quoted(c.subjectDN)),"
            + "\"issuerDN\":\(JSONText.quoted(c.issuerDN)),\"serialNumber\":\(JSONText.quoted(c.serialNumber)),"
            + "\"validity\":{\"notBefore\":\(JSONText.quoted(c.validityNotBefore)),\"notAfter\":\(JSONText.quoted(c.validityNotAfter))}}"
    }

    /// `GET @connections/{id}` (DESIGN §6).
    func describeForManagement() -> String {
        let lastActive = worker.epochMs(loopTime: lastActivityMs)
        return "{\"connectedAt\":\"\(TimeFormat.iso8601(connectedAtMs))\",\"identity\":{\"sourceIp\":\(JSONText.quoted(sourceIp)),"
            + "\"userAgent\":\(JSONText.quoted(userAgent))},\"lastActiveAt\":\"\(TimeFormat.iso8601(lastActive))\"}"
    }

    // MARK: StreamHandler

    func streamDidRead(_ stream: TCPStream, _ bytes: UnsafeMutableRawBufferPointer) {
        lastActivityMs = worker.loop.nowMs
        switch phase {
        case .http: handleHTTPBytes(bytes)
        case .open, .closeSent: handleFrames(bytes)
        case .closing, .closed: break
        }
        stream.flush()
        applyBackpressure()
    }

    func streamDidEnd(_ stream: TCPStream, status: Int32) {
        if phase == .open || phase == .closeSent {
            // TCP ended without a closing handshake (RFC 6455 §7.1.5: 1006).
            if phase == .open { disconnectCode = 1006; disconnectReason = "" }
        }
        stream.close()
    }

    func streamDidDrain(_ stream: TCPStream) {
        proxyStream?.clientDrained()
        if pausedForBackpressure && phase != .closing {
            pausedForBackpressure = false
            stream.startReading()
        }
    }

    func streamDidClose(_ stream: TCPStream) {
        phase = .closed
        http = nil
        proxyStream?.clientGone()
        decoder.releaseMemory()
        // Kept before leaving the loop's list, so a drain never sees "no connections" while this
        // one still owes integration work.
        if callInFlight || !pendingWork.isEmpty || accepted {
            worker.keepUntilIdle(self)
        }
        worker.remove(self)
        releaseAdmission()
        endSession()
        pumpPendingWork()
    }

    /// The WebSocket session is over (closing handshake done or failed, or TCP lost): leave the
    /// directory and queue `$disconnect` behind any queued messages (DESIGN §5). Runs once.
    func endSession() {
        guard accepted else { return }
        accepted = false
        worker.observeDisconnect(self)
        worker.byId.removeValue(forKey: connectionId)
        worker.shared.directory.unregister(connectionId)
        worker.registry.unregister(connectionId, node: worker.shared.nodeId) { _ in }
        if worker.settings.disconnectRoute != nil {
            pendingWork.append(.disconnect(attempt: 1))
            pumpPendingWork()
        }
    }

    // MARK: Backpressure (DESIGN §4, slow consumers)

    /// Past half the send buffer we stop reading this client (its own traffic is what fills the
    /// buffer); past the whole buffer the client is not reading at all: close with 1008.
    private func applyBackpressure() {
        let pending = stream.pendingWriteBytes
        guard pending > 0 else { return }
        let limit = worker.settings.limits.sendBufferBytes
        if pending > limit && phase == .open {
            worker.metrics.limitHit(.sendBufferBytes)
            Log.warn("limit reached", ["limit": "send_buffer_bytes", "connectionId": .string(connectionId.description), "code": 1008])
            close(code: .policyViolation, reason: "Send buffer full")
        } else if pending > limit / 2 && stream.isReading {
            pausedForBackpressure = true
            stream.stopReading()
        }
    }

    // MARK: Deadlines, checked by the loop's sweep

    func checkDeadlines(nowMs now: Int64) {
        let limits = worker.settings.limits
        switch phase {
        case .http:
            if now >= phaseDeadlineMs {
                // Slowloris or an idle keep-alive connection: no response, just close.
                worker.metrics.limitHit(.handshakeTimeout)
                stream.close()
            }
        case .open:
            if now - lastActivityMs >= limits.idleTimeoutMs {
                worker.metrics.limitHit(.idleTimeout)
                Log.info("limit reached", ["limit": "idle_timeout", "connectionId": .string(connectionId.description), "code": 1001])
                close(code: .goingAway, reason: "Going away")
            } else if now - openedAtMs >= limits.maxConnectionDurationMs {
                worker.metrics.limitHit(.maxConnectionDuration)
                Log.info("limit reached", ["limit": "max_connection_duration", "connectionId": .string(connectionId.description), "code": 1001])
                close(code: .goingAway, reason: "Going away")
            }
        case .closeSent, .closing:
            if now >= phaseDeadlineMs { stream.close() }
        case .closed:
            break
        }
    }

    // MARK: Drain

    /// Drain (DESIGN §2): WebSockets get 1001. An HTTP connection between requests closes now;
    /// one that was just accepted, or is mid-request or mid-handshake, is answered first (a
    /// handshake completes and then gets 1001; responses carry `Connection: close`), so a
    /// `--takeover` never turns an accepted connection into a silent reset. The handshake
    /// deadline and the drain deadline bound the wait.
    func drain() {
        switch phase {
        case .http:
            let midRequest = (http?.parser.bufferedByteCount ?? 0) > 0 || awaitingResponse != nil
                || !(http?.admin.isEmpty ?? true)
                || http?.pendingKey != nil || callInFlight
            if servedRequest && !midRequest {
                stream.close()
            } else if !midRequest {
                // Accepted just before the listener closed: a short grace for its request.
                phaseDeadlineMs = min(phaseDeadlineMs, worker.loop.nowMs + worker.settings.limits.closeTimeoutMs)
            }
        case .open: close(code: .goingAway, reason: "Going away")
        case .closeSent, .closing, .closed: break
        }
    }

    func abortForShutdown() {
        stream.close()
    }

    /// Our FIN goes out after pending writes; we keep reading (and discarding) until the peer's
    /// EOF or the close timeout.
    func finishAfterFlush() {
        phase = .closing
        endSession()
        phaseDeadlineMs = worker.loop.nowMs + worker.settings.limits.closeTimeoutMs
        if !stream.isReading { stream.startReading() }
        stream.shutdown()
    }
}

/// Holds the HTTP parser only until the upgrade, so WebSocket connections do not carry it.
final class HTTPSession {
    @exclusivity(unchecked) var parser: HTTPRequestParser
    /// Admin requests whose answers come later (from other loops or nodes), in request order.
    var admin = AdminPipeline()
    /// The handshake while its authorizer or `$connect` runs.
    var pendingKey: String?
    var pendingHead: HTTPRequestHead?
    var pendingProtocols: [String] = []
    /// The current request's timing, route and trace for metrics and the access log (Observability/).
    @exclusivity(unchecked) var observation = ConnectionObservation()
    /// The address requests arrive from (TCP peer or PROXY source), before `X-Forwarded-For`.
    var transportPeer: IPAddress?
    /// Set while a listener with `proxy_protocol` waits for the header.
    var proxyDecoder: ProxyProtocolDecoder?

    init(maxHeaderBytes: Int, maxBodyBytes: Int) {
        parser = HTTPRequestParser(maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes)
    }
}
