import Testing
@testable import PetrelConfig

@Suite struct EmbeddedDefaultTests {
    let config = ConfigLoader.embeddedDefault()

    @Test func listenersArePublicOn8080AndAdminOnLoopback9090() {
        #expect(config.listeners.public.host == "0.0.0.0")
        #expect(config.listeners.public.port == 8080)
        #expect(config.listeners.admin.host == "127.0.0.1")
        #expect(config.listeners.admin.port == 9090)
        #expect(config.listeners.admin.auth == nil)
        #expect(config.listeners.public.tls == nil)
    }

    @Test func registryIsInMemory() {
        #expect(config.registry.redis == nil)
    }

    @Test func webSocketAtRootEchoesOnDefault() {
        #expect(config.websocket.path == "/")
        #expect(config.websocket.routeSelection == "$request.body.action")
        #expect(config.websocket.routes == ["$default": WebSocketRouteConfig(integration: "echo", respond: true)])
        #expect(config.integrations["echo"] == IntegrationConfig(type: .mock, mode: .echo))
    }

    @Test func healthRouteAnswers200() throws {
        let route = try #require(config.http.routes["GET /health"])
        let integration = try #require(config.integrations[route.integration])
        #expect(integration.type == .mock)
        #expect(integration.status == 200)
    }

    @Test func everythingElseIsAtItsDefault() {
        #expect(config.stage == "$default")
        #expect(config.apiId == "petrel")
        #expect(config.websocket.limits == WebSocketLimits())
        #expect(config.throttling == nil)
        #expect(config.accessLog == nil)
        #expect(config.authorizers.isEmpty)
    }
}
