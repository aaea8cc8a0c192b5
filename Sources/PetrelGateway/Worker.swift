import Glibc
import PetrelCore
import PetrelCrypto
import PetrelHTTPClient
import PetrelLoop
import PetrelRedis

/// Everything one event loop owns: its listeners, its connections, the deadline sweep and the
/// id generators. Not `Sendable`: reached from other threads only through the loop's mailbox.
final class Worker: IntegrationServices, IntegrationCompletionTarget {
    enum ListenerKind { case publicAPI, admin }

    unowned(unsafe) let loop: EventLoop
    let shared: GatewayShared
    var settings: GatewaySettings
    private(set) var connections: [Connection] = []
    /// Open WebSockets of this loop by id, for `@connections` calls.
    var byId: [ConnectionID: Connection] = [:]
    /// Admin connections waiting for an answer from another loop.
    private var pendingAdmin: [UInt64: (HTTPResponse) -> Void] = [:]
    /// Connections with an integration call in flight, by completion token.
    private var inFlight: [UInt64: (Connection, IntegrationCall)] = [:]
    private var integrationTokens: UInt64 = 0
    /// Closed connections that still owe integration work (queued messages, `$disconnect`).
    private var finishing: [ObjectIdentifier: Connection] = [:]
    /// `$disconnect` retries waiting for their time.
    private var retries: [(dueMs: Int64, connection: Connection, attempt: Int)] = []
    private var nextAdminToken: UInt64 = 0
    var ids = IDGenerator { SecureRandom.fill($0) }
    private var requestIdHigh: UInt64 = 0
    private var requestCounter: UInt32 = 0
    private var listeners: [TCPListener] = []
    private var sweepTimer: LoopTimer?
    private var sweepIntervalMs: UInt64 = 0
    private(set) var draining = false
    private var drainDeadlineMs: Int64 = 0
    /// Outbound HTTP for integrations: one client (a libcurl multi and a plain-http pool) per
    /// loop, made on first use. `PETREL_UPSTREAM_CLIENT=curl` sends `http_proxy` routes through
    /// libcurl too: a benchmark switch (docs/benchmarks.md), not configuration.
    private var client: HTTPClient?
    var httpClient: HTTPClient {
        if let client { return client }
        let curlOnly = getenv("PETREL_UPSTREAM_CLIENT").map { String(cString: $0) } == "curl"
        let made = HTTPClient(loop: loop, options: HTTPClientOptions(pooledPlainHTTP: !curlOnly))
        client = made
        return made
    }

    /// Counters, access-log buffer and in-flight call timings of this loop (Observability/).
    let metrics = LoopMetrics()
    /// Where `Connection.respond` builds each answer's head before the stream copies it: one
    /// buffer per loop, reused, instead of an array per answer.
    @exclusivity(unchecked) var responseHead: [UInt8] = []

    /// Admin dashboard event streams (loop 0, made on first use).
    var dashboardStreams: DashboardStreams?

    /// Runs on the loop when a drain has closed every connection.
    var onDrained: (() -> Void)?

    /// Where connections are registered for the cluster: the shared in-memory registry, or
    /// this loop's own Redis command connection (per loop, so registering before the 101 needs
    /// no hop to another loop).
    let registry: any ConnectionRegistry
    private(set) var redisClient: RedisClient?
    /// Loop 0 with Redis: heartbeat, forwarded calls, group broadcasts, node-loss reaping.
    private(set) var cluster: ClusterAgent?
    private var lastRegistryRefreshMs: Int64 = 0
    /// Epoch minus loop time, taken once (see `epochMs(loopTime:)`).
    let epochOffsetMs: Int64
    static let registryRefreshEveryMs: Int64 = 30_000

