import Testing
@testable import PetrelCore

final class FakeConnection: ConnectionContext {
    let connectionId = GatewayID(high: 1, low: 2)
    let connectedAtMs: Int64 = 1_700_000_000_000
    let sourceIp = "127.0.0.1"
    let userAgent = "test"
    let domainName = "localhost"
    let authorizerJSON: String? = nil
}

final class NoServices: IntegrationServices, IntegrationCompletionTarget {
    func integrationCompleted(token: UInt64, reply: IntegrationReply) {}
}

nonisolated(unsafe) private let services = NoServices()

extension MockIntegration {
    func invoke(_ event: IntegrationEvent) -> IntegrationReply {
        invoke(event, services: services, completion: IntegrationCompletion(target: services, token: 0))
    }
}

private func event(_ type: IntegrationEventType, route: String = "$default") -> IntegrationEvent {
    IntegrationEvent(type: type, routeKey: route, connection: FakeConnection(), requestId: GatewayID(high: 3, low: 4),
                     requestTimeMs: 0, stage: "prod", apiId: "petrel")
}

@Test func echoModeEchoesMessagesOnly() {
    let mock = MockIntegration(mode: .echo)
    guard case .echo = mock.invoke(event(.message)) else { Issue.record("message not echoed"); return }
    guard case .none = mock.invoke(event(.connect, route: "$connect")) else { Issue.record("connect not accepted"); return }
}

@Test func templateSubstitutesContextNames() {
    let template = ContextTemplate(#"{"id":"${context.connectionId}","r":"${context.routeKey}","s":"${context.stage}","q":"${context.requestId}"}"#)
    let out = String(decoding: template.render(connectionId: GatewayID(high: 1, low: 2), requestId: GatewayID(high: 3, low: 4),
                                               routeKey: "whoami", stage: "prod"), as: UTF8.self)
    #expect(out == #"{"id":"\#(GatewayID(high: 1, low: 2))","r":"whoami","s":"prod","q":"\#(GatewayID(high: 3, low: 4))"}"#)
}

@Test func templateKeepsUnknownPlaceholdersLiterally() {
    let template = ContextTemplate("${context.nope} and ${stageVariables.x} $")
    let out = String(decoding: template.render(connectionId: GatewayID(high: 0, low: 0), requestId: GatewayID(high: 0, low: 0),
                                               routeKey: "k", stage: "s"), as: UTF8.self)
    #expect(out == "${context.nope} and ${stageVariables.x} $")
}

@Test func fixedModeAnswersStatusBodyAndHeaders() {
    let mock = MockIntegration(mode: .fixed(status: 201, body: ContextTemplate("${context.routeKey}"), headers: [("x", "y")]))
    guard case .response(let status, let body, let headers, _) = mock.invoke(event(.message, route: "whoami")) else {
        Issue.record("no response"); return
    }
    #expect(status == 201)
    #expect(body == Array("whoami".utf8))
    #expect(headers.first?.0 == "x")
}
