import Yams

extension ConfigReader {
    /// The whole file: every top-level key of DESIGN §3.
    func decodeConfig(_ root: Node) -> PetrelConfig {
        var config = PetrelConfig()
        guard let fields = mapping(root, at: "") else { return config }
        if let node = fields.mapping("node") { config.node = decodeNode(node) }
        if let stage = fields.string("stage") {
            if stage.isEmpty || stage.contains("/") || stage.contains(where: \.isWhitespace) {
                report(fields.path("stage"), "expected one path segment without spaces, like prod")
            } else {
                config.stage = stage
            }
        }
        if let apiId = fields.string("api_id") {
            if apiId.isEmpty { report(fields.path("api_id"), "must not be empty") } else { config.apiId = apiId }
        }
        if let listeners = fields.mapping("listeners") { config.listeners = decodeListeners(listeners) }
        if let registry = fields.mapping("registry") { config.registry = decodeRegistry(registry) }
        if let websocket = fields.mapping("websocket") { config.websocket = decodeWebSocket(websocket) }
        if let http = fields.mapping("http") { config.http = decodeHTTP(http) }
        if let integrations = fields.mapping("integrations") {
            for name in integrations.keys {
                declaredIntegrations.insert(name)
                if let entry = integrations.mapping(name), let integration = decodeIntegration(entry) {
                    config.integrations[name] = integration
                }
            }
            integrations.finish()
        }
        if let authorizers = fields.mapping("authorizers") {
            for name in authorizers.keys {
                declaredAuthorizers.insert(name)
                if let entry = authorizers.mapping(name), let authorizer = decodeAuthorizer(entry) {
                    config.authorizers[name] = authorizer
                }
            }
            authorizers.finish()
        }
        config.throttling = fields.mapping("throttling").flatMap(decodeRateLimit)
        config.accessLog = fields.mapping("access_log").flatMap(decodeAccessLog)
        config.apiKeys = fields.mapping("api_keys").map(decodeAPIKeys)
        config.stageVariables = fields.mapping("stage_variables").map(decodeStageVariables) ?? [:]
        fields.finish()
        validateReferences(in: config)
        substituteStageVariables(in: &config)
        return config
    }

    private func decodeNode(_ fields: MappingFields) -> NodeConfig {
        defer { fields.finish() }
        var node = NodeConfig()
        if let id = fields.string("id") {
            if id.isEmpty { report(fields.path("id"), "must not be empty") } else { node.id = id }
        }
        if let threads = fields["threads"] {
            if case .scalar(let scalar) = threads, scalar.string == "auto" {
                node.threads = nil
            } else if let count = int(threads, at: fields.path("threads")) {
                if count > 0 { node.threads = count } else { report(fields.path("threads"), "expected auto or a count greater than 0") }
            }
        }
        return node
    }

    private func decodeRegistry(_ fields: MappingFields) -> RegistryConfig {
        defer { fields.finish() }
        var registry = RegistryConfig()
        if let url = fields.string("redis") {
            if ["redis://", "rediss://", "unix://"].contains(where: url.hasPrefix) {
                registry.redis = url
            } else {
                report(fields.path("redis"), "expected a redis://, rediss:// or unix:// URL")
            }
        }
        return registry
    }

    func decodeRateLimit(_ fields: MappingFields) -> RateLimitConfig? {
        defer { fields.finish() }
        let rate = fields.required("rate").flatMap { double($0, at: fields.path("rate")) }
        let burst = fields.required("burst").flatMap { positiveInt($0, at: fields.path("burst")) }
        if let rate, rate <= 0 {
            report(fields.path("rate"), "must be greater than 0")
            return nil
        }
        guard let rate, let burst else { return nil }
        return RateLimitConfig(rate: rate, burst: burst)
    }

    private func decodeAccessLog(_ fields: MappingFields) -> AccessLogConfig? {
        defer { fields.finish() }
        var format = "json"
        if let value = fields.string("format") {
            if value == "json" { format = value } else { report(fields.path("format"), "expected json") }
        }
        guard let path = fields.required("path").flatMap({ string($0, at: fields.path("path")) }) else { return nil }
        guard !path.isEmpty else {
            report(fields.path("path"), "must not be empty")
            return nil
        }
        var sampleRate = 0.0
        if let rate = fields["sample_rate"].flatMap({ double($0, at: fields.path("sample_rate")) }) {
            if (0...1).contains(rate) { sampleRate = rate } else { report(fields.path("sample_rate"), "expected a number from 0 to 1") }
        }
        var selected = AccessLogField.allCases
        if let names = fields["fields"].flatMap({ sequence($0, at: fields.path("fields")) }) {
            selected = []
            for entry in names {
                guard let name = string(entry.node, at: entry.keyPath) else { continue }
                if let field = AccessLogField(rawValue: name) {
                    if !selected.contains(field) { selected.append(field) }
                } else {
                    report(entry.keyPath, "unknown field; expected one of \(AccessLogField.allCases.map(\.rawValue).joined(separator: ", "))")
                }
            }
            if names.isEmpty { report(fields.path("fields"), "must name at least one field") }
        }
        let destination = (path == "stdout" || path == "stderr") ? path : resolvedPath(path)
        return AccessLogConfig(path: destination, format: format, sampleRate: sampleRate, fields: selected)
    }
}
