import PetrelCodecs
import PetrelCore

/// An event waiting its turn for a connection's integrations, so that events reach integrations
/// in arrival order, `$disconnect` last, and replies go out in the same order (DESIGN §4–5).
enum PendingWork {
    /// `route` nil: no route matched and there is no `$default` (the Forbidden frame, in order).
    case message(route: GatewaySettings.WebSocketRoute?, body: [UInt8], isBinary: Bool,
                 requestId: RequestID, messageId: RequestID, requestTimeMs: Int64)
    case disconnect(attempt: Int)
}

/// The integration call a connection has in flight, so its answer is read the right way.
enum IntegrationCall {
    /// An `http` authorizer; its decision is cached under `cacheKey` for `ttlMs`.
    case authorize(cacheKey: String, ttlMs: Int64?)
    case connect
    case message(respond: Bool)
    case disconnect(attempt: Int)
}

extension Connection {
    /// Runs a message's integration now; the hot path for synchronous (mock) integrations costs
    /// no allocation.
    func invokeMessage(route: GatewaySettings.WebSocketRoute?, payload: UnsafeRawBufferPointer, isBinary: Bool,
                       requestId: RequestID, messageId: RequestID, requestTimeMs: Int64) {
        guard let route else {
            sendErrorFrame("Forbidden")
            return
        }
        worker.metrics.counters.activeRoute = route.metricIndex
        let settings = worker.settings
        let event = IntegrationEvent(type: .message, routeKey: route.key, connection: self,
                                     requestId: requestId, messageId: messageId, requestTimeMs: requestTimeMs,
                                     stage: settings.stage, apiId: settings.apiId,
                                     body: payload, isBinary: isBinary)
        let token = worker.nextIntegrationToken()
        let reply = route.integration.invoke(event, services: worker, completion: IntegrationCompletion(target: worker, token: token))
        switch reply {
        case .pending:
            worker.track(self, token: token, call: .message(respond: route.respond))
        case .echo:
            if phase == .open { sendFrame(isBinary ? .binary : .text, payload); worker.metrics.counters.sent(payload.count) }
        default:
            deliverMessageReply(reply, respond: route.respond)
        }
        if worker.metrics.counters.samplesMessages { worker.observeMessage(self, route: route, requestId: requestId, messageId: messageId, requestTimeMs: requestTimeMs, reply: reply, token: token) }
    }

    private func deliverMessageReply(_ reply: IntegrationReply, respond: Bool) {
        guard phase == .open else { return }
        switch reply {
        case .response(_, let body, _, _):
            if respond { sendMessage(body) }
        case .failure(let failure):
            Log.warn("integration failed", ["failure": .string("\(failure)"), "connectionId": .string(connectionId.description)])
            sendErrorFrame("Internal server error")
        case .none, .echo, .pending:
            break
        }
    }

    /// The answer to this connection's call in flight (from the worker, on this loop).
    func integrationDidComplete(_ call: IntegrationCall, _ reply: IntegrationReply) {
        callInFlight = false
        switch call {
        case .authorize(let cacheKey, let ttlMs):
            let decision: AuthorizerDecision
            switch reply {
            case .response(let status, let body, _, _): decision = HTTPAuthorizer.decision(status: status, body: body)
            default: decision = .deny(status: 500)
            }
            if let ttlMs, case .allow = decision { worker.cacheAuthorization(cacheKey, decision, ttlMs: ttlMs) }
            if case .deny(403) = decision, let ttlMs { worker.cacheAuthorization(cacheKey, decision, ttlMs: ttlMs) }
            applyAuthorization(decision)
        case .connect:
            if let key = http?.pendingKey {
                http?.pendingKey = nil
                finishConnect(reply, key: key)
            }
        case .message(let respond):
            deliverMessageReply(reply, respond: respond)
        case .disconnect(let attempt):
            if case .failure(let failure) = reply {
                if attempt < Self.disconnectAttempts {
                    // Bounded retry with backoff (2 s, 4 s): 3 tries within about 10 s.
                    callInFlight = true
                    worker.retryDisconnect(self, attempt: attempt + 1, afterMs: Int64(1000 << attempt))
                    return
                }
                Log.error("disconnect event lost", ["connectionId": .string(connectionId.description),
                                                    "attempts": .int(attempt), "failure": .string("\(failure)")])
            }
        }
        stream.flush()
        pumpPendingWork()
    }

    static let disconnectAttempts = 3

    /// Starts queued events, one call at a time, until one has to wait for its answer.
    func pumpPendingWork() {
        while !callInFlight, !pendingWork.isEmpty {
            let work = pendingWork.removeFirst()
            switch work {
            case .message(let route, let body, let isBinary, let requestId, let messageId, let requestTimeMs):
                pendingMessageCount -= 1
                body.withUnsafeBytes {
                    invokeMessage(route: route, payload: $0, isBinary: isBinary,
                                  requestId: requestId, messageId: messageId, requestTimeMs: requestTimeMs)
                }
            case .disconnect(let attempt):
                invokeDisconnect(attempt: attempt)
            }
        }
        if phase == .closed, !callInFlight, pendingWork.isEmpty {
            worker.releaseWhenIdle(self)
        }
    }

    func invokeDisconnect(attempt: Int) {
        let settings = worker.settings
        guard let route = settings.disconnectRoute else { return }
        let event = IntegrationEvent(type: .disconnect, routeKey: "$disconnect", connection: self,
                                     requestId: worker.nextRequestID(), requestTimeMs: WallClock.nowMs(),
                                     stage: settings.stage, apiId: settings.apiId,
                                     disconnectStatusCode: disconnectCode, disconnectReason: disconnectReason)
        let token = worker.nextIntegrationToken()
        let reply = route.integration.invoke(event, services: worker, completion: IntegrationCompletion(target: worker, token: token))
        if case .pending = reply {
            worker.track(self, token: token, call: .disconnect(attempt: attempt))
        } else if case .failure = reply {
            integrationDidComplete(.disconnect(attempt: attempt), reply)
        }
    }
}
