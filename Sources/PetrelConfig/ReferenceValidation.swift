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
            let type = route.authorizer.flatMap { config.authorizers[$0]?.type }
            if !route.scopes.isEmpty, let type, type != .jwt {
                report(KeyPath.member(routePath, "scopes"), "scopes apply to jwt authorizers only")
            }
            if !route.accessKeys.isEmpty {
                if let type, type != .sigv4 {
                    report(KeyPath.member(routePath, "access_keys"), "access_keys apply to sigv4 authorizers only")
                } else if route.authorizer == nil {
                    report(KeyPath.member(routePath, "access_keys"), "access_keys need a sigv4 authorizer on the route")
                } else if let name = route.authorizer, let known = config.authorizers[name]?.keys.map(\.accessKeyId) {
                    for key in route.accessKeys where !known.contains(key) {
                        report(KeyPath.member(routePath, "access_keys"), "authorizer \(name) has no key \(key)")
                    }
                }
            }
            if route.apiKeyRequired, config.apiKeys?.keys.isEmpty ?? true {
                report(KeyPath.member(routePath, "api_key_required"), "no keys in api_keys")
            }
        }
        for (key, route) in config.websocket.routes.sorted(by: { $0.key < $1.key }) {
            if let name = route.authorizer, config.authorizers[name]?.type == .sigv4 {
                report(KeyPath.member(KeyPath.member("websocket.routes", key), "authorizer"), "sigv4 authorizers apply to HTTP routes only")
            }
            if let integration = config.integrations[route.integration], integration.type == .httpProxy {
                report(KeyPath.member(KeyPath.member("websocket.routes", key), "integration"), "http_proxy integrations apply to HTTP routes only")
            }
        }
    }

    private func checkIntegration(_ name: String, at keyPath: String) {
        if !declaredIntegrations.contains(name) { report(keyPath, "no integration named \"\(name)\" in integrations") }
    }

    private func checkAuthorizer(_ name: String, at keyPath: String) {
        if !declaredAuthorizers.contains(name) { report(keyPath, "no authorizer named \"\(name)\" in authorizers") }
    }
}
