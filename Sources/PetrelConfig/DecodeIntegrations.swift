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
        if let timeout = fields.positiveDuration("timeout") {
            integration.timeout = timeout
            integration.timeoutGiven = true
        }
        switch type {
        case .http, .httpProxy:
            if let url = fields.required("url").flatMap({ string($0, at: fields.path("url")) }) {
                // A stage variable may supply the scheme; the URL is checked again once substituted.
                if url.hasPrefix("http://") || url.hasPrefix("https://") || url.hasPrefix(StageVariables.opener) {
                    integration.url = url
                } else {
                    report(fields.path("url"), "expected an http:// or https:// URL")
                }
            }
            integration.headers = fields.stringMap("headers") ?? [:]
            for (name, value) in integration.headers.sorted(by: { $0.key < $1.key }) where !StageVariables.isHeader(name: name, value: value) {
                report(KeyPath.member(fields.path("headers"), name), "expected a header name (letters, digits, -) and a value without line breaks")
            }
            for key in ["mode", "status", "body"] {
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
            for key in jwtKeys + httpKeys + ["identity_source", "keys"] { _ = fields[key] }
            return nil
        }
        if type != .sigv4 { fields.forbid("keys", because: "only sigv4 authorizers take keys") }
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
        case .sigv4:
            for key in jwtKeys + httpKeys { fields.forbid(key, because: "sigv4 authorizers take keys only") }
            fields.forbid("identity_source", because: "sigv4 authorizers read the Authorization header")
            authorizer.identitySource = []
            authorizer.keys = decodeSigV4Keys(fields)
            if authorizer.keys.isEmpty, fields["keys"] == nil {
                report(fields.path("keys"), "required key is missing")
            }
        }
        return authorizer
    }
}

extension ConfigReader {
    /// `keys: [{access_key_id: AKID, secret_access_key: SECRET}]` (or `secret_access_key_file`).
    func decodeSigV4Keys(_ fields: MappingFields) -> [SigV4Key] {
        guard let node = fields["keys"], let entries = sequence(node, at: fields.path("keys")) else { return [] }
        var keys: [SigV4Key] = []
        for entry in entries {
            guard let keyFields = mapping(entry.node, at: entry.keyPath) else { continue }
            let accessKeyId = keyFields.required("access_key_id").flatMap { string($0, at: keyFields.path("access_key_id")) }
            let secret = keyFields.secret("secret_access_key", required: true)
            keyFields.finish()
            if let accessKeyId, let secret { keys.append(SigV4Key(accessKeyId: accessKeyId, secretAccessKey: secret)) }
        }
        if entries.isEmpty { report(fields.path("keys"), "must list at least one key") }
        return keys
    }
}
