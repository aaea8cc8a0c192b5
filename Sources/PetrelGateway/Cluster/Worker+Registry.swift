import PetrelCore
import PetrelLoop

/// Keeping the cluster registry in step with this loop's connections (DESIGN §7).
extension Worker {
    /// Records expire this long after their last refresh.
    var registryTTLMs: Int64 { settings.limits.maxConnectionDurationMs + 10 * 60 * 1000 }

    func record(for connection: Connection) -> ConnectionRecord {
        ConnectionRecord(id: connection.connectionId, node: shared.nodeId, connectedAtMs: connection.connectedAtMs,
                         sourceIp: connection.sourceIp, userAgent: connection.userAgent,
                         domainName: connection.domainName,
                         lastActiveAtMs: epochMs(loopTime: connection.lastActivityMs))
    }

    /// Converts the loop's monotonic time to epoch milliseconds with one offset fixed per loop, so
    /// the same instant always reads the same (a forwarded GET answers exactly what the owner does).
    func epochMs(loopTime: Int64) -> Int64 {
        loopTime + epochOffsetMs
    }

    /// Redis came back (or went away). On return, write back every live connection and its groups,
    /// so registrations made during the outage reach the cluster and the registry converges.
    func registryStateChanged(_ up: Bool) {
        // Loop 0 going down makes the node not ready at once; readiness comes back with the
        // next heartbeat that Redis answers while the subscription is up (ClusterAgent).
        if loop.index == 0 && !up { shared.registryReachable.store(false, ordering: .relaxed) }
        metrics.redisStateChanged(up)
        Log.info(up ? "registry reachable" : "registry unreachable", ["loop": .int(loop.index)])
        guard up else { return }
        let ttl = registryTTLMs
        for connection in byId.values {
            let id = connection.connectionId
            registry.register(record(for: connection), ttlMs: ttl) { [unowned self] ok in
                guard ok else { return }
                for group in self.shared.directory.groups(of: id) {
                    self.registry.join(id, group: group) { _ in }
                }
            }
        }
    }

    /// Batched `lastActiveAt`: one refresh per active connection per interval, not per message.
    func refreshRegistry(sinceMs: Int64) {
        guard redisClient != nil else { return }
        let active = byId.values.filter { $0.lastActivityMs >= sinceMs }.map(\.connectionId)
        guard !active.isEmpty else { return }
        registry.touch(active, atMs: WallClock.nowMs(), ttlMs: registryTTLMs)
    }

    /// Performs a call for a connection of this node on whichever loop owns it; the completion runs
    /// on this loop.
    func performAnywhereOnNode(_ operation: ConnectionOperation, on id: ConnectionID,
                               completion: @escaping (HTTPResponse) -> Void) {
        guard let owner = shared.directory.loop(of: id) else {
            completion(ManagementError.gone)
            return
        }
        if owner == loop.index {
            completion(perform(operation, on: id))
            return
        }
        let mailboxes = shared.mailboxes.withLock { $0 }
        guard owner < mailboxes.count else { completion(ManagementError.gone); return }
        let token = awaitCallback(completion)
        let reply = mailboxes[loop.index]
        mailboxes[owner].post { ownerLoop in
            let response = (ownerLoop.owner as? Worker)?.perform(operation, on: id) ?? ManagementError.gone
            reply.post { back in (back.owner as? Worker)?.finishCallback(token, response) }
        }
    }

    /// A group post from any node: delivered to this node's members (the cluster-wide set in
    /// Redis, and local joins, so members joined during an outage are not missed).
    func deliverGroupPostLocally(group: String, body: [UInt8]) {
        registry.members(of: group) { [unowned self] ids in
            var local = Set(self.shared.directory.members(of: group).map(\.0))
            for id in ids ?? [] where self.shared.directory.loop(of: id) != nil { local.insert(id) }
            self.fanOut(body, to: local.compactMap { id in self.shared.directory.loop(of: id).map { (id, $0) } })
        }
    }
}
