import PetrelCodecs
import PetrelLoop

/// The connection's half of `ClientAddressPolicy`: the PROXY header, `X-Forwarded-For` from
/// trusted proxies, and the per-address and node-wide caps on WebSockets. `peer` ends up holding
/// the client's address, so `sourceIp`, events, logs and caps all see the client.
extension Connection: StreamPreambleHandler {
    var clientAddressPolicy: ClientAddressPolicy { worker.listenerPolicy(admin: isAdmin) }

    /// PROXY protocol bytes, before TLS and HTTP. A bad header closes the connection without a
    /// response: the peer is a balancer, and the bytes may be the start of a TLS handshake.
    func streamDidReadPreamble(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) -> PreambleProgress {
        guard let session = http, session.proxyDecoder != nil else { return .done(consumed: 0) }
        lastActivityMs = worker.loop.nowMs
        guard let result = session.proxyDecoder?.feed(bytes) else { return .done(consumed: 0) }
        switch result {
        case .needMore:
            return .needMore
        case .invalid(let error):
            session.proxyDecoder = nil
            Log.info("bad proxy protocol header", ["reason": .string(error.description), "sourceIp": .string(sourceIp)])
            stream.close()
            return .failed
        case .header(let header, let consumed):
            session.proxyDecoder = nil
            if header.command == .proxy, let source = header.source {
                switch source.ip {
                case .v4(let v4): peer = IPAddress(v4: v4)
                case .v6(let high, let low): peer = IPAddress(v6High: high, low: low)
                }
                session.transportPeer = peer
            }
            let policy = clientAddressPolicy
            if !policy.isTrusted(peer), !policy.permits(peer) {
                worker.metrics.limitHit(.ipRules)
                Log.info("connection refused", ["reason": "address denied", "sourceIp": .string(sourceIp),
                                                "listener": .string(isAdmin ? "admin" : "public")])
                stream.close()
                return .failed
            }
            return .done(consumed: consumed)
        }
    }

    /// Per request: a trusted proxy's `X-Forwarded-For` names the client, and the IP rules apply
    /// to it. False when the request was answered 403 (the connection then closes).
    func applyForwardedFor(_ head: HTTPRequestHead) -> Bool {
        let policy = clientAddressPolicy
        guard !policy.trustedProxies.isEmpty, !holdsAdmission, let transport = http?.transportPeer,
              policy.isTrusted(transport) else { return true }
        peer = policy.client(transport: transport, forwardedFor: head.headers.all("X-Forwarded-For"))
        if policy.permits(peer) { return true }
        worker.metrics.limitHit(.ipRules)
        Log.info("request refused", ["reason": "address denied", "status": 403, "sourceIp": .string(sourceIp)])
        respond(.message(403, "Forbidden"), keepAlive: false)
        return false
    }

    /// On the upgrade: a place under `max_connections` and `max_connections_per_ip`, or 503.
    /// Every WebSocket is counted (caps or not), so a reload that turns a cap on sees the truth.
    func admitWebSocket() -> Bool {
        guard !holdsAdmission else { return true }
        let policy = clientAddressPolicy
        let decision = worker.shared.admission.reserve(peer, maxTotal: policy.maxConnections,
                                                       maxPerAddress: policy.maxConnectionsPerIP)
        switch decision {
        case .admitted:
            holdsAdmission = true
            return true
        case .nodeFull, .addressFull:
            let limit: LimitName = decision == .nodeFull ? .maxConnections : .maxConnectionsPerIP
            worker.metrics.limitHit(limit)
            Log.info("limit reached", ["limit": .string(limit.label), "status": 503, "sourceIp": .string(sourceIp)])
            respond(.message(503, "Service Unavailable"), keepAlive: false)
            return false
        }
    }

    /// At close: give the place back.
    func releaseAdmission() {
        guard holdsAdmission else { return }
        holdsAdmission = false
        worker.shared.admission.release(peer)
    }
}
