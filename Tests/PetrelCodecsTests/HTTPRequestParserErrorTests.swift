import PetrelCodecs
import Testing

/// Every refusal and its status, under every feed mode.
@Suite("HTTPRequestParser: errors")
struct HTTPRequestParserErrorTests {
    static let cases: [(String, String, Int)] = [
        ("lowercase version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400),
        ("HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        ("HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505),
        ("HTTP/0.9 style", "GET /\r\n\r\n", 400),
        ("two spaces", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("space in target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("bad method char", "GE(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("control char in target", "GET /\u{1}x HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("bare LF in request line", "GET / HTTP/1.1\nHost: h\r\n\r\n", 400),
        ("bare LF in a header", "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", 400),
        ("bare LF as the empty line", "GET / HTTP/1.1\r\nHost: h\r\n\n", 400),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  b\r\n\r\n", 400),
        ("space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
        ("no colon", "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400),
        ("empty name", "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400),
        ("bad name char", "GET / HTTP/1.1\r\nHost: h\r\nX(y): v\r\n\r\n", 400),
        ("control char in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\u{0}b\r\n\r\n", 400),
        ("bare CR in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400),
        ("DEL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\u{7F}\r\n\r\n", 400),
        ("1.1 without Host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 400),
        ("two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("Content-Length not digits", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n", 400),
        ("Content-Length signed", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", 400),
        ("Content-Length empty", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", 400),
        ("Content-Length list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\nx", 400),
        ("two Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400),
        ("CL and TE", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("TE gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("TE twice", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
        ("TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("Content-Length over the body limit", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1025\r\n\r\n", 413),
        ("huge Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 413),
        ("chunk size not hex", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("chunk size empty", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400),
        ("chunk size junk after", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\n", 400),
        ("chunk data without CRLF", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", 400),
        ("chunks over the body limit", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + String(repeating: "a", count: 1024) + "\r\n1\r\n", 413),
        ("chunk size overflow", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFFFF\r\n", 413),
        ("bare LF after chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\na\r\n0\r\n\r\n", 400),
    ]

    @Test("refused with its status", arguments: cases)
    func refused(name: String, request: String, status: Int) {
        for mode in FeedMode.allCases {
            #expect(ParserHarness.failureStatus(request, mode: mode, maxBodyBytes: 1024) == status, "\(name), \(mode)")
        }
    }

    @Test("a header block over the limit fails with 431 before its end arrives", arguments: FeedMode.allCases)
    func headerTooLargeIncremental(mode: FeedMode) {
        let request = "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + String(repeating: "b", count: 9 * 1024)
        #expect(ParserHarness.failureStatus(request, mode: mode) == 431)
    }

    @Test("a complete header block over the limit fails with 431", arguments: FeedMode.allCases)
    func headerTooLargeComplete(mode: FeedMode) {
        let request = "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + String(repeating: "b", count: 200) + "\r\n\r\n"
        #expect(ParserHarness.failureStatus(request, mode: mode, maxHeaderBytes: 128) == 431)
    }

    @Test("a request line over the limit fails with 414", arguments: FeedMode.allCases)
    func requestLineTooLong(mode: FeedMode) {
        let request = "GET /" + String(repeating: "p", count: 9 * 1024)
        #expect(ParserHarness.failureStatus(request, mode: mode) == 414)
    }

    @Test("trailers over the limit fail with 431", arguments: FeedMode.allCases)
    func trailersTooLarge(mode: FeedMode) {
        let request = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " + String(repeating: "t", count: 300)
        #expect(ParserHarness.failureStatus(request, mode: mode, maxHeaderBytes: 256) == 431)
    }

    @Test("a chunk size line with endless extensions fails with 400", arguments: FeedMode.allCases)
    func chunkSizeLineTooLong(mode: FeedMode) {
        let request = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;" + String(repeating: "e", count: 2000)
        #expect(ParserHarness.failureStatus(request, mode: mode) == 400)
    }

    @Test("the parser stays dead after a failure")
    func deadAfterFailure() {
        var harness = ParserHarness()
        harness.feed(Array("BAD\r\n\r\n".utf8))
        #expect(harness.failure?.status == 400)
        "GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8.withContiguousStorageIfAvailable { harness.parser.feed(UnsafeRawBufferPointer($0)) }
        guard case .failure = harness.parser.next() else {
            Issue.record("expected the failure again")
            return
        }
    }
}
