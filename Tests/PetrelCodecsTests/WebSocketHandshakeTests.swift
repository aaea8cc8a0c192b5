import PetrelCodecs
import Testing

/// Opening handshake validation (RFC 6455 §4.2.1, §4.2.2).
@Suite("WebSocketHandshake")
struct WebSocketHandshakeTests {
    static let validFields: [(name: String, value: String)] = [
        (name: "Host", value: "example.com"),
        (name: "Upgrade", value: "WebSocket"),
        (name: "Connection", value: "keep-alive, Upgrade"),
        (name: "Sec-WebSocket-Key", value: "dGhlIHNhbXBsZSBub25jZQ=="),
        (name: "Sec-WebSocket-Version", value: "13"),
    ]

    private func head(
        method: String = "GET", versionMinor: Int = 1, replacing name: String? = nil, with value: String? = nil,
        adding extra: [(name: String, value: String)] = []
    ) -> HTTPRequestHead {
        var fields = Self.validFields.filter { $0.name != name }
        if let name, let value { fields.append((name: name, value: value)) }
        return HTTPRequestHead(method: method, target: "/", versionMinor: versionMinor, headers: HTTPHeaders(fields + extra))
    }

    private func rejection(_ head: HTTPRequestHead) -> (Int, [(String, String)])? {
        if case .reject(let status, _, let extra) = WebSocketHandshake.validate(head) { return (status, extra) }
        return nil
    }

    @Test("a valid request is accepted with its key")
    func accepts() {
        guard case .accept(let key, let protocols) = WebSocketHandshake.validate(head()) else {
            Issue.record("expected accept")
            return
        }
        #expect(key == "dGhlIHNhbXBsZSBub25jZQ==")
        #expect(protocols.isEmpty)
    }

    @Test("subprotocols are listed in order across field lines")
    func protocolsInOrder() {
        let request = head(adding: [(name: "Sec-WebSocket-Protocol", value: "chat, v2.json"), (name: "sec-websocket-protocol", value: "mqtt")])
        guard case .accept(_, let protocols) = WebSocketHandshake.validate(request) else {
            Issue.record("expected accept")
            return
        }
        #expect(protocols == ["chat", "v2.json", "mqtt"])
    }

    @Test("a request parsed from the wire is accepted")
    func acceptsParsedRequest() throws {
        let run = ParserHarness.parse([HTTPRequestParserTests.upgrade], mode: .allInOneRead)
        let parsed = try #require(run.requests.first).head
        #expect(WebSocketHandshake.isUpgradeRequest(parsed))
        guard case .accept(_, let protocols) = WebSocketHandshake.validate(parsed) else {
            Issue.record("expected accept")
            return
        }
        #expect(protocols == ["chat", "superchat"])
    }

    @Test("a plain GET is not an upgrade request")
    func plainGetIsNotUpgrade() {
        #expect(!WebSocketHandshake.isUpgradeRequest(head(replacing: "Upgrade")))
        #expect(!WebSocketHandshake.isUpgradeRequest(head(replacing: "Upgrade", with: "h2c")))
    }

    @Test("a method other than GET is 400")
    func rejectsPost() { #expect(rejection(head(method: "POST"))?.0 == 400) }

    @Test("HTTP/1.0 is 400")
    func rejectsHTTP10() { #expect(rejection(head(versionMinor: 0))?.0 == 400) }

    @Test("a missing Host is 400")
    func rejectsMissingHost() { #expect(rejection(head(replacing: "Host"))?.0 == 400) }

    @Test("an Upgrade without websocket is 400")
    func rejectsWrongUpgrade() { #expect(rejection(head(replacing: "Upgrade", with: "h2c"))?.0 == 400) }

    @Test("a Connection without upgrade is 400")
    func rejectsMissingConnectionUpgrade() { #expect(rejection(head(replacing: "Connection", with: "keep-alive"))?.0 == 400) }

    @Test("a malformed key is 400", arguments: [
        nil, "", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=!",
        "dGhlIHNhbXBsZSBub25j*Q==", "dGhlIHNhbXBsZSBub25jZQ==AA", "dGhlIHNhbXBsZQ==",
    ] as [String?])
    func rejectsBadKey(key: String?) {
        #expect(rejection(head(replacing: "Sec-WebSocket-Key", with: key))?.0 == 400)
    }

    @Test("two keys are 400")
    func rejectsTwoKeys() {
        #expect(rejection(head(adding: [(name: "Sec-WebSocket-Key", value: "AAAAAAAAAAAAAAAAAAAAAA==")]))?.0 == 400)
    }

    @Test("another or a missing version is 426 naming version 13", arguments: ["8", "14", "13, 8", nil] as [String?])
    func rejectsOtherVersion(version: String?) throws {
        let (status, extra) = try #require(rejection(head(replacing: "Sec-WebSocket-Version", with: version)))
        #expect(status == 426)
        #expect(extra.count == 1 && extra[0].0 == "Sec-WebSocket-Version" && extra[0].1 == "13")
    }
}
