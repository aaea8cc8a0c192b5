import PetrelCore

/// `/healthz` (process up) and `/readyz` (listeners up, registry reachable, not draining) with a
/// JSON body saying why. They never need auth (DESIGN §6) so load balancers and kubelets can
/// probe them.
enum AdminRoutes {
    struct Readiness {
        var ready: Bool
        var reasons: [String]
        /// `in-memory`, `redis` or `unreachable`.
        var registry: String
        var draining: Bool
    }

    /// What `/readyz` answers; the dashboard shows the same.
    static func readiness(_ shared: GatewayShared) -> Readiness {
        let draining = shared.draining.load(ordering: .relaxed)
        let registry: String
        var reasons: [String] = []
        if shared.redis == nil {
            registry = "in-memory"
        } else if shared.registryReachable.load(ordering: .relaxed) {
            registry = "redis"
        } else {
            registry = "unreachable"
            reasons.append("registry unreachable")
        }
        if draining { reasons.insert("draining", at: 0) }
        return Readiness(ready: reasons.isEmpty, reasons: reasons, registry: registry, draining: draining)
    }

    static func health(_ call: ManagementRequest, shared: GatewayShared) -> HTTPResponse {
        if call == .healthz { return .json(200, "{\"status\":\"ok\"}") }
        let r = readiness(shared)
        let body = "{\"ready\":\(r.ready),\"reasons\":[\(r.reasons.map { "\"\($0)\"" }.joined(separator: ","))],"
            + "\"checks\":{\"listeners\":\"\(r.draining ? "closed" : "up")\",\"registry\":\"\(r.registry)\",\"draining\":\(r.draining)}}"
        return .json(r.ready ? 200 : 503, body)
    }
}
