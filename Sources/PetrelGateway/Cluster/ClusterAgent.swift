import PetrelCore
import PetrelLoop
import PetrelRedis

/// This node's part in the cluster (DESIGN §7), on loop 0: a heartbeat key refreshed every 2 s
/// (expiring after 10 s), a subscription to its own channel for forwarded `@connections` calls
/// and to the broadcast channel for group posts, and the reaper that takes over the connections
/// of a node that stopped heartbeating.
///
/// One subscriber per node rather than per loop: forwarded calls are management traffic, and
/// loop 0 hands each to the owning loop through its mailbox like local admin calls.
final class ClusterAgent {
    unowned let worker: Worker
    let client: RedisClient
    let registry: RedisConnectionRegistry
    private let subscriber: RedisSubscriber
    private var timer: LoopTimer?
    private var ticks = 0
    private var nextRequest: UInt64 = 0
    private var pending: [UInt64: (deadlineMs: Int64, completion: (HTTPResponse) -> Void)] = [:]
    /// Forwarded calls whose live owner was not subscribed yet, sent again on the next tick.
    private var republish: [(message: [UInt8], requestId: UInt64, node: String)] = []
    private var reapedDisconnects: [ReapedDisconnect] = []
    /// Nodes in `petrel:nodes` and whether their heartbeat was alive at the last reaper pass
    /// (every 5 s), for the admin dashboard.
    private(set) var knownNodes: [String: Bool] = [:]

    static let heartbeatEveryMs: Int64 = 2000
    static let heartbeatTTLMs: Int64 = 10_000
    static let forwardTimeoutMs: Int64 = 2000
    static let broadcastChannel = "petrel:broadcast"

    var nodeId: String { worker.shared.nodeId }
    static func nodeChannel(_ node: String) -> String { "petrel:node:\(node)" }
    static func aliveKey(_ node: String) -> String { "petrel:node:\(node):alive" }

    init(worker: Worker, client: RedisClient, registry: RedisConnectionRegistry, endpoint: RedisEndpoint) {
        self.worker = worker
        self.client = client
        self.registry = registry
        subscriber = RedisSubscriber(loop: worker.loop, endpoint: endpoint)
    }

    func start() {
        subscriber.onStateChange = { [unowned self] up in
            if !up { self.worker.shared.registryReachable.store(false, ordering: .relaxed) }
        }
        subscriber.start(channels: [Self.nodeChannel(nodeId), Self.broadcastChannel]) { [unowned self] _, payload in
            self.received(payload)
        }
        let timer = LoopTimer(loop: worker.loop) { [unowned self] in self.tick() }
        self.timer = timer
        timer.start(everyMs: 250)
        heartbeat()
    }

    func close() {
        timer?.close()
        timer = nil
        subscriber.close()
        for (_, entry) in pending { entry.completion(ManagementError.serviceUnavailable) }
        pending.removeAll()
    }

    private func tick() {
        let now = worker.loop.nowMs
        let expired = pending.filter { $0.value.deadlineMs <= now }
        for (id, entry) in expired {
            pending.removeValue(forKey: id)
            entry.completion(ManagementError.gatewayTimeout)
        }
        let again = republish
        republish.removeAll()
        for call in again where pending[call.requestId] != nil {
            publish(call.message, requestId: call.requestId, node: call.node)
        }
        ticks += 1
        if ticks % 8 == 0 { heartbeat() }
        if ticks % 20 == 5 { reapDeadNodes() }
    }

    /// The heartbeat doubles as the registry probe for `/readyz`: a Redis that accepts
    /// connections but does not answer makes the node not ready.
    private func heartbeat() {
        registry.command(.heartbeat, ["SET", Self.aliveKey(nodeId), "1", "PX", String(Self.heartbeatTTLMs)]) { [unowned self] result in
            let answered: Bool
            if case .success = result { answered = true } else { answered = false }
            // Ready only when calls can also be answered: replies come back on our subscription.
            self.worker.shared.registryReachable.store(answered && self.subscriber.isConnected, ordering: .relaxed)
        }
        client.command(["SADD", "petrel:nodes", nodeId]) { _ in }
    }