    init(loop: EventLoop, shared: GatewayShared, settings: GatewaySettings) {
        self.loop = loop
        self.shared = shared
        self.settings = settings
        epochOffsetMs = WallClock.nowMs() - loop.nowMs
        if let endpoint = shared.redis {
            let client = RedisClient(loop: loop, endpoint: endpoint)
            let redisRegistry = RedisConnectionRegistry(client: client)
            let counters = metrics
            counters.redisConnected = false
            redisRegistry.observer = { counters.registryCall($0, $1, elapsedNs: $2) }
            redisClient = client
            registry = redisRegistry
            if loop.index == 0 {
                cluster = ClusterAgent(worker: self, client: client, registry: redisRegistry, endpoint: endpoint)
            }
        } else {
            registry = SingleNodeRegistry(directory: shared.directory)
        }
        requestIdHigh = ids.makeID().high
        if let client = redisClient {
            client.onStateChange = { [unowned self] up in self.registryStateChanged(up) }
            client.start()
            cluster?.start()
        }
        let timer = LoopTimer(loop: loop) { [unowned self] in self.sweep() }
        sweepTimer = timer
        rescheduleSweep()
    }

    func listen(host: String, port: Int, kind: ListenerKind, reusePort: Bool,
                tls: TLSServerContext? = nil) throws(TCPListener.BindError) -> Int {
        let listener = try TCPListener(loop: loop, host: host, port: port, reusePort: reusePort, tls: tls) { [unowned self] stream in
            self.accept(stream, admin: kind == .admin)
        }
        listeners.append(listener)
        return listener.boundPort
    }

    private func accept(_ stream: TCPStream, admin: Bool) {
        if draining {
            stream.close()
            return
        }
        guard admitAtAccept(stream, admin: admin) else { return }
        let connection = Connection(worker: self, stream: stream, admin: admin)
        connection.slot = connections.count
        connections.append(connection)
        stream.handler = connection
        prepareClientAddress(connection)
        stream.startReading()
    }

    func remove(_ connection: Connection) {
        let slot = connection.slot
        guard slot >= 0, slot < connections.count, connections[slot] === connection else { return }
        let last = connections.removeLast()
        if slot < connections.count {
            connections[slot] = last
            last.slot = slot
        }
        connection.slot = -1
        if draining && connections.isEmpty && finishing.isEmpty { finishDrain() }
    }

    /// Parks an answer that another loop (or node) will produce; `finishCallback` delivers it.
    func awaitCallback(_ completion: @escaping (HTTPResponse) -> Void) -> UInt64 {
        nextAdminToken += 1
        pendingAdmin[nextAdminToken] = completion
        return nextAdminToken
    }

    /// Parks the current admin request's answer; later requests on the connection go on being
    /// served meanwhile (their answers wait their turn), so one keep-alive connection carries
    /// many cross-loop and cross-node calls at once.
    func awaitAdminResponse(_ admin: Connection) -> UInt64 {
        guard let slot = admin.http?.admin.park() else { return awaitCallback { _ in } }
        return awaitCallback { admin.finishParkedAdminResponse(slot, $0) }
    }

    func finishCallback(_ token: UInt64, _ response: HTTPResponse) {
        pendingAdmin.removeValue(forKey: token)?(response)
    }


    /// `http` authorizer decisions by identity, with their expiry (loop time).
    private var authorizationCache: [String: (expiresMs: Int64, decision: AuthorizerDecision)] = [:]

    func cachedAuthorization(_ key: String) -> AuthorizerDecision? {
        guard let entry = authorizationCache[key] else { return nil }
        if entry.expiresMs > loop.nowMs { return entry.decision }
        authorizationCache.removeValue(forKey: key)
        return nil
    }

    func cacheAuthorization(_ key: String, _ decision: AuthorizerDecision, ttlMs: Int64) {
        if authorizationCache.count > 100_000 { authorizationCache.removeAll() }
        authorizationCache[key] = (loop.nowMs + ttlMs, decision)
    }

    func nextIntegrationToken() -> UInt64 {
        integrationTokens &+= 1
        return integrationTokens
    }

    func track(_ connection: Connection, token: UInt64, call: IntegrationCall) {
        connection.callInFlight = true
        metrics.callStarted(token: token, call: call, settings: settings)
        inFlight[token] = (connection, call)
    }

    func integrationCompleted(token: UInt64, reply: IntegrationReply) {
        guard let (connection, call) = inFlight.removeValue(forKey: token) else { return }
        observeCompletion(token: token, connection: connection, reply: reply)
        connection.integrationDidComplete(call, reply)
    }

