import PetrelCore

/// `/healthz` (process up) and `/readyz` (listeners up, registry reachable, not draining) with a
/// JSON body saying why. They never need auth (DESIGN §6) so load balancers and kubelets can
/// probe them.
enum AdminRoutes {
    static func health(_ call: ManagementRequest, shared: GatewayShared) -> HTTPResponse {
        if call == .healthz { return .json(200, "{\"status\":\"ok\"}") }
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
        let ready = reasons.isEmpty
        let body = "{\"ready\":\(ready),\"reasons\":[\(reasons.map { "\"\($0)\"" }.joined(separator: ","))],"
            + "\"checks\":{\"listeners\":\"\(draining ? "closed" : "up")\",\"registry\":\"\(registry)\",\"draining\":\(draining)}}"
        return .json(ready ? 200 : 503, body)
    }
}
