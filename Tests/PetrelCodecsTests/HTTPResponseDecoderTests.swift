import PetrelCodecs
import Testing

/// Responses from a backend, as the reverse proxy's client side decodes them (RFC 9112). Every wire
/// text is decoded in reads of every size from 1 byte to the whole, which must all agree.
@Suite("HTTPResponseDecoder")
struct HTTPResponseDecoderTests {
    typealias Field = HTTPResponseDecoder.HTTPHeaderField

    // MARK: - Bodies

    @Test("a Content-Length body; fields in wire order, spelled as sent, OWS trimmed")
    func contentLengthBody() {
        let wire = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Pad: \t padded \t\r\ncontent-LENGTH: 11\r\n\r\n"
            + "hello world" + "HTTP/1.1 204 No Content\r\n\r\n"
        let outcome = ResponseFeeder.decode(wire)
        #expect(outcome.error == nil)
        #expect(outcome.status == 200)
        #expect(outcome.headers == [
            Field(name: "Content-Type", value: "text/plain"),
            Field(name: "X-Pad", value: "padded"),
            Field(name: "content-LENGTH", value: "11"),
        ])
        #expect(outcome.bodyText == "hello world")
        #expect(outcome.reusable == true)
        #expect(outcome.consumed == wire.utf8.count - "HTTP/1.1 204 No Content\r\n\r\n".utf8.count)
    }

    @Test("a chunked body with extensions and trailers")
    func chunkedBody() {
        let body = "5;name=value\r\nhello\r\n"
            + "1A ; ext\r\n" + String(repeating: "z", count: 26) + "\r\n"
            + "3;a=\"quoted; value\";b\r\nend\r\n"
            + "000;last\r\nTrailer-One: 1\r\nServer-Timing: db;dur=53\r\n\r\n"
        let wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body
        let outcome = ResponseFeeder.decode(wire + "HTTP/1.1 200 OK\r\n")
        #expect(outcome.error == nil)
        #expect(outcome.bodyText == "hello" + String(repeating: "z", count: 26) + "end")
        #expect(outcome.headers == [Field(name: "Transfer-Encoding", value: "chunked")], "trailers are not fields")
        #expect(outcome.reusable == true)
        #expect(outcome.consumed == wire.utf8.count)
    }

    @Test("a chunk split across reads comes out as several body ranges of each read")
    func chunkSplitAcrossReads() throws {
        var decoder = HTTPResponseDecoder()
        decoder.start(requestWasHEAD: false)
        let first = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123".utf8)
        let second = Array("456789\r\n0\r\n\r\n".utf8)
        var events: [HTTPResponseDecoder.Event] = []
        for read in [first, second] {
            try read.withUnsafeBytes { bytes in
                var offset = 0
                while true {
                    let event = try decoder.next(bytes, offset: &offset)
                    events.append(event)
                    if event == .needMore || event == .end(reusable: true) { return }
                }
            }
        }
        #expect(events == [
            .head(status: 200, headers: [Field(name: "Transfer-Encoding", value: "chunked")]),
            .body(first.count - 4..<first.count), .needMore,
            .body(0..<6), .end(reusable: true),
        ])
    }

    @Test("Content-Length: 0 ends right after the head")
    func zeroContentLength() {
        let outcome = ResponseFeeder.decode("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nNEXT")
        #expect(outcome.body.isEmpty)
        #expect(outcome.reusable == true)
        #expect(outcome.consumed == 38)
    }

    @Test("204, 304 and a response to HEAD have no body whatever Content-Length says", arguments: [
        ("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", false),
        ("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", false),
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true),
        ("HTTP/1.1 204 No Content\r\nContent-Length: nonsense\r\n\r\n", false),
    ])
    func noBody(head: String, requestWasHEAD: Bool) {
        let outcome = ResponseFeeder.decode(head + "hello", requestWasHEAD: requestWasHEAD)
        #expect(outcome.error == nil)
        #expect(outcome.body.isEmpty)
        #expect(outcome.reusable == true)
        #expect(outcome.consumed == head.utf8.count, "the bytes after the head belong to the next response")
    }

    @Test("without Content-Length or Transfer-Encoding the body runs to the connection's close")
    func closeDelimited() {
        let wire = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>\r\n\r\n</html>"
        let open = ResponseFeeder.decode(wire)
        #expect(open.bodyText == "<html>\r\n\r\n</html>")
        #expect(open.reusable == nil, "no end before EOF")
        let closed = ResponseFeeder.decode(wire, atEOF: true)
        #expect(closed.bodyText == "<html>\r\n\r\n</html>")
        #expect(closed.reusable == false)
        #expect(closed.error == nil)
        let empty = ResponseFeeder.decode("HTTP/1.1 200 OK\r\n\r\n", atEOF: true)
        #expect(empty.reusable == false && empty.body.isEmpty && empty.error == nil)
    }

    // MARK: - Connection reuse

    @Test("reusable only for HTTP/1.1 without a close token", arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true),
        ("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", true),
        ("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false),
        ("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n", false),
        ("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: CLOSE\r\nContent-Length: 0\r\n\r\n", false),
        ("HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n", true),
        ("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", false),
        ("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false),
        ("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", false),
    ])
    func reuse(wire: String, reusable: Bool) {
        let outcome = ResponseFeeder.decode(wire)
        #expect(outcome.error == nil)
        #expect(outcome.reusable == reusable)
        #expect(outcome.consumed == wire.utf8.count)
    }

    // MARK: - Interim responses

    @Test("100 and 103 are skipped, their fields with them")
    func interimResponses() {
        let wire = "HTTP/1.1 100 Continue\r\n\r\n"
            + "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\nLink: </app.js>; rel=preload\r\n\r\n"
            + "HTTP/1.1 102\r\n\r\n"
            + "HTTP/1.1 201 Created\r\nLocation: /items/7\r\nContent-Length: 2\r\n\r\nok"
        let outcome = ResponseFeeder.decode(wire)
        #expect(outcome.error == nil)
        #expect(outcome.status == 201)
        #expect(outcome.headers == [Field(name: "Location", value: "/items/7"), Field(name: "Content-Length", value: "2")])
        #expect(outcome.bodyText == "ok")
        #expect(outcome.reusable == true)
    }

    @Test("an interim response's framing fields say nothing about the final one")
    func interimFramingIgnored() {
        let wire = "HTTP/1.1 103 Early Hints\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        let outcome = ResponseFeeder.decode(wire)
        #expect(outcome.error == nil)
        #expect(outcome.bodyText == "ok")
        #expect(outcome.reusable == true)
    }

    @Test("101 is refused: the gateway never asks for an upgrade")
    func switchingProtocols() {
        let outcome = ResponseFeeder.decode("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
        #expect(outcome.error == .unexpectedUpgrade)
        #expect(outcome.status == nil)
    }

    // MARK: - Back to back

    @Test("two responses in one buffer: the first ends at its last byte, the second follows start()")
    func backToBack() throws {
        let first = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
        let second = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
        let wire = Array((first + second).utf8)
        var decoder = HTTPResponseDecoder()
        try wire.withUnsafeBytes { bytes in
            var offset = 0
            decoder.start(requestWasHEAD: false)
            #expect(try decoder.next(bytes, offset: &offset) == .head(status: 200, headers: [Field(name: "Content-Length", value: "3")]))
            #expect(try decoder.next(bytes, offset: &offset) == .body(first.utf8.count - 3..<first.utf8.count))
            #expect(try decoder.next(bytes, offset: &offset) == .end(reusable: true))
            #expect(offset == first.utf8.count)

            decoder.start(requestWasHEAD: false)
            #expect(!decoder.hasReceivedBytes)
            guard case .head = try decoder.next(bytes, offset: &offset) else {
                Issue.record("no second head")
                return
            }
            #expect(decoder.hasReceivedBytes)
            let body = try decoder.next(bytes, offset: &offset)
            #expect(body == .body(wire.count - 9..<wire.count - 7))
            #expect(try decoder.next(bytes, offset: &offset) == .end(reusable: true))
            #expect(offset == wire.count)
        }
    }

    @Test("the line buffer of a split head serves the next response too")
    func splitHeadThenNextResponse() throws {
        var decoder = HTTPResponseDecoder()
        for round in 0..<3 {
            decoder.start(requestWasHEAD: false)
            var events: [HTTPResponseDecoder.Event] = []
            for read in ["HTTP/1.1 200 O", "K\r\nContent-Len", "gth: 1\r", "\n\r", "\nx"] {
                try Array(read.utf8).withUnsafeBytes { bytes in
                    var offset = 0
                    while true {
                        let event = try decoder.next(bytes, offset: &offset)
                        if event == .needMore { return }
                        events.append(event)
                        if case .end = event { return }
                    }
                }
            }
            #expect(events == [
                .head(status: 200, headers: [Field(name: "Content-Length", value: "1")]),
                .body(1..<2), .end(reusable: true),
            ], "round \(round)")
        }
    }

    // MARK: - Line syntax

    @Test("bare LF line ends are accepted, in the head and around chunks")
    func bareLineFeeds() {
        let chunked = ResponseFeeder.decode(
            "HTTP/1.1 200 OK\nX-A: 1\r\nTransfer-Encoding: chunked\n\n3;x\nabc\r\n0\nT: v\n\n")
        #expect(chunked.error == nil)
        #expect(chunked.bodyText == "abc")
        #expect(chunked.headers.count == 2)
        #expect(chunked.reusable == true)
        let fixed = ResponseFeeder.decode("HTTP/1.1 200 OK\nContent-Length: 2\n\nok")
        #expect(fixed.bodyText == "ok")
    }

    @Test("an empty reason phrase, with or without its space")
    func emptyReason() {
        #expect(ResponseFeeder.decode("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n").reusable == true)
        #expect(ResponseFeeder.decode("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").reusable == true)
        #expect(ResponseFeeder.decode("HTTP/1.1 599 Any reason \u{80}\u{FF}, even obs-text\r\n\r\n").status == 599)
    }

    @Test("Transfer-Encoding lists: chunked must be last and only once", arguments: [
        ("gzip, chunked", nil),
        ("GZIP ,  Chunked", nil),
        ("chunked, gzip", HTTPResponseDecodeError.unsupportedTransferEncoding),
        ("chunked, chunked", .unsupportedTransferEncoding),
        ("gzip", .unsupportedTransferEncoding),
        ("", .unsupportedTransferEncoding),
        ("chunked;x=1", .unsupportedTransferEncoding),
    ] as [(String, HTTPResponseDecodeError?)])
    func transferEncodingList(value: String, error: HTTPResponseDecodeError?) {
        let outcome = ResponseFeeder.decode("HTTP/1.1 200 OK\r\nTransfer-Encoding: \(value)\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        #expect(outcome.error == error)
        if error == nil { #expect(outcome.bodyText == "ok") }
    }

    @Test("Transfer-Encoding split over two fields")
    func transferEncodingFields() {
        let ok = ResponseFeeder.decode("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        #expect(ok.error == nil && ok.reusable == true)
        let bad = ResponseFeeder.decode("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n")
        #expect(bad.error == .unsupportedTransferEncoding)
    }

    @Test("Content-Length lists and repeats of one value are that value; different values are refused", arguments: [
        ("Content-Length: 5, 5", nil),
        ("Content-Length: 5,5,,5", nil),
        ("Content-Length: 5\r\nContent-Length: 5", nil),
        ("Content-Length: 0005", nil),
        ("Content-Length: 5, 6", HTTPResponseDecodeError.invalidContentLength),
        ("Content-Length: 5\r\nContent-Length: 6", .invalidContentLength),
        ("Content-Length: 5\r\nContent-Length: x", .invalidContentLength),
        ("Content-Length: x\r\nContent-Length: 5", .invalidContentLength),
    ] as [(String, HTTPResponseDecodeError?)])
    func contentLengthList(fields: String, error: HTTPResponseDecodeError?) {
        let outcome = ResponseFeeder.decode("HTTP/1.1 200 OK\r\n\(fields)\r\n\r\nhello")
        #expect(outcome.error == error)
        if error == nil { #expect(outcome.bodyText == "hello") }
    }

    // MARK: - Errors

    static let errorCases: [(String, String, HTTPResponseDecodeError)] = [
        ("lowercase version", "http/1.1 200 OK\r\n\r\n", .badStatusLine),
        ("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", .unsupportedVersion),
        ("HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", .unsupportedVersion),
        ("HTTP/0.9", "HTTP/0.9 200 OK\r\n\r\n", .unsupportedVersion),
        ("version without minor", "HTTP/1 200 OK\r\n\r\n", .badStatusLine),
        ("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", .badStatusLine),
        ("four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", .badStatusLine),
        ("status 600", "HTTP/1.1 600 X\r\n\r\n", .badStatusLine),
        ("status 099", "HTTP/1.1 099 X\r\n\r\n", .badStatusLine),
        ("two spaces before status", "HTTP/1.1  200 OK\r\n\r\n", .badStatusLine),
        ("tab before reason", "HTTP/1.1 200\tOK\r\n\r\n", .badStatusLine),
        ("bare CR in reason", "HTTP/1.1 200 O\rK\r\n\r\n", .badStatusLine),
        ("control byte in reason", "HTTP/1.1 200 O\u{0}K\r\n\r\n", .badStatusLine),
        ("empty line before the status line", "\r\nHTTP/1.1 200 OK\r\n\r\n", .badStatusLine),
        ("empty status line at EOF", "\r\n", .badStatusLine),
        ("bare CR in a value", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", .badHeader),
        ("CR CR LF", "HTTP/1.1 200 OK\r\nX: a\r\r\n\r\n", .badHeader),
        ("bare CR ending the head", "HTTP/1.1 200 OK\r\n\r\r\n", .badHeader),
        ("no colon", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", .badHeader),
        ("empty name", "HTTP/1.1 200 OK\r\n: v\r\n\r\n", .badHeader),
        ("space inside name", "HTTP/1.1 200 OK\r\nBad Name: v\r\n\r\n", .badHeader),
        ("bad name byte", "HTTP/1.1 200 OK\r\nX(y): v\r\n\r\n", .badHeader),
        ("control byte in value", "HTTP/1.1 200 OK\r\nX: a\u{1}b\r\n\r\n", .badHeader),
        ("DEL in value", "HTTP/1.1 200 OK\r\nX: a\u{7F}\r\n\r\n", .badHeader),
        ("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n  b\r\n\r\n", .obsoleteLineFolding),
        ("obs-fold with a tab", "HTTP/1.1 200 OK\r\nX: a\r\n\tb\r\n\r\n", .obsoleteLineFolding),
        ("space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", .whitespaceBeforeColon),
        ("tab before colon", "HTTP/1.1 200 OK\r\nX\t: 0\r\n\r\n", .whitespaceBeforeColon),
        ("101", "HTTP/1.1 101 Switching Protocols\r\n\r\n", .unexpectedUpgrade),
        ("101 after 100", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n", .unexpectedUpgrade),
        ("CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", .contentLengthWithTransferEncoding),
        ("TE and invalid CL", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n", .contentLengthWithTransferEncoding),
        ("TE gzip alone", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", .unsupportedTransferEncoding),
        ("TE in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", .transferEncodingInHTTP10),
        ("CL not digits", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", .invalidContentLength),
        ("CL signed", "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", .invalidContentLength),
        ("CL negative", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", .invalidContentLength),
        ("CL empty", "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", .invalidContentLength),
        ("CL only commas", "HTTP/1.1 200 OK\r\nContent-Length: , ,\r\n\r\n", .invalidContentLength),
        ("CL over 2^62", "HTTP/1.1 200 OK\r\nContent-Length: 4611686018427387905\r\n\r\n", .invalidContentLength),
        ("CL overflowing", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999999\r\n\r\n", .invalidContentLength),
        ("chunk size not hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", .badChunk),
        ("chunk size missing", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;x\r\n", .badChunk),
        ("chunk size empty line", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", .badChunk),
        ("chunk size 16 hex digits", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000001\r\n", .badChunk),
        ("chunk size then junk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n", .badChunk),
        ("chunk size then space, no extension", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", .badChunk),
        ("negative chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n", .badChunk),
        ("bare CR after chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\rhello\r\n", .badChunk),
        ("control byte in extension", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a\u{1}\r\nhello\r\n0\r\n\r\n", .badChunk),
        ("chunk-size line over 4 KiB", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;" + String(repeating: "x", count: 4093) + "\r\n", .badChunk),
        ("chunk data too long", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n", .badChunk),
        ("bare LF after chunk data", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", .badChunk),
        ("CR then junk after chunk data", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\rX0\r\n\r\n", .badChunk),
        ("malformed trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nNoColon\r\n\r\n", .badHeader),
        ("folded trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r\n 2\r\n\r\n", .obsoleteLineFolding),
        ("partial head at EOF", "HTTP/1.1 200 OK\r\nContent-Le", .truncated),
        ("short body at EOF", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", .truncated),
        ("inside a chunk at EOF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", .truncated),
        ("before the last chunk at EOF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", .truncated),
        ("inside the trailers at EOF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: v\r\n", .truncated),
        ("after an interim response at EOF", "HTTP/1.1 100 Continue\r\n\r\n", .truncated),
        ("nothing at EOF", "", .closedBeforeResponse),
    ]

    @Test("every refusal, under every split", arguments: errorCases)
    func errors(name: String, wire: String, error: HTTPResponseDecodeError) {
        let outcome = ResponseFeeder.decode(wire, atEOF: true)
        #expect(outcome.error == error, "\(name)")
        #expect(outcome.reusable == nil, "\(name)")
        #expect(!error.reason.isEmpty)
    }

    @Test("a head over maxHeadBytes is refused as soon as its limit is passed, 1xx heads counted")
    func headTooLarge() {
        let head = "HTTP/1.1 200 OK\r\nX-Long: " + String(repeating: "v", count: 30) + "\r\n\r\n"
        let size = head.utf8.count
        #expect(ResponseFeeder.decode(head, maxHeadBytes: size).error == nil, "exactly at the limit")
        #expect(ResponseFeeder.decode(head, maxHeadBytes: size - 1).error == .headTooLarge)
        // Without its end: refused once the limit is passed, without waiting for the line end.
        #expect(ResponseFeeder.decode("HTTP/1.1 200 OK\r\nX: " + String(repeating: "v", count: 100), maxHeadBytes: 64)
            .error == .headTooLarge)
        // A malformed line past the limit is never looked at.
        #expect(ResponseFeeder.decode("HTTP/1.1 200 OK\r\nX: " + String(repeating: "v", count: 100) + "\u{1}\r\n\r\n",
                                      maxHeadBytes: 64).error == .headTooLarge)
        let interim = "HTTP/1.1 100 Continue\r\n\r\n"
        #expect(ResponseFeeder.decode(interim + head, maxHeadBytes: size + interim.utf8.count).error == nil)
        #expect(ResponseFeeder.decode(interim + head, maxHeadBytes: size + interim.utf8.count - 1).error == .headTooLarge)
    }

    @Test("trailers over maxHeadBytes are refused")
    func trailersTooLarge() {
        // Longer than the 47-byte head, so that only the trailers pass the limit.
        let trailers = "T: " + String(repeating: "t", count: 60) + "\r\n\r\n"
        let wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + trailers
        #expect(ResponseFeeder.decode(wire, maxHeadBytes: trailers.utf8.count).error == nil)
        #expect(ResponseFeeder.decode(wire, maxHeadBytes: trailers.utf8.count - 1).error == .trailersTooLarge)
    }

    @Test("after an error the decoder rethrows it until start; then it decodes again")
    func deadAfterError() throws {
        var decoder = HTTPResponseDecoder()
        decoder.start(requestWasHEAD: false)
        let bad = Array("HTTP/1.1 200 OK\r\nX : y\r\n\r\n".utf8)
        bad.withUnsafeBytes { bytes in
            var offset = 0
            #expect(throws: HTTPResponseDecodeError.whitespaceBeforeColon) { try decoder.next(bytes, offset: &offset) }
            offset = 0
            #expect(throws: HTTPResponseDecodeError.whitespaceBeforeColon) { try decoder.next(bytes, offset: &offset) }
        }
        #expect(throws: HTTPResponseDecodeError.whitespaceBeforeColon) { try decoder.finishAtEOF() }
        decoder.start(requestWasHEAD: false)
        try Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8).withUnsafeBytes { bytes in
            var offset = 0
            guard case .head(200, _) = try decoder.next(bytes, offset: &offset) else {
                Issue.record("no head after start")
                return
            }
            #expect(try decoder.next(bytes, offset: &offset) == .end(reusable: true))
        }
    }

    @Test("EOF: closedBeforeResponse only when nothing of the response arrived")
    func endOfFile() throws {
        var decoder = HTTPResponseDecoder()
        decoder.start(requestWasHEAD: false)
        #expect(!decoder.hasReceivedBytes)
        Array<UInt8>().withUnsafeBytes { bytes in
            var offset = 0
            #expect((try? decoder.next(bytes, offset: &offset)) == .needMore)
        }
        #expect(!decoder.hasReceivedBytes)
        #expect(throws: HTTPResponseDecodeError.closedBeforeResponse) { try decoder.finishAtEOF() }

        decoder.start(requestWasHEAD: false)
        Array("H".utf8).withUnsafeBytes { bytes in
            var offset = 0
            #expect((try? decoder.next(bytes, offset: &offset)) == .needMore)
            #expect(offset == 1)
        }
        #expect(decoder.hasReceivedBytes)
        #expect(throws: HTTPResponseDecodeError.truncated) { try decoder.finishAtEOF() }

        // The body is complete but `.end` not yet taken: EOF ends it, not reusable.
        decoder.start(requestWasHEAD: false)
        try Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8).withUnsafeBytes { bytes in
            var offset = 0
            _ = try decoder.next(bytes, offset: &offset)
        }
        #expect(try decoder.finishAtEOF() == .end(reusable: false))
    }
}

/// One response decoded, its body concatenated from every `.body` event.
struct ResponseOutcome: Equatable, CustomStringConvertible {
    var status: Int?
    var headers: [HTTPResponseDecoder.HTTPHeaderField] = []
    var body: [UInt8] = []
    /// nil until `.end`.
    var reusable: Bool?
    var error: HTTPResponseDecodeError?
    /// Bytes of the wire consumed when decoding stopped; 0 after an error (`offset` then means nothing).
    var consumed = 0

    var bodyText: String { String(decoding: body, as: UTF8.self) }

    var description: String {
        "status \(status.map(String.init) ?? "-"), \(headers.count) fields, body \(bodyText.debugDescription), "
            + "reusable \(reusable.map(String.init) ?? "-"), error \(error.map { "\($0)" } ?? "-"), consumed \(consumed)"
    }
}

/// Decodes one response from a wire text in reads of every size, checking the decoder's contract on
/// each event, and requires every split to give the same outcome.
enum ResponseFeeder {
    static func decode(
        _ wire: String, requestWasHEAD: Bool = false, atEOF: Bool = false, maxHeadBytes: Int = 64 * 1024
    ) -> ResponseOutcome {
        let bytes = Array(wire.utf8)
        let whole = decode(bytes, readSize: Swift.max(bytes.count, 1), requestWasHEAD: requestWasHEAD,
                           atEOF: atEOF, maxHeadBytes: maxHeadBytes)
        for readSize in 1..<Swift.max(bytes.count, 1) {
            let split = decode(bytes, readSize: readSize, requestWasHEAD: requestWasHEAD, atEOF: atEOF,
                               maxHeadBytes: maxHeadBytes)
            if split != whole {
                Issue.record("reads of \(readSize) bytes: \(split)\nwhole: \(whole)")
                break
            }
        }
        return whole
    }

    static func decode(
        _ wire: [UInt8], readSize: Int, requestWasHEAD: Bool, atEOF: Bool, maxHeadBytes: Int
    ) -> ResponseOutcome {
        var decoder = HTTPResponseDecoder(maxHeadBytes: maxHeadBytes)
        decoder.start(requestWasHEAD: requestWasHEAD)
        var outcome = ResponseOutcome()
        var readStart = 0
        reads: while readStart < wire.count {
            // A fresh array per read: the decoder may not keep anything of the caller's buffer.
            let read = Array(wire[readStart..<Swift.min(wire.count, readStart + readSize)])
            let finished = read.withUnsafeBytes { bytes -> Bool in
                var offset = 0
                defer { outcome.consumed = outcome.error == nil ? readStart + offset : 0 }
                while true {
                    let before = offset
                    let event: HTTPResponseDecoder.Event
                    do throws(HTTPResponseDecodeError) {
                        event = try decoder.next(bytes, offset: &offset)
                    } catch {
                        outcome.error = error
                        return true
                    }
                    switch event {
                    case .needMore:
                        #expect(offset == bytes.count, "needMore with bytes left")
                        return false
                    case .head(let status, let headers):
                        #expect(outcome.status == nil, "a second head")
                        #expect(offset > before)
                        outcome.status = status
                        outcome.headers = headers
                    case .body(let range):
                        #expect(outcome.status != nil, "body before head")
                        #expect(range.lowerBound >= before && range.upperBound == offset && !range.isEmpty)
                        outcome.body += bytes[range]
                    case .end(let reusable):
                        #expect(outcome.status != nil, "end before head")
                        outcome.reusable = reusable
                        return true
                    }
                }
            }
            if finished { break reads }
            readStart += read.count
        }
        if atEOF && outcome.reusable == nil && outcome.error == nil {
            do throws(HTTPResponseDecodeError) {
                let event = try decoder.finishAtEOF()
                guard case .end(let reusable) = event else {
                    Issue.record("finishAtEOF returned \(event)")
                    return outcome
                }
                outcome.reusable = reusable
            } catch {
                outcome.error = error
            }
        }
        return outcome
    }
}
