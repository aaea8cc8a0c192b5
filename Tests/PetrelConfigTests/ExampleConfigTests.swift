import Testing
@testable import PetrelConfig

/// `deploy/petrel.example.yaml` is documentation users copy; it must keep loading.
@Suite struct ExampleConfigTests {
    @Test func exampleLoadsWithEveryPart() throws {
        let path = repositoryRoot + "/deploy/petrel.example.yaml"
        let config = try ConfigLoader.load(path: path, environment: [:]).get()
        #expect(config.node == NodeConfig(id: "node-a", threads: nil))
        #expect(config.stage == "prod")
        #expect(config.listeners.public.tls?.certificate == repositoryRoot + "/deploy/server.pem")
        #expect(config.listeners.admin.auth?.sigv4 == [SigV4Key(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret")])
        #expect(config.listeners.admin.auth?.bearerTokens == ["token-1"])
        #expect(config.registry.redis == "redis://127.0.0.1:6379/0")
        #expect(config.websocket.limits.connectRate == RateLimitConfig(rate: 500, burst: 1000))
        #expect(config.websocket.routes["$connect"] == WebSocketRouteConfig(integration: "backend", authorizer: "jwt"))
        #expect(config.websocket.routes["sendmessage"]?.respond == true)
        #expect(config.http.routes["ANY /api/{proxy+}"]?.throttle == RateLimitConfig(rate: 100, burst: 50))
        #expect(config.http.cors == CORSConfig(allowOrigins: ["*"], allowMethods: ["GET", "POST"], allowHeaders: ["authorization"], maxAge: 600))
        #expect(config.integrations["api"]?.type == .httpProxy)
        #expect(config.integrations["ok"]?.headers == ["content-type": "application/json"])
        #expect(config.authorizers["jwt"]?.identitySource == ["$request.header.Authorization", "$request.querystring.token"])
        #expect(config.authorizers["custom"]?.cacheTTL == 300_000)
        #expect(config.throttling == RateLimitConfig(rate: 10_000, burst: 5000))
        #expect(config.accessLog == AccessLogConfig(path: "stdout", format: "json"))
    }
}
