import PetrelRedis

/// The admin dashboard's numbers as one JSON object, made from the same merged `MetricSet` a
/// `/metrics` scrape renders. Totals only: the page and `petrel admin stats` turn two snapshots
/// into rates, so the gateway keeps no history for them.
enum DashboardSnapshot {
    struct NodeStatus {
        var id: String
        var readiness: AdminRoutes.Readiness
        /// Other nodes of the cluster and whether their heartbeat is alive (empty alone).
        var peers: [String: Bool]
    }

    static func json(_ set: MetricSet, node: NodeStatus, nowMs: Int64) -> String {
        func total(_ metric: Metric, where keep: ([String]) -> Bool = { _ in true }) -> Double {
            var sum = 0.0
            for (labels, value) in set.values[metric] ?? [:] where keep(labels) {
                if case .scalar(let v) = value { sum += v }
            }
            return sum
        }
        func status(_ labels: [String], _ index: Int, _ range: ClosedRange<Int>) -> Bool {
            Int(labels[index]).map(range.contains) ?? false
        }
        let posts: Set<String> = [ManagementOperation.postToConnection.label, ManagementOperation.postToGroup.label]
        let throttlingLimits: Set<String> = [LimitName.connectRate.label, LimitName.maxPendingMessages.label]
        let registryErrors = total(.registryOperations) { $0[1] != RegistryOutcome.ok.label }

        var out = "{\"time\":\(nowMs),\"node\":{\"id\":\(JSONText.quoted(node.id)),\"ready\":\(node.readiness.ready),"
        out += "\"reasons\":[\(node.readiness.reasons.map(JSONText.quoted).joined(separator: ","))],"
        out += "\"registry\":\(JSONText.quoted(node.readiness.registry))},\"nodes\":["
        var nodes = ["{\"id\":\(JSONText.quoted(node.id)),\"self\":true,\"status\":\"\(node.readiness.ready ? "ready" : "not ready")\"}"]
        for (peer, alive) in node.peers.sorted(by: { $0.key < $1.key }) where peer != node.id {
            nodes.append("{\"id\":\(JSONText.quoted(peer)),\"self\":false,\"status\":\"\(alive ? "alive" : "lost")\"}")
        }
        out += nodes.joined(separator: ",") + "]"
        let fields: [(String, Double)] = [
            ("connectionsOpen", total(.connectionsOpen)),
            ("tcpConnections", total(.tcpConnections)),
            ("connects", total(.connects)),
            ("disconnects", total(.disconnects)),
            ("messagesIn", total(.messages) { $0[0] == "in" }),
            ("messagesOut", total(.messages) { $0[0] == "out" }),
            ("bytesIn", total(.messageBytes) { $0[0] == "in" }),
            ("bytesOut", total(.messageBytes) { $0[0] == "out" }),
            ("posts", total(.managementRequests) { posts.contains($0[0]) }),
        ]
        for (name, value) in fields { out += ",\"\(name)\":\(PrometheusText.number(value))" }
        let errors: [(String, Double)] = [
            ("http4xx", total(.httpRequests) { status($0, 1, 400...499) }),
            ("http5xx", total(.httpRequests) { status($0, 1, 500...599) }),
            ("admin4xx", total(.managementRequests) { status($0, 1, 400...499) }),
            ("admin5xx", total(.managementRequests) { status($0, 1, 500...599) }),
            ("throttled", total(.limitHits) { throttlingLimits.contains($0[0]) } + total(.managementRequests) { $0[1] == "429" }),
            ("rejected", total(.handshakes) { $0[0] != "101" }),
            ("integrationFailures", total(.integrationFailures)),
            ("registryErrors", registryErrors),
        ]
        out += ",\"errors\":{" + errors.map { "\"\($0.0)\":\(PrometheusText.number($0.1))" }.joined(separator: ",") + "}"
        var limits: [String] = []
        for (labels, value) in (set.values[.limitHits] ?? [:]).sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            if case .scalar(let v) = value { limits.append("\(JSONText.quoted(labels[0])):\(PrometheusText.number(v))") }
        }
        out += ",\"limits\":{" + limits.joined(separator: ",") + "},\"routes\":["
        var routes: [String] = []
        for (labels, value) in (set.values[.integrationDuration] ?? [:]).sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            guard case .histogram(let h) = value else { continue }
            var route = "{\"route\":\(JSONText.quoted(labels[0])),\"count\":\(h.count)"
            for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
                route += ",\"\(name)\":" + (quantile(q, h, bounds: Metric.latencyBuckets).map(PrometheusText.number) ?? "null")
            }
            routes.append(route + "}")
        }
        return out + routes.joined(separator: ",") + "]}"
    }

    /// Prometheus' `histogram_quantile`: the bucket holding the rank, interpolated linearly
    /// within it (from 0 for the first); a rank in `+Inf` gives the largest finite bound.
    static func quantile(_ q: Double, _ h: HistogramValue, bounds: [Double]) -> Double? {
        guard h.count > 0, !bounds.isEmpty else { return nil }
        let rank = q * Double(h.count)
        var cumulative = 0
        for (i, bound) in bounds.enumerated() {
            let inBucket = i < h.buckets.count ? h.buckets[i] : 0
            if Double(cumulative + inBucket) >= rank, inBucket > 0 {
                let lower = i == 0 ? 0 : bounds[i - 1]
                return lower + (bound - lower) * (rank - Double(cumulative)) / Double(inBucket)
            }
            cumulative += inBucket
        }
        return bounds[bounds.count - 1]
    }
}
