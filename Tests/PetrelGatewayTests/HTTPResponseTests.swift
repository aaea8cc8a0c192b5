import PetrelCore
import Testing
@testable import PetrelGateway

/// The bytes of the gateway's own answers: status line, headers in order, the request id after
/// them, framing and `Connection: close`.
@Suite struct HTTPResponseTests {
    static func text(_ response: HTTPResponse, keepAlive: Bool = true, includeBody: Bool = true) -> String {
        String(decoding: response.serialized(keepAlive: keepAlive, includeBody: includeBody), as: UTF8.self)
    }

    @Test func statusHeadersLengthAndBody() {
        let response = HTTPResponse(status: 200, headers: [("content-type", "application/json")], body: Array(#"{"ok":true}"#.utf8))
        #expect(Self.text(response) == "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")
    }

    @Test(arguments: [0, 1, 9, 10, 99, 100, 1234, 10_000, 1_048_576])
    func contentLengthIsDecimal(_ length: Int) {
        let response = HTTPResponse(status: 200, body: [UInt8](repeating: 0x61, count: length))
        #expect(Self.text(response, includeBody: false) == "HTTP/1.1 200 OK\r\nContent-Length: \(length)\r\n\r\n")
    }

    @Test func requestIdFollowsTheHeadersAndCloseIsSaid() {
        var response = HTTPResponse.message(404, "Not Found")
        let id = GatewayID(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98)
        response.requestId = id
        #expect(Self.text(response, keepAlive: false) ==
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\napigw-requestid: \(id.description)\r\n"
            + "Content-Length: 23\r\nConnection: close\r\n\r\n{\"message\":\"Not Found\"}")
    }

    @Test func noContentAndSwitchingProtocolsCarryNoLength() {
        #expect(Self.text(HTTPResponse(status: 204)) == "HTTP/1.1 204 No Content\r\n\r\n")
        #expect(Self.text(HTTPResponse(status: 101, headers: [("Upgrade", "websocket")])) ==
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
        #expect(Self.text(HTTPResponse(status: 599)) == "HTTP/1.1 599 Status 599\r\nContent-Length: 0\r\n\r\n")
    }
}

@Suite("Prebuilt mock answers")
struct PrebuiltAnswerTests {
    @Test("the head is byte for byte what HTTPResponse writes for the same answer",
          arguments: [200, 204, 404], [true, false])
    func sameBytes(status: Int, keepAlive: Bool) {
        let answer = PrebuiltAnswer(status: status, headers: [("content-type", "application/json"), ("x-a", "b")],
                                    body: Array("{\"ok\":true}".utf8))
        let id = RequestID(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98)
        var expected = answer.response
        expected.requestId = id
        var wanted: [UInt8] = []
        expected.appendHead(to: &wanted, keepAlive: keepAlive)
        var got: [UInt8] = []
        answer.appendHead(to: &got, requestId: id, keepAlive: keepAlive)
        #expect(String(decoding: got, as: UTF8.self) == String(decoding: wanted, as: UTF8.self))
    }
}
