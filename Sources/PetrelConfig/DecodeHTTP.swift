import Yams

extension ConfigReader {
    func decodeHTTP(_ fields: MappingFields) -> HTTPConfig {
        defer { fields.finish() }
        var http = HTTPConfig()
        if let routes = fields.mapping("routes") {
            for key in routes.keys {
                guard let routeFields = routes.mapping(key) else { continue }
                if let problem = Self.httpRouteKeyProblem(key) { report(routes.path(key), problem) }
                if let route = decodeHTTPRoute(routeFields) { http.routes[key] = route }
            }
            routes.finish()
        }
        if let cors = fields.mapping("cors") { http.cors = decodeCORS(cors) }
        return http
    }

    /// `$default`, or `METHOD /path` whose segments may be `{name}` and, last only, `{name+}`.
    static func httpRouteKeyProblem(_ key: String) -> String? {
        if key == "$default" { return nil }
        let expected = "expected $default or METHOD /path with METHOD one of GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS, ANY"
        let parts = key.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, HTTPConfig.routeMethods.contains(String(parts[0])), parts[1].hasPrefix("/") else {
            return expected
        }
        let segments = parts[1].dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for (index, segment) in segments.enumerated() where segment.contains("{") || segment.contains("}") {
            guard segment.hasPrefix("{"), segment.hasSuffix("}"), segment.count > 2 else {
                return "a path parameter must be a whole segment, like /{id} or /{proxy+}"
            }
            if segment.hasSuffix("+}"), index != segments.count - 1 {
                return "a greedy parameter {name+} must be the last segment"
            }
        }
        return nil
    }

    private func decodeHTTPRoute(_ fields: MappingFields) -> HTTPRouteConfig? {
        defer { fields.finish() }
        let integration = fields.required("integration").flatMap { string($0, at: fields.path("integration")) }
        let authorizer = fields.string("authorizer")
        let throttle = fields.mapping("throttle").flatMap(decodeRateLimit)
        let scopes = fields.stringList("scopes") ?? []
        guard let integration else { return nil }
        return HTTPRouteConfig(integration: integration, authorizer: authorizer, throttle: throttle, scopes: scopes)
    }

    private func decodeCORS(_ fields: MappingFields) -> CORSConfig {
        defer { fields.finish() }
        var cors = CORSConfig()
        cors.allowOrigins = fields.stringList("allow_origins") ?? []
        cors.allowHeaders = fields.stringList("allow_headers") ?? []
        if let node = fields["allow_methods"], let elements = sequence(node, at: fields.path("allow_methods")) {
            for element in elements {
                guard let method = string(element.node, at: element.keyPath) else { continue }
                if method == "*" || (HTTPConfig.routeMethods.contains(method) && method != "ANY") {
                    cors.allowMethods.append(method)
                } else {
                    report(element.keyPath, "expected an HTTP method like GET, or *")
                }
            }
        }
        if let maxAge = fields.int("max_age") {
            if maxAge >= 0 { cors.maxAge = maxAge } else { report(fields.path("max_age"), "must not be negative") }
        }
        return cors
    }
}
