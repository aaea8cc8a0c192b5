/// API Gateway's MOCK integration: echoes, or answers a fixed status/body/headers whose body may
/// name `${context.connectionId}`, `${context.requestId}`, `${context.routeKey}` and
/// `${context.stage}` (DESIGN §3).
public final class MockIntegration: Integration {
    public enum Mode: Sendable {
        case echo
        case fixed(status: Int, body: ContextTemplate, headers: [(String, String)])
    }

    public let mode: Mode

    public init(mode: Mode) {
        self.mode = mode
    }

    public func invoke(_ event: borrowing IntegrationEvent, services: any IntegrationServices,
                       completion: IntegrationCompletion) -> IntegrationReply {
        switch mode {
        case .echo:
            // An echo on CONNECT/DISCONNECT has nothing to echo: accept.
            return event.type == .message ? .echo : .none
        case .fixed(let status, let body, let headers):
            let text = body.render(connectionId: event.connection.connectionId, requestId: event.requestId,
                                   routeKey: event.routeKey, stage: event.stage)
            return .response(status: status, body: text, headers: headers, subprotocol: nil)
        }
    }
}