    // MARK: Forwarded @connections calls

    /// Sends `operation` to the node that owns `id`; answers with that node's response, 410 when
    /// the node is gone, 503 when Redis is unreachable, 504 when a live owner does not answer.
    func forward(_ operation: ConnectionOperation, to id: ConnectionID, node: String, completion: @escaping (HTTPResponse) -> Void) {
        guard subscriber.isConnected else {
            // The owner's answer would come back on a subscription we do not have yet.
            completion(ManagementError.serviceUnavailable)
            return
        }
        nextRequest += 1
        let requestId = nextRequest
        pending[requestId] = (worker.loop.nowMs + Self.forwardTimeoutMs, completion)
        let message = ClusterMessage.request(id: requestId, from: nodeId, operation: operation, connection: id).encoded()
        publish(message, requestId: requestId, node: node)
    }

    /// Publishes a forwarded call. Nobody listening means the owner is gone (410) — unless its
    /// heartbeat is alive, i.e. it is re-subscribing after a Redis blip: then try again on the
    /// next tick, within the call's 2 s deadline (which answers 504 if it never resubscribes).
    private func publish(_ message: [UInt8], requestId: UInt64, node: String) {
        client.command(.publish, [Array("PUBLISH".utf8), Array(Self.nodeChannel(node).utf8), message], observer: registry.observer) { [unowned self] result in
            switch result {
            case .success(.integer(let receivers)) where receivers > 0:
                break
            case .success:
                self.client.command(["EXISTS", Self.aliveKey(node)]) { alive in
                    guard self.pending[requestId] != nil else { return }
                    if case .success(.integer(1)) = alive {
                        self.republish.append((message, requestId, node))
                    } else {
                        self.pending.removeValue(forKey: requestId)?.completion(ManagementError.gone)
                    }
                }
            case .failure:
                self.pending.removeValue(forKey: requestId)?.completion(ManagementError.serviceUnavailable)
            }
        }
    }

    private func received(_ payload: [UInt8]) {
        guard let message = ClusterMessage(payload) else { return }
        switch message {
        case .request(let id, let from, let operation, let connection):
            worker.performAnywhereOnNode(operation, on: connection) { [unowned self] response in
                self.client.command(.publish, [Array("PUBLISH".utf8), Array(Self.nodeChannel(from).utf8),
                                               ClusterMessage.reply(id: id, response: response).encoded()],
                                    observer: self.registry.observer) { _ in }
            }
        case .reply(let id, let response):
            pending.removeValue(forKey: id)?.completion(response)
        case .groupPost(let group, let body):
            worker.deliverGroupPostLocally(group: group, body: body)
        }
    }

    func publishGroupPost(group: String, body: [UInt8], completion: @escaping (Bool) -> Void) {
        client.command(.publish, [Array("PUBLISH".utf8), Array(Self.broadcastChannel.utf8),
                                  ClusterMessage.groupPost(group: group, body: body).encoded()],
                       observer: registry.observer) { result in
            if case .success = result { completion(true) } else { completion(false) }
        }
    }

    // MARK: Node loss

    /// A node whose heartbeat expired loses its connections: exactly one survivor (the holder of
    /// a Redis lock) removes them and sends their `$disconnect` (1006, "node lost: ID"). Each id
    /// is claimed by an atomic delete, so even two reapers never report one connection twice.
    private func reapDeadNodes() {
        client.command(["SMEMBERS", "petrel:nodes"]) { [unowned self] result in
            guard case .success(let reply) = result, let nodes = reply.array?.compactMap(\.text) else { return }
            self.knownNodes = self.knownNodes.filter { nodes.contains($0.key) }
            for node in nodes where node != self.nodeId {
                self.client.command(["EXISTS", Self.aliveKey(node)]) { alive in
                    if case .success(.integer(let n)) = alive { self.knownNodes[node] = n == 1 }
                    guard case .success(.integer(0)) = alive else { return }
                    self.client.command(["SET", "petrel:reap:\(node)", self.nodeId, "NX", "PX", "30000"]) { lock in
                        guard case .success(.status("OK")) = lock else { return }
                        self.reap(node)
                    }
                }
            }
        }
    }

