import Yams

extension ConfigReader {
    func decodeWebSocket(_ fields: MappingFields) -> WebSocketConfig {
        defer { fields.finish() }
        var websocket = WebSocketConfig()
        if let path = fields.string("path") {
            if path.hasPrefix("/") { websocket.path = path } else { report(fields.path("path"), "must start with /") }
        }
        if let expression = fields.string("route_selection") {
            if expression.isEmpty { report(fields.path("route_selection"), "must not be empty") } else { websocket.routeSelection = expression }
        }
        websocket.allowedOrigins = fields.stringList("allowed_origins") ?? []
        if let limits = fields.mapping("limits") { websocket.limits = decodeLimits(limits) }
        if let routes = fields.mapping("routes") {
            for key in routes.keys {
                guard let routeFields = routes.mapping(key) else { continue }
                if !Self.isWebSocketRouteKey(key) {
                    report(routes.path(key), "expected $connect, $disconnect, $default or a custom key not starting with $")
                }
                if let route = decodeWebSocketRoute(routeFields, isConnect: key == "$connect") { websocket.routes[key] = route }
            }
            routes.finish()
        }
        return websocket
    }

    /// API Gateway's rule: three reserved keys, and custom keys must not start with `$`.
    static func isWebSocketRouteKey(_ key: String) -> Bool {
        ["$connect", "$disconnect", "$default"].contains(key) || (!key.isEmpty && !key.hasPrefix("$"))
    }

    private func decodeLimits(_ fields: MappingFields) -> WebSocketLimits {
        defer { fields.finish() }
        var limits = WebSocketLimits()
        if let value = fields.positiveSize("max_message_bytes") { limits.maxMessageBytes = value }
        if let value = fields.positiveSize("max_frame_bytes") { limits.maxFrameBytes = value }
        if let value = fields.positiveDuration("max_connection_duration") { limits.maxConnectionDuration = value }
        if let value = fields.positiveDuration("idle_timeout") { limits.idleTimeout = value }
        limits.connectRate = fields.mapping("connect_rate").flatMap(decodeRateLimit)
        if let value = fields.positiveSize("send_buffer_bytes") { limits.sendBufferBytes = value }
        if let value = fields.positiveInt("max_pending_messages") { limits.maxPendingMessages = value }
        if let value = fields.positiveDuration("handshake_timeout") { limits.handshakeTimeout = value }
        if let value = fields.positiveSize("max_header_bytes") { limits.maxHeaderBytes = value }
        if let value = fields.positiveSize("max_body_bytes") { limits.maxBodyBytes = value }
        limits.maxConnections = fields.positiveInt("max_connections")
        limits.maxConnectionsPerIP = fields.positiveInt("max_connections_per_ip")
        return limits
    }

    private func decodeWebSocketRoute(_ fields: MappingFields, isConnect: Bool) -> WebSocketRouteConfig? {
        defer { fields.finish() }
        let integration = fields.required("integration").flatMap { string($0, at: fields.path("integration")) }
        let authorizer = fields.string("authorizer")
        if authorizer != nil, !isConnect {
            report(fields.path("authorizer"), "only the $connect route takes an authorizer")
        }
        let respond = fields.bool("respond") ?? false
        guard let integration else { return nil }
        return WebSocketRouteConfig(integration: integration, authorizer: authorizer, respond: respond)
    }
}
