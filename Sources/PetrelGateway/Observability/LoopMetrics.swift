import CLibUV
import PetrelCore
import PetrelCrypto
import PetrelRedis

/// One loop's counters, owned by its `Worker` and touched only on that loop: plain `Int`s, no
/// atomics or locks. The per-message counters are in `MessageCounters`; everything here is off
/// the message path.
final class LoopMetrics {
    /// The message-path counters (see `MessageCounters`).
    let counters = MessageCounters()

    var activeRoute: Int {
        get { counters.activeRoute }
        set { counters.activeRoute = newValue }
    }

    var connects = 0
    var disconnects = [Int](repeating: 0, count: DisconnectReason.allCases.count)
    var limitHits = [Int](repeating: 0, count: LimitName.allCases.count)
    var handshakes: [Int: Int] = [:]
    /// Keyed by route number × 1000 + status.
    @exclusivity(unchecked) var httpRequests: [Int: Int] = [:]
    /// Keyed by operation × 1000 + status.
    var management: [Int: Int] = [:]
    var integrationDurations: [Int: HistogramValue] = [:]
    /// Keyed by route number × 4 + failure kind.
    var integrationFailures: [Int: Int] = [:]
    var loopLag = HistogramValue(bucketCount: Metric.lagBuckets.count)
    /// Keyed by operation × 4 + outcome.
    var registryCalls = [Int](repeating: 0, count: RegistryOperation.allCases.count * 4)
    var registryDurations = [HistogramValue](repeating: HistogramValue(bucketCount: Metric.registryBuckets.count),
                                             count: RegistryOperation.allCases.count)
    /// nil without Redis; else whether this loop's command connection is up.
    var redisConnected: Bool?
    var redisReconnects = 0
    private var redisWasConnected = false
    private var lastSweepNs: UInt64 = 0

    /// Asynchronous integration calls in flight, by completion token.
    struct Call {
        var startNs: UInt64
        var route: Int
        /// Set when the message was sampled for the access log.
        var logged: (requestId: RequestID, messageId: RequestID, requestTimeMs: Int64)?
    }
    var calls: [UInt64: Call] = [:]

    var log = LoopAccessLog()
    /// Scrapes this loop is assembling: parts still to come, the merge so far, who wants it.
    var scrapes: [UInt64: (remaining: Int, set: MetricSet, done: (MetricSet) -> Void)] = [:]
    var nextScrape: UInt64 = 0

    /// Random per loop: mixed into traces derived from connection ids.
    let traceSalt: UInt64

    init() {
        var salt: UInt64 = 0
        withUnsafeMutableBytes(of: &salt) { SecureRandom.fill($0) }
        traceSalt = salt | 1
        log.random ^= uv_hrtime() | 1
        refreshAccessLog()
    }

    private func refreshAccessLog() {
        log.state = AccessLog.state
        counters.hot.pointee.sampleThreshold = log.state?.sampleThreshold ?? 0
    }

    func limitHit(_ limit: LimitName) {
        limitHits[limit.rawValue] += 1
    }

    func callStarted(token: UInt64, call: IntegrationCall, settings: GatewaySettings) {
        let route: Int
        switch call {
        case .authorize: route = MetricRoutes.authorizer
        case .connect: route = settings.connectRoute?.metricIndex ?? MetricRoutes.none
        case .disconnect: route = settings.disconnectRoute?.metricIndex ?? MetricRoutes.none
        case .message: route = activeRoute
        }
        calls[token] = Call(startNs: uv_hrtime(), route: route)
    }

