import PetrelCodecs
import PetrelCore
import PetrelLoop

/// What the admin API asks of the loop that owns a connection.
enum ConnectionOperation: Sendable {
    case post([UInt8])
    case get
    case delete(code: UInt16, reason: String)
    case join(String)
    case leave(String)
}

/// The `@connections` API and groups (DESIGN §6). The admin listener runs on loop 0; a call for a
/// connection on another loop travels through that loop's mailbox and its answer comes back
/// through loop 0's, so connections are only ever touched by their own loop.
extension Worker {
    /// The response now, or nil when it comes later through `Connection.finishAsyncResponse`.
    func handleManagement(_ request: HTTPRequest, from admin: Connection) -> HTTPResponse? {
        let settings = self.settings
        let head = request.head
        let rawQuery = head.query
        let call = ManagementRequest.parse(method: head.method, rawPath: head.path, stage: settings.stage)
        admin.http?.observation.route = Int32(ManagementOperation(call).rawValue)
        if call.needsAuth && !(call == .metrics && settings.adminAuth.publicMetrics) {
            guard settings.adminAuth.allows(head, body: request.body, nowEpochSeconds: WallClock.nowMs() / 1000) else {
                return ManagementError.forbidden
            }
        }
        switch call {
        case .healthz, .readyz:
            return AdminRoutes.health(call, shared: shared)
        case .metrics:
            return serveMetrics(admin)
        case .dashboard:
            return DashboardPage.response(authRequired: settings.adminAuth.isConfigured)
        case .dashboardSnapshot:
            return answer(admin) { reply in self.dashboardSnapshot { reply(.json(200, $0)) } }
        case .dashboardEvents:
            return startDashboardStream(admin)
        case .notFound:
            return ManagementError.notFound
        case .methodNotAllowed:
            return ManagementError.methodNotAllowed
        case .listConnections:
            let query = PercentDecoding.queryPairs(rawQuery)
            let limit = query.first { $0.0 == "limit" }.flatMap { Int($0.1) }.map { min(max($0, 1), 10_000) } ?? 1000
            let cursor = query.first { $0.0 == "cursor" }?.1
            let page = shared.directory.page(after: cursor, limit: limit)
            var body = "{\"count\":\(shared.directory.count),\"connectionIds\":["
            body += page.ids.map { JSONText.quoted($0) }.joined(separator: ",") + "]"
            if let next = page.next { body += ",\"nextCursor\":\(JSONText.quoted(next))" }
            return .json(200, body + "}")
        case .getGroup(let group):
            let local = shared.directory.members(of: group).map(\.0)
            return answer(admin) { reply in
                self.registry.members(of: group) { ids in
                    // Redis unreachable: this node's members are all we can vouch for.
                    let all = Set(local).union(ids ?? []).map { JSONText.quoted($0.description) }.sorted()
                    reply(.json(200, "{\"group\":\(JSONText.quoted(group)),\"connectionIds\":[\(all.joined(separator: ","))]}"))
                }
            }
        case .postToGroup(let group):
            guard request.body.count <= settings.limits.maxMessageBytes else { return ManagementError.payloadTooLarge }
            guard let cluster else {
                fanOut(request.body, to: shared.directory.members(of: group))
                return HTTPResponse(status: 200)
            }
            // Every node (this one included, through its subscription) delivers to its own members.
            let body = request.body
            return answer(admin) { reply in
                cluster.publishGroupPost(group: group, body: body) { published in
                    if !published { self.fanOut(body, to: self.shared.directory.members(of: group)) }
                    reply(HTTPResponse(status: 200))
                }
            }
        case .joinGroup(let id, let group):
            return changeMembership(id, group: group, joining: true, admin: admin)
        case .leaveGroup(let id, let group):
            return changeMembership(id, group: group, joining: false, admin: admin)
        case .postToConnection(let id):
            return route(.post(request.body), to: id, admin: admin, bodyCount: request.body.count)
        case .getConnection(let id):
            return route(.get, to: id, admin: admin, bodyCount: 0)
        case .deleteConnection(let id):
            var code: UInt16 = 1000
            var reason = "Connection Closed Normally"
            for (key, value) in PercentDecoding.queryPairs(rawQuery) {
                if key == "code" {
                    guard let c = UInt16(value), c == 1000 || (3000...4999).contains(c) else {
                        return ManagementError.badRequest("code must be 1000 or 3000-4999")
                    }
                    code = c
                } else if key == "reason" {
                    guard value.utf8.count <= 123 else { return ManagementError.badRequest("reason is longer than 123 bytes") }
                    reason = value
                }
            }
            return route(.delete(code: code, reason: reason), to: id, admin: admin, bodyCount: 0)
        }
    }

