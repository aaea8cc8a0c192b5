import PetrelCore

/// `/healthz` (process up) and `/readyz` (listeners up, not draining) with a JSON body saying
/// why. They never need auth (DESIGN §6) so load balancers and kubelets can probe them.
enum AdminRoutes {
    static func health(_ call: ManagementRequest, shared: GatewayShared) -> HTTPResponse {
        if call == .healthz { return .json(200, "{\"status\":\"ok\"}") }
        if shared.draining.load(ordering: .relaxed) {
            return .json(503, "{\"ready\":false,\"reasons\":[\"draining\"]}")
        }
        return .json(200, "{\"ready\":true}")
    }
}