    func keepUntilIdle(_ connection: Connection) {
        finishing[ObjectIdentifier(connection)] = connection
    }

    func releaseWhenIdle(_ connection: Connection) {
        finishing.removeValue(forKey: ObjectIdentifier(connection))
        if draining && connections.isEmpty && finishing.isEmpty { finishDrain() }
    }

    func retryDisconnect(_ connection: Connection, attempt: Int, afterMs: Int64) {
        retries.append((loop.nowMs + afterMs, connection, attempt))
    }

    /// Request ids: a random 64-bit prefix per loop and a counter, so minting one is an increment.
    func nextRequestID() -> RequestID {
        requestCounter &+= 1
        if requestCounter == 0 { requestIdHigh = ids.makeID().high }
        return RequestID(high: requestIdHigh, low: requestCounter)
    }

    func apply(_ newSettings: GatewaySettings) {
        settings = newSettings
        rescheduleSweep()
    }

    /// One timer per loop checks every connection's deadlines (handshake, idle, duration, close),
    /// instead of a `uv_timer_t` per connection: idle connections stay small, and a sweep over
    /// 10 000 connections costs tens of microseconds.
    private func rescheduleSweep() {
        let l = settings.limits
        let shortest = min(l.idleTimeoutMs, l.maxConnectionDurationMs, l.handshakeTimeoutMs, l.closeTimeoutMs)
        let interval = UInt64(max(50, min(1000, shortest / 4)))
        guard interval != sweepIntervalMs else { return }
        sweepIntervalMs = interval
        sweepTimer?.start(everyMs: interval)
    }

    private func sweep() {
        metrics.sweepTick(intervalMs: sweepIntervalMs)
        let now = loop.nowMs
        if now - lastRegistryRefreshMs >= Self.registryRefreshEveryMs {
            refreshRegistry(sinceMs: lastRegistryRefreshMs)
            lastRegistryRefreshMs = now
        }
        var i = 0
        // A check may close a connection; removal happens later, in its close callback, so the
        // array is stable while we walk it.
        while i < connections.count {
            connections[i].checkDeadlines(nowMs: now)
            i += 1
        }
        if !retries.isEmpty {
            let due = retries.filter { $0.dueMs <= now }
            retries.removeAll { $0.dueMs <= now }
            for retry in due {
                retry.connection.callInFlight = false
                retry.connection.invokeDisconnect(attempt: retry.attempt)
                retry.connection.pumpPendingWork()
            }
        }
        if draining && now >= drainDeadlineMs {
            for connection in connections { connection.abortForShutdown() }
            if !finishing.isEmpty {
                Log.error("drain timed out with integration calls in flight", ["connections": .int(finishing.count)])
                finishing.removeAll()
                retries.removeAll()
                finishDrain()
            }
        }
    }

    /// Stops accepting and closes every connection: WebSockets with 1001 "Going away" (DESIGN §2).
    func beginDrain(timeoutMs: Int64) {
        guard !draining else { return }
        draining = true
        drainDeadlineMs = loop.nowMs + timeoutMs
        for listener in listeners { listener.close() }
        listeners.removeAll()
        dashboardStreams?.endAll()
        for connection in connections { connection.drain() }
        if connections.isEmpty && finishing.isEmpty { finishDrain() }
    }

    /// Set once the drain is complete; integrations then refuse new calls.
    private(set) var shutDown = false

    private func finishDrain() {
        guard !shutDown else { return }
        shutDown = true
        // Release loop resources on a fresh loop turn: we may be inside one of the HTTP client's
        // own callbacks, which must not close the client under itself.
        loop.mailbox.post { loop in (loop.owner as? Worker)?.releaseLoopResources() }
    }

    private func releaseLoopResources() {
        metrics.log.flush()
        dashboardStreams?.endAll()
        dashboardStreams = nil
        cluster?.close()
        cluster = nil
        redisClient?.close()
        redisClient = nil
        finishing.removeAll()
        retries.removeAll()
        sweepTimer?.close()
        sweepTimer = nil
        let closing = client
        client = nil
        closing?.close()
        onDrained?()
        onDrained = nil
    }
}
