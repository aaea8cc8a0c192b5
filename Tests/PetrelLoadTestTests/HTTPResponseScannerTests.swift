import Testing
@testable import PetrelLoadTestKit

private func scan(_ text: String, chunk: Int) -> [String] {
    let bytes = Array(text.utf8)
    var scanner = HTTPResponseScanner()
    var events: [String] = []
    var start = 0
    while start < bytes.count {
        let piece = Array(bytes[start..<min(bytes.count, start + chunk)])
        start += chunk
        piece.withUnsafeBytes { buf in
            var offset = 0
            loop: while offset <= buf.count {
                switch scanner.next(buf, offset: &offset) {
                case .needMore: break loop
                case .head(let h): events.append("head \(h.status) \(h.websocketAccept ?? "-")")
                case .complete: events.append("complete"); scanner.reset(); if offset >= buf.count { break loop }
                case .error(let e): events.append("error \(e)"); break loop
                }
            }
        }
    }
    return events
}

@Test(arguments: [1, 2, 5, 1000])
func readsKeepAliveResponsesWithLengthAndChunks(chunk: Int) {
    let text = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
        "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n" +
        "HTTP/1.1 204 No Content\r\n\r\n"
    #expect(scan(text, chunk: chunk) == ["head 200 -", "complete", "head 404 -", "complete", "head 204 -", "complete"])
}

@Test func readsTheSwitchingProtocolsHead() {
    let text = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    #expect(scan(text, chunk: 3).first == "head 101 s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
}

@Test func rejectsGarbage() {
    #expect(scan("SSH-2.0-OpenSSH\r\n\r\n", chunk: 100) == ["error bad_response"])
}
