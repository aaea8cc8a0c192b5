import Testing
@testable import PetrelConfig

/// DESIGN §3: the values that apply when a key is omitted.
@Suite struct DefaultValueTests {
    @Test func emptyFileLoadsWithEveryDefault() throws {
        #expect(try loadConfig("") == PetrelConfig())
        #expect(try loadConfig("# only a comment\n") == PetrelConfig())
    }

    @Test func topLevelDefaults() throws {
        let config = try loadConfig("")
        #expect(config.node == NodeConfig(id: nil, threads: nil))
        #expect(config.stage == "$default")
        #expect(config.apiId == "petrel")
        #expect(config.registry.redis == nil)
        #expect(config.integrations.isEmpty)
        #expect(config.authorizers.isEmpty)
        #expect(config.throttling == nil)
        #expect(config.accessLog == nil)
        #expect(config.http.routes.isEmpty)
        #expect(config.http.cors == nil)
    }

    @Test func listenerDefaults() throws {
        let listeners = try loadConfig("").listeners
        #expect(listeners.public == ListenerConfig(host: "0.0.0.0", port: 8080))
        #expect(listeners.admin == ListenerConfig(host: "127.0.0.1", port: 9090))
        #expect(listeners.public.trustedProxies.isEmpty)
        #expect(listeners.public.proxyProtocol == nil)
        #expect(listeners.public.maxConnectionsPerIP == nil)
    }

    @Test func webSocketDefaults() throws {
        let websocket = try loadConfig("").websocket
        #expect(websocket.path == "/")
        #expect(websocket.routeSelection == "$request.body.action")
        #expect(websocket.allowedOrigins.isEmpty)
        #expect(websocket.routes.isEmpty)
    }

    @Test func limitDefaults() throws {
        let limits = try loadConfig("websocket: {limits: {}}").websocket.limits
        #expect(limits.maxMessageBytes == 131_072)
        #expect(limits.maxFrameBytes == 131_072)
        #expect(limits.maxConnectionDuration == 7_200_000)
        #expect(limits.idleTimeout == 600_000)
        #expect(limits.connectRate == nil)
        #expect(limits.sendBufferBytes == 1_048_576)
        #expect(limits.maxPendingMessages == 64)
        #expect(limits.handshakeTimeout == 10_000)
        #expect(limits.maxHeaderBytes == 8192)
        #expect(limits.maxBodyBytes == 10 * 1024 * 1024)
        #expect(limits.maxConnections == nil)
        #expect(limits.maxConnectionsPerIP == nil)
    }

    @Test func integrationTimeoutDefaultsTo29Seconds() throws {
        let config = try loadConfig("integrations: {b: {type: http, url: 'http://x/'}}")
        #expect(config.integrations["b"]?.timeout == 29_000)
    }

    @Test func authorizerIdentitySourceDefaultsToTheAuthorizationHeader() throws {
        let config = try loadConfig("authorizers: {j: {type: jwt, jwks_file: /k.json}}")
        #expect(config.authorizers["j"]?.identitySource == ["$request.header.Authorization"])
    }

    @Test func routeRespondDefaultsToFalse() throws {
        let config = try loadConfig("websocket: {routes: {x: {integration: m}}}\nintegrations: {m: {type: mock}}")
        #expect(config.websocket.routes["x"]?.respond == false)
    }

    @Test func accessLogFormatDefaultsToJSON() throws {
        #expect(try loadConfig("access_log: {path: stdout}").accessLog == AccessLogConfig(path: "stdout", format: "json"))
    }

    @Test func nullValuesCountAsOmitted() throws {
        #expect(try loadConfig("registry:\nthrottling: ~\nnode: {id: null}") == PetrelConfig())
    }

    @Test func setValuesAreRead() throws {
        let config = try loadConfig("""
            node: {id: n1, threads: 3}
            stage: prod
            api_id: abc
            websocket:
              limits: {max_message_bytes: 64KiB, idle_timeout: 90s, max_connections: 10, connect_rate: {rate: 2.5, burst: 5}}
            """)
        #expect(config.node == NodeConfig(id: "n1", threads: 3))
        #expect(config.stage == "prod")
        #expect(config.apiId == "abc")
        #expect(config.websocket.limits.maxMessageBytes == 65_536)
        #expect(config.websocket.limits.idleTimeout == 90_000)
        #expect(config.websocket.limits.maxConnections == 10)
        #expect(config.websocket.limits.connectRate == RateLimitConfig(rate: 2.5, burst: 5))
    }
}