    private func reap(_ node: String) {
        client.command(["SMEMBERS", RedisConnectionRegistry.nodeConnsKey(node)]) { [unowned self] result in
            guard case .success(let reply) = result, let ids = reply.array?.compactMap({ $0.text.flatMap(ConnectionID.init) }) else { return }
            Log.warn("node lost: reaping its connections", ["node": .string(node), "connections": .int(ids.count)])
            for id in ids {
                self.client.command(["HGETALL", RedisConnectionRegistry.connKey(id)]) { fetched in
                    let record: ConnectionRecord? = {
                        if case .success(let r) = fetched, let items = r.array { return RedisConnectionRegistry.record(id, items) }
                        return nil
                    }()
                    self.registry.claim(id, node: node) { claimed in
                        guard claimed == true, let record else { return }
                        self.sendLostDisconnect(record, node: node)
                    }
                }
            }
            self.client.command(["SREM", "petrel:nodes", node]) { _ in }
            self.client.command(["DEL", RedisConnectionRegistry.nodeConnsKey(node)]) { _ in }
        }
    }

    private func sendLostDisconnect(_ record: ConnectionRecord, node: String) {
        guard worker.settings.disconnectRoute != nil else { return }
        let reaped = ReapedDisconnect(worker: worker, context: DetachedConnection(record), reason: "node lost: \(node)")
        reapedDisconnects.append(reaped)
        reaped.onFinished = { [unowned self, unowned reaped] in
            self.reapedDisconnects.removeAll { $0 === reaped }
        }
        reaped.attempt()
    }
}

/// The `$disconnect` a survivor sends for a lost node's connection, retried like local ones.
final class ReapedDisconnect: IntegrationCompletionTarget {
    unowned let worker: Worker
    let context: DetachedConnection
    let reason: String
    private var attempts = 0
    private var retryTimer: LoopTimer?
    var onFinished: (() -> Void)?

    init(worker: Worker, context: DetachedConnection, reason: String) {
        self.worker = worker
        self.context = context
        self.reason = reason
    }

    func attempt() {
        attempts += 1
        let settings = worker.settings
        guard let route = settings.disconnectRoute else { finish(); return }
        let event = IntegrationEvent(type: .disconnect, routeKey: "$disconnect", connection: context,
                                     requestId: worker.nextRequestID(), requestTimeMs: WallClock.nowMs(),
                                     stage: settings.stage, apiId: settings.apiId,
                                     disconnectStatusCode: 1006, disconnectReason: reason)
        let reply = route.integration.invoke(event, services: worker, completion: IntegrationCompletion(target: self, token: 0))
        if case .pending = reply { return }
        integrationCompleted(token: 0, reply: reply)
    }

    func integrationCompleted(token: UInt64, reply: IntegrationReply) {
        guard case .failure = reply, attempts < Connection.disconnectAttempts else {
            if case .failure = reply {
                Log.error("disconnect event lost", ["connectionId": .string(context.connectionId.description), "attempts": .int(attempts)])
            }
            finish()
            return
        }
        let timer = LoopTimer(loop: worker.loop) { [unowned self] in
            self.retryTimer?.close()
            self.retryTimer = nil
            self.attempt()
        }
        retryTimer = timer
        timer.start(everyMs: UInt64(1000 << attempts))
    }

    private func finish() {
        retryTimer?.close()
        retryTimer = nil
        onFinished?()
    }
}