    /// Records the call's latency and failure; returns the call (nil when it was not tracked).
    func callFinished(token: UInt64, reply: IntegrationReply) -> Call? {
        guard let call = calls.removeValue(forKey: token) else { return nil }
        let elapsedNs = uv_hrtime() &- call.startNs
        var histogram = integrationDurations[call.route] ?? HistogramValue(bucketCount: Metric.latencyBuckets.count)
        histogram.record(Double(elapsedNs) / 1e9, bounds: Metric.latencyBuckets)
        integrationDurations[call.route] = histogram
        if case .failure(let failure) = reply {
            let kind: IntegrationFailureKind = failure == .timeout ? .timeout : failure == .unreachable ? .unreachable : .badResponse
            integrationFailures[call.route * 4 + kind.rawValue, default: 0] += 1
        }
        activeRoute = call.route
        return call
    }

    /// A registry call completed (connect, disconnect, @connections and cluster traffic; never
    /// per echoed message).
    func registryCall(_ operation: RegistryOperation, _ outcome: RegistryOutcome, elapsedNs: UInt64) {
        registryCalls[operation.rawValue * 4 + outcome.rawValue] += 1
        registryDurations[operation.rawValue].record(Double(elapsedNs) / 1e9, bounds: Metric.registryBuckets)
    }

    func redisStateChanged(_ up: Bool) {
        if up && redisWasConnected && redisConnected == false { redisReconnects += 1 }
        if up { redisWasConnected = true }
        redisConnected = up
    }

    /// Each sweep: how late the timer fired, a fresh view of the access-log settings, and a flush.
    func sweepTick(intervalMs: UInt64) {
        let now = uv_hrtime()
        if lastSweepNs != 0, intervalMs > 0 {
            let expected = lastSweepNs &+ intervalMs * 1_000_000
            let lateNs = now > expected ? now - expected : 0
            loopLag.record(Double(lateNs) / 1e9, bounds: Metric.lagBuckets)
        }
        lastSweepNs = now
        log.flush()
        refreshAccessLog()
    }

    /// This loop's samples; `loop`, `open` and `tcp` come from the worker.
    func snapshot(loop: Int, openWebSockets: Int, tcpConnections: Int) -> MetricSet {
        let names = MetricRoutes.names()
        func name(_ route: Int) -> String { route < names.count ? names[route] : "#\(route)" }
        var set = MetricSet()
        set.add(.connects, [], connects)
        for reason in DisconnectReason.allCases where disconnects[reason.rawValue] > 0 {
            set.add(.disconnects, [reason.label], disconnects[reason.rawValue])
        }
        set.add(.connectionsOpen, [String(loop)], openWebSockets)
        set.add(.tcpConnections, [String(loop)], tcpConnections)
        let hot = counters.hot
        for route in 0..<hot.pointee.routeCapacity {
            let base = hot.pointee.routeSlots + route * MessageCounters.Slot.count
            if base[MessageCounters.Slot.inMessages] > 0 || base[MessageCounters.Slot.inBytes] > 0 {
                set.add(.messages, ["in", name(route)], base[MessageCounters.Slot.inMessages])
                set.add(.messageBytes, ["in", name(route)], base[MessageCounters.Slot.inBytes])
            }
            if base[MessageCounters.Slot.outMessages] > 0 || base[MessageCounters.Slot.outBytes] > 0 {
                set.add(.messages, ["out", name(route)], base[MessageCounters.Slot.outMessages])
                set.add(.messageBytes, ["out", name(route)], base[MessageCounters.Slot.outBytes])
            }
        }
        for (key, n) in httpRequests { set.add(.httpRequests, [name(key / 1000), String(key % 1000)], n) }
        for (status, n) in handshakes { set.add(.handshakes, [String(status)], n) }
        for (route, h) in integrationDurations { set.add(.integrationDuration, [name(route)], histogram: h) }
        for (key, n) in integrationFailures {
            set.add(.integrationFailures, [name(key / 4), IntegrationFailureKind(rawValue: key % 4)!.label], n)
        }
        for limit in LimitName.allCases where limitHits[limit.rawValue] > 0 {
            set.add(.limitHits, [limit.label], limitHits[limit.rawValue])
        }
        for (key, n) in management {
            set.add(.managementRequests, [ManagementOperation(rawValue: key / 1000)!.label, String(key % 1000)], n)
        }
        set.add(.accessLogLines, [], log.lines)
        set.add(.accessLogDropped, [], log.dropped)
        set.add(.loopLag, [String(loop)], histogram: loopLag)
        if let redisConnected {
            set.add(.redisConnected, [String(loop)], redisConnected ? 1 : 0)
            set.add(.redisReconnects, [], redisReconnects)
            for operation in RegistryOperation.allCases where registryDurations[operation.rawValue].count > 0 {
                set.add(.registryDuration, [operation.label], histogram: registryDurations[operation.rawValue])
                for outcome in RegistryOutcome.allCases where registryCalls[operation.rawValue * 4 + outcome.rawValue] > 0 {
                    set.add(.registryOperations, [operation.label, outcome.label], registryCalls[operation.rawValue * 4 + outcome.rawValue])
                }
            }
        }
        return set
    }
}

