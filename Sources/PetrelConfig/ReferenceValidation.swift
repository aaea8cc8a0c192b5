extension ConfigReader {
    /// Checks that every route names an integration and authorizer that exist. Runs after
    /// decoding, since routes may come before the integrations they name.
    func validateReferences(in config: PetrelConfig) {
        for (key, route) in config.websocket.routes.sorted(by: { $0.key < $1.key }) {
            let routePath = KeyPath.member("websocket.routes", key)
            checkIntegration(route.integration, at: KeyPath.member(routePath, "integration"))
            if let authorizer = route.authorizer { checkAuthorizer(authorizer, at: KeyPath.member(routePath, "authorizer")) }
        }
        for (key, route) in config.http.routes.sorted(by: { $0.key < $1.key }) {
            let routePath = KeyPath.member("http.routes", key)
            checkIntegration(route.integration, at: KeyPath.member(routePath, "integration"))
            if let authorizer = route.authorizer { checkAuthorizer(authorizer, at: KeyPath.member(routePath, "authorizer")) }
        }
    }

    private func checkIntegration(_ name: String, at keyPath: String) {
        if !declaredIntegrations.contains(name) { report(keyPath, "no integration named \"\(name)\" in integrations") }
    }

    private func checkAuthorizer(_ name: String, at keyPath: String) {
        if !declaredAuthorizers.contains(name) { report(keyPath, "no authorizer named \"\(name)\" in authorizers") }
    }
}