    private func route(_ operation: ConnectionOperation, to id: String, admin: Connection, bodyCount: Int) -> HTTPResponse? {
        // Any id that names no live connection, malformed ones included, is gone (410).
        guard let connectionId = ConnectionID(id) else { return ManagementError.gone }
        if case .post = operation, bodyCount > settings.limits.maxMessageBytes {
            return ManagementError.payloadTooLarge
        }
        return answer(admin) { reply in self.dispatch(operation, to: connectionId, completion: reply) }
    }

    /// Runs a call on the node and loop that own the connection. Local ids never touch Redis; on
    /// this very loop the answer comes at once.
    func dispatch(_ operation: ConnectionOperation, to connectionId: ConnectionID, completion reply: @escaping (HTTPResponse) -> Void) {
        if shared.directory.loop(of: connectionId) != nil {
            performAnywhereOnNode(operation, on: connectionId, completion: reply)
            return
        }
        guard let cluster else { return reply(ManagementError.gone) }
        registry.lookup(connectionId) { lookup in
            switch lookup {
            case .gone:
                reply(ManagementError.gone)
            case .unavailable:
                reply(ManagementError.serviceUnavailable)
            case .found(let record) where record.node == self.shared.nodeId:
                // Registered here but no longer open: a stale record.
                reply(ManagementError.gone)
            case .found(let record):
                cluster.forward(operation, to: connectionId, node: record.node, completion: reply)
            }
        }
    }

    /// Group membership: the owning node records it locally (so it can write it back after a
    /// Redis outage), then this node stores it in the registry before answering, so a read from
    /// any node right after the 204 sees it.
    private func changeMembership(_ id: String, group: String, joining: Bool, admin: Connection) -> HTTPResponse? {
        guard let connectionId = ConnectionID(id) else { return ManagementError.gone }
        return answer(admin) { reply in
            self.dispatch(joining ? .join(group) : .leave(group), to: connectionId) { response in
                guard response.status == 204 else { return reply(response) }
                let stored: (Bool) -> Void = { _ in reply(response) }
                if joining {
                    self.registry.join(connectionId, group: group, completion: stored)
                } else {
                    self.registry.leave(connectionId, group: group, completion: stored)
                }
            }
        }
    }

    /// Starts work that answers through `reply`, at once or later. An immediate answer is
    /// returned; otherwise the admin connection waits for it (and its pipelined requests too).
    func answer(_ admin: Connection, _ start: (_ reply: @escaping (HTTPResponse) -> Void) -> Void) -> HTTPResponse? {
        let pending = PendingAnswer()
        start { [unowned self] response in
            if let token = pending.token { self.finishCallback(token, response) } else { pending.immediate = response }
        }
        if let immediate = pending.immediate { return immediate }
        pending.token = awaitAdminResponse(admin)
        return nil
    }

    /// Runs on the connection's own loop.
    func perform(_ operation: ConnectionOperation, on id: ConnectionID) -> HTTPResponse {
        guard let connection = byId[id], connection.phase == .open else { return ManagementError.gone }
        switch operation {
        case .post(let bytes):
            guard connection.stream.pendingWriteBytes + bytes.count <= settings.limits.sendBufferBytes else {
                return ManagementError.limitExceeded
            }
            metrics.activeRoute = MetricRoutes.management
            connection.sendMessage(bytes)
            connection.stream.flush()
            return HTTPResponse(status: 200)
        case .get:
            return .json(200, connection.describeForManagement())
        case .delete(let code, let reason):
            connection.close(code: WebSocketCloseCode(rawValue: code), reason: reason)
            return HTTPResponse(status: 204)
        case .join(let group):
            return shared.directory.join(id, group: group) ? HTTPResponse(status: 204) : ManagementError.gone
        case .leave(let group):
            return shared.directory.leave(id, group: group) ? HTTPResponse(status: 204) : ManagementError.gone
        }
    }

    /// Delivers one message to every member; members on other loops get it through their mailbox.
    func fanOut(_ bytes: [UInt8], to members: [(ConnectionID, Int)]) {
        var byLoop: [Int: [ConnectionID]] = [:]
        for (id, loopIndex) in members { byLoop[loopIndex, default: []].append(id) }
        let mailboxes = shared.mailboxes.withLock { $0 }
        for (loopIndex, ids) in byLoop {
            if loopIndex == loop.index {
                for id in ids { _ = perform(.post(bytes), on: id) }
            } else if loopIndex < mailboxes.count {
                mailboxes[loopIndex].post { loop in
                    guard let worker = loop.owner as? Worker else { return }
                    for id in ids { _ = worker.perform(.post(bytes), on: id) }
                }
            }
        }
    }
}

/// An answer that may come before or after `answer` returns.
private final class PendingAnswer {
    var immediate: HTTPResponse?
    var token: UInt64?
}
