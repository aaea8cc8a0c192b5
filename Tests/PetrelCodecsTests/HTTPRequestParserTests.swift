import PetrelCodecs
import Testing

/// Well-formed requests: heads, bodies, pipelining, keep-alive (RFC 9112).
@Suite("HTTPRequestParser")
struct HTTPRequestParserTests {
    static let upgrade = """
        GET /chat?room=1&x=%3D HTTP/1.1\r
        Host: gateway.example:8080\r
        Upgrade: websocket\r
        Connection: keep-alive, Upgrade\r
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r
        Sec-WebSocket-Version: 13\r
        Sec-WebSocket-Protocol: chat, superchat\r
        User-Agent: petrel-tests/1.0 \t \r
        \r

        """

    @Test("an upgrade request's head", arguments: FeedMode.allCases)
    func head(mode: FeedMode) throws {
        let run = ParserHarness.parse([Self.upgrade], mode: mode)
        #expect(run.failure == nil)
        let head = try #require(run.requests.first).head
        #expect(head.method == "GET")
        #expect(head.target == "/chat?room=1&x=%3D")
        #expect(head.path == "/chat")
        #expect(head.query == "room=1&x=%3D")
        #expect(head.versionMinor == 1)
        #expect(head.headers.entries.count == 7)
        #expect(head.headers.first("host") == "gateway.example:8080")
        #expect(head.headers.first("USER-AGENT") == "petrel-tests/1.0", "OWS trimmed")
        #expect(head.headers.containsToken("connection", "UPGRADE"))
        #expect(head.keepAlive)
        #expect(run.requests[0].body.isEmpty)
    }

    @Test("pipelined requests come out one by one, in order", arguments: FeedMode.allCases)
    func pipelining(mode: FeedMode) {
        let requests = [
            "GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
            "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
            "GET /c HTTP/1.1\r\nHost: h\r\n\r\n",
        ]
        let run = ParserHarness.parse(requests, mode: mode)
        #expect(run.failure == nil)
        #expect(run.requests.map(\.head.path) == ["/a", "/b", "/c"])
        #expect(run.requests.map(\.body) == [[], Array("hello".utf8), []])
        #expect(run.parser.bufferedByteCount == 0)
    }

    @Test("a Content-Length body", arguments: FeedMode.allCases)
    func contentLengthBody(mode: FeedMode) {
        let body = String(repeating: "0123456789", count: 100)
        let run = ParserHarness.parse(["PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n" + body], mode: mode)
        #expect(run.requests.map(\.body) == [Array(body.utf8)])
    }

    @Test("a chunked body with extensions and trailers", arguments: FeedMode.allCases)
    func chunkedBody(mode: FeedMode) {
        let request = "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n"
            + "1A ; ext\r\n" + String(repeating: "z", count: 26) + "\r\n"
            + "000\r\nTrailer-One: 1\r\nTrailer-Two: 2\r\n\r\n"
        let run = ParserHarness.parse([request, "GET /next HTTP/1.1\r\nHost: h\r\n\r\n"], mode: mode)
        #expect(run.failure == nil)
        #expect(run.requests.map(\.body) == [Array(("hello" + String(repeating: "z", count: 26)).utf8), []])
        #expect(run.requests.last?.head.path == "/next")
        #expect(run.requests.first?.head.headers.first("Trailer-One") == nil, "trailers are discarded")
    }

    @Test("empty lines before the request line are skipped", arguments: FeedMode.allCases)
    func leadingEmptyLines(mode: FeedMode) {
        let run = ParserHarness.parse(["\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"], mode: mode)
        #expect(run.requests.count == 1)
    }

    @Test("keep-alive defaults", arguments: [
        ("GET / HTTP/1.1\r\nHost: h\r\n\r\n", true),
        ("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false),
        ("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, Close\r\n\r\n", false),
        ("GET / HTTP/1.0\r\n\r\n", false),
        ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
        ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: h\r\n\r\n", true),
    ])
    func keepAlive(request: String, expected: Bool) {
        for mode in FeedMode.allCases {
            #expect(ParserHarness.parse([request], mode: mode).requests.first?.head.keepAlive == expected)
        }
    }

    @Test("HTTP/1.0 without Host is accepted")
    func http10WithoutHost() {
        let run = ParserHarness.parse(["GET / HTTP/1.0\r\n\r\n"], mode: .allInOneRead)
        #expect(run.requests.first?.head.versionMinor == 0)
    }

    @Test("after an upgrade request, the bytes that followed it are handed over untouched", arguments: FeedMode.allCases)
    func unconsumedBytesAfterUpgrade(mode: FeedMode) {
        let frame = ClientFrame.text("first frame")
        var harness = ParserHarness()
        for read in mode.reads(of: [Array(Self.upgrade.utf8), frame]) {
            harness.feed(read)
            if !harness.requests.isEmpty { break }
        }
        // The loop stops reading into the parser once the upgrade request is out; later reads go to
        // the frame decoder, so only the bytes of that same read are left here.
        let leftover = harness.parser.takeUnconsumedBytes()
        #expect(frame.starts(with: leftover))
        if mode == .allInOneRead { #expect(leftover == frame) }
        #expect(harness.parser.bufferedByteCount == 0)
    }

    @Test("a request without body framing has an empty body even if bytes follow")
    func noBodyWithoutFraming() {
        var harness = ParserHarness()
        harness.feed(Array("POST /x HTTP/1.1\r\nHost: h\r\n\r\nGARBAGE".utf8))
        #expect(harness.requests.first?.body == [])
        #expect(harness.parser.bufferedByteCount == 7)
    }

    @Test("repeated field lines are kept in order and found case-insensitively")
    func headerLookup() {
        let headers = HTTPHeaders([(name: "X-A", value: "1"), (name: "x-b", value: "2"), (name: "x-a", value: "3, 4")])
        #expect(headers.all("x-A") == ["1", "3, 4"])
        #expect(headers.count("X-a") == 2)
        #expect(headers.first("X-B") == "2")
        #expect(headers.containsToken("X-A", "4"))
        #expect(!headers.containsToken("X-A", "34"))
        #expect(headers.first("missing") == nil)
    }
}