/// The per-message counters: one flat buffer of plain `Int`s indexed by route number
/// (`MetricRoutes`), four slots per route, behind a pointer. A trivially copyable struct, so the
/// inlined hooks (`worker.metrics.counters.sent(n)`) neither retain the `LoopMetrics` object nor
/// pay dynamic exclusivity checks, which class properties would get on every write. Freed never:
/// one per loop, for the life of the process.
struct MessageCounters {
    enum Slot { static let inMessages = 0, inBytes = 1, outMessages = 2, outBytes = 3, count = 4 }

    struct Hot {
        var routeSlots: UnsafeMutablePointer<Int>
        var routeCapacity: Int
        /// The route whose traffic is being handled now: set when a message is received or
        /// invoked, when an asynchronous answer arrives, and for `@connections` posts; messages
        /// sent out are counted under it.
        var activeRoute: Int
        /// Nonzero when the access log samples messages (copied from the access-log state).
        var sampleThreshold: UInt64
    }

    let hot: UnsafeMutablePointer<Hot>

    init() {
        let capacity = 16
        let slots = UnsafeMutablePointer<Int>.allocate(capacity: capacity * Slot.count)
        slots.initialize(repeating: 0, count: capacity * Slot.count)
        hot = .allocate(capacity: 1)
        hot.initialize(to: Hot(routeSlots: slots, routeCapacity: capacity, activeRoute: 0, sampleThreshold: 0))
    }

    var activeRoute: Int {
        @inline(__always) get { hot.pointee.activeRoute }
        @inline(__always) nonmutating set { hot.pointee.activeRoute = newValue }
    }

    /// One test on the message path when messages are not sampled.
    var samplesMessages: Bool {
        @inline(__always) get { hot.pointee.sampleThreshold != 0 }
    }

    @inline(never)
    private static func grow(_ hot: UnsafeMutablePointer<Hot>, to route: Int) {
        let old = hot.pointee
        let capacity = max(old.routeCapacity * 2, route + 1)
        let slots = UnsafeMutablePointer<Int>.allocate(capacity: capacity * Slot.count)
        slots.initialize(repeating: 0, count: capacity * Slot.count)
        slots.update(from: old.routeSlots, count: old.routeCapacity * Slot.count)
        old.routeSlots.deallocate()
        hot.pointee.routeSlots = slots
        hot.pointee.routeCapacity = capacity
    }

    @inline(__always)
    func received(_ route: Int, _ bytes: Int) {
        if route >= hot.pointee.routeCapacity { Self.grow(hot, to: route) }
        hot.pointee.activeRoute = route
        let base = hot.pointee.routeSlots + route &* Slot.count
        base[Slot.inMessages] &+= 1
        base[Slot.inBytes] &+= bytes
    }

    @inline(__always)
    func sent(_ bytes: Int) {
        let route = hot.pointee.activeRoute
        if route >= hot.pointee.routeCapacity { Self.grow(hot, to: route) }
        let base = hot.pointee.routeSlots + route &* Slot.count
        base[Slot.outMessages] &+= 1
        base[Slot.outBytes] &+= bytes
    }
}
