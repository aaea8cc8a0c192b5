import PetrelCodecs

/// The admin listener's endpoints. `/healthz` and `/readyz` never need auth (DESIGN §6) so load
/// balancers and kubelets can probe them; the `@connections` API and `/metrics` join later.
enum AdminRoutes {
    static func answer(_ head: HTTPRequestHead, worker: Worker) -> HTTPResponse {
        let path = worker.settings.pathWithoutStage(head.path)
        guard head.method == "GET" || head.method == "HEAD" else {
            return .message(404, "Not Found")
        }
        switch path {
        case "/healthz":
            return .json(200, "{\"status\":\"ok\"}")
        case "/readyz":
            if worker.shared.draining.load(ordering: .relaxed) {
                return .json(503, "{\"ready\":false,\"reasons\":[\"draining\"]}")
            }
            return .json(200, "{\"ready\":true}")
        default:
            return .message(404, "Not Found")
        }
    }
}
