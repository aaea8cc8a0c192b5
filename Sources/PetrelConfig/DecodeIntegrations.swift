import Yams

extension ConfigReader {
    func decodeIntegration(_ fields: MappingFields) -> IntegrationConfig? {
        defer { fields.finish() }
        guard let type: IntegrationType = fields.required("type").flatMap({ choice($0, at: fields.path("type")) }) else {
            // Still mark the other keys as known: the type problem is the one worth reading.
            for key in ["url", "timeout", "mode", "status", "body", "headers"] { _ = fields[key] }
            return nil
        }
        var integration = IntegrationConfig(type: type)
        if let timeout = fields.positiveDuration("timeout") { integration.timeout = timeout }
        switch type {
        case .http, .httpProxy:
            if let url = fields.required("url").flatMap({ string($0, at: fields.path("url")) }) {
                if url.hasPrefix("http://") || url.hasPrefix("https://") {
                    integration.url = url
                } else {
                    report(fields.path("url"), "expected an http:// or https:// URL")
                }
            }
            for key in ["mode", "status", "body", "headers"] {
                fields.forbid(key, because: "only mock integrations take \(key)")
            }
        case .mock:
            fields.forbid("url", because: "mock integrations take no url")
            integration.mode = fields.choice("mode")
            if let status = fields.int("status") {
                if (100...599).contains(status) { integration.status = status } else { report(fields.path("status"), "expected an HTTP status from 100 to 599") }
            }
            integration.body = fields.string("body")
            integration.headers = fields.stringMap("headers") ?? [:]
            if integration.mode == .echo, integration.body != nil {
                report(fields.path("body"), "an echo mock answers with the message itself and takes no body")
            }
        }
        return integration
    }

    func decodeAuthorizer(_ fields: MappingFields) -> AuthorizerConfig? {
        defer { fields.finish() }
        let jwtKeys = ["issuer", "audiences", "jwks_file", "secret", "secret_file"]
        let httpKeys = ["url", "cache_ttl", "timeout"]
        guard let type: AuthorizerType = fields.required("type").flatMap({ choice($0, at: fields.path("type")) }) else {
            for key in jwtKeys + httpKeys + ["identity_source"] { _ = fields[key] }
            return nil
        }
        var authorizer = AuthorizerConfig(type: type)
        if let sources = fields.stringList("identity_source") {
            if sources.isEmpty { report(fields.path("identity_source"), "must name at least one source") } else { authorizer.identitySource = sources }
        }
        switch type {
        case .jwt:
            for key in httpKeys { fields.forbid(key, because: "only http authorizers take \(key)") }
            authorizer.issuer = fields.string("issuer")
            authorizer.audiences = fields.stringList("audiences") ?? []
            authorizer.jwksFile = fields.string("jwks_file").map(resolvedPath)
            authorizer.secret = fields.secret("secret", required: false)
            if !fields.has("jwks_file"), !fields.has("secret"), !fields.has("secret_file") {
                report(fields.keyPath, "a jwt authorizer needs jwks_file (RS256, ES256) or secret (HS256)")
            }
        case .http:
            for key in jwtKeys { fields.forbid(key, because: "only jwt authorizers take \(key)") }
            if let url = fields.required("url").flatMap({ string($0, at: fields.path("url")) }) {
                if url.hasPrefix("http://") || url.hasPrefix("https://") { authorizer.url = url } else { report(fields.path("url"), "expected an http:// or https:// URL") }
            }
            authorizer.cacheTTL = fields.duration("cache_ttl")
            authorizer.timeout = fields.positiveDuration("timeout")
        }
        return authorizer
    }
}
