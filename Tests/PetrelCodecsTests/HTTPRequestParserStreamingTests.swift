@testable import PetrelCodecs
import Testing

/// The streaming API (`nextHead` + `readBody`): the same requests and bytes as `next()` for every
/// split of the input and every size of the caller's buffer; limits and errors mid-body.
@Suite("HTTPRequestParser streaming")
struct HTTPRequestParserStreamingTests {
    struct Streamed: Equatable {
        var heads: [String] = []
        var framings: [HTTPBodyFraming] = []
        var bodies: [[UInt8]] = []
        var failure: Int?
        /// Body bytes returned before the failure (of the request that failed).
        var partial: [UInt8] = []
    }

    /// Feeds `reads`, streaming each body through a buffer of `room` bytes.
    static func stream(_ reads: [[UInt8]], room: Int, maxBodyBytes: Int = 1 << 20) -> Streamed {
        var parser = HTTPRequestParser(maxHeaderBytes: 8192, maxBodyBytes: maxBodyBytes)
        var out = Streamed()
        var inBody = false
        var scratch = [UInt8](repeating: 0, count: room)
        reading: for read in reads {
            read.withUnsafeBytes { parser.feed($0) }
            while true {
                if inBody {
                    switch scratch.withUnsafeMutableBytes({ parser.readBody(into: $0) }) {
                    case .bytes(let count):
                        #expect(count > 0 && count <= room)
                        out.partial += scratch[0..<count]
                    case .end:
                        out.bodies.append(out.partial)
                        out.partial = []
                        inBody = false
                    case .needMore:
                        continue reading
                    case .failure(let error):
                        out.failure = error.status
                        return out
                    }
                    continue
                }
                switch parser.nextHead() {
                case .head(let head, let framing):
                    out.heads.append("\(head.method) \(head.target)")
                    out.framings.append(framing)
                    inBody = true
                case .needMore:
                    continue reading
                case .failure(let error):
                    out.failure = error.status
                    return out
                }
            }
        }
        return out
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    static let body = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }

    static let lengthRequest = bytes("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n") + body
    static let chunkedRequest = bytes("PUT /up?x=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        + bytes("64;name=value\r\n") + Array(body[0..<100]) + bytes("\r\n")
        + bytes("C8\r\n") + Array(body[100..<300]) + bytes("\r\n")
        + bytes("0\r\nX-Trailer: t\r\n\r\n")
    static let next = bytes("GET /after HTTP/1.1\r\nHost: x\r\n\r\n")

    @Test("a Content-Length body split at every byte, through buffers of several sizes", arguments: [1, 7, 64, 4096])
    func contentLengthAtEveryBoundary(room: Int) {
        let all = Self.lengthRequest + Self.next
        for cut in 0...all.count {
            let run = Self.stream([Array(all[..<cut]), Array(all[cut...])], room: room)
            #expect(run.failure == nil)
            #expect(run.heads == ["POST /up", "GET /after"], "cut at \(cut)")
            #expect(run.framings == [.contentLength(300), .none])
            #expect(run.bodies == [Self.body, []], "cut at \(cut)")
        }
    }

    @Test("a chunked body (extensions, trailers) split at every byte comes out de-chunked", arguments: [1, 13, 4096])
    func chunkedAtEveryBoundary(room: Int) {
        let all = Self.chunkedRequest + Self.next
        for cut in 0...all.count {
            let run = Self.stream([Array(all[..<cut]), Array(all[cut...])], room: room)
            #expect(run.failure == nil)
            #expect(run.heads == ["PUT /up?x=1", "GET /after"], "cut at \(cut)")
            #expect(run.framings == [.chunked, .none])
            #expect(run.bodies == [Self.body, []], "cut at \(cut)")
        }
    }

    @Test("byte by byte, the streamed requests equal the buffered ones", arguments: FeedMode.allCases)
    func sameAsBuffered(mode: FeedMode) {
        let units = [Self.lengthRequest, Self.chunkedRequest, Self.next, Self.lengthRequest]
        let streamed = Self.stream(mode.reads(of: units), room: 5)
        let buffered = ParserHarness.parse(units, mode: mode)
        #expect(streamed.failure == nil && buffered.failure == nil)
        #expect(streamed.bodies == buffered.requests.map(\.body))
        #expect(streamed.heads == buffered.requests.map { "\($0.head.method) \($0.head.target)" })
    }

    @Test("body limit: exactly the limit passes; one byte more is 413, at the head or mid-body")
    func limits() {
        let exact = Self.stream([Self.lengthRequest], room: 64, maxBodyBytes: 300)
        #expect(exact.failure == nil && exact.bodies == [Self.body])
        let over = Self.stream([Self.lengthRequest], room: 64, maxBodyBytes: 299)
        #expect(over.failure == 413 && over.heads.isEmpty, "Content-Length over the limit fails before any byte")
        let chunkedExact = Self.stream([Self.chunkedRequest], room: 64, maxBodyBytes: 300)
        #expect(chunkedExact.failure == nil && chunkedExact.bodies == [Self.body])
        for mode in FeedMode.allCases {
            let chunkedOver = Self.stream(mode.reads(of: [Self.chunkedRequest]), room: 64, maxBodyBytes: 299)
            #expect(chunkedOver.failure == 413, "\(mode)")
            #expect(chunkedOver.heads == ["PUT /up?x=1"])
            #expect(chunkedOver.partial == Array(Self.body[0..<100]), "the first chunk went out before the one over the limit")
        }
    }

    @Test("malformed chunk framing mid-body: the bytes before it, then 400")
    func malformedMidBody() {
        let bad = Self.bytes("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX3\r\nabc\r\n0\r\n\r\n")
        for mode in FeedMode.allCases {
            let run = Self.stream(mode.reads(of: [bad]), room: 64)
            #expect(run.failure == 400, "\(mode)")
            #expect(run.partial == Self.bytes("hello"))
        }
    }

    @Test("isReadingBody is true from the head until the body's end; next() can still buffer after nextHead")
    func readingBodyAndBuffering() {
        var parser = HTTPRequestParser(maxBodyBytes: 1 << 20)
        let all = Self.lengthRequest + Self.next
        Array(all[0..<60]).withUnsafeBytes { parser.feed($0) }
        guard case .head(_, .contentLength(300)) = parser.nextHead() else {
            Issue.record("no head")
            return
        }
        #expect(parser.isReadingBody)
        #expect(parser.next().isNeedMore, "buffering the rest of the body")
        Array(all[60...]).withUnsafeBytes { parser.feed($0) }
        guard case .request(let request) = parser.next() else {
            Issue.record("no request")
            return
        }
        #expect(request.body == Self.body && !parser.isReadingBody)
        guard case .head(let head, .none) = parser.nextHead() else {
            Issue.record("no second head")
            return
        }
        #expect(head.path == "/after")
        var room = [UInt8](repeating: 0, count: 8)
        #expect(room.withUnsafeMutableBytes { parser.readBody(into: $0) } == .end)
        #expect(parser.nextHead().isNeedMore && parser.bufferedByteCount == 0)
    }
}

extension HTTPParseResult {
    var isNeedMore: Bool { if case .needMore = self { return true } else { return false } }
}

extension HTTPHeadResult {
    var isNeedMore: Bool { if case .needMore = self { return true } else { return false } }
}

/// A keep-alive connection that uploaded a large body keeps no more than a small buffer once the
/// request is over, whether the body was buffered (`next`) or streamed (`readBody`).
@Suite("HTTPRequestParser buffer after an upload")
struct HTTPRequestParserBufferReleaseTests {
    static let body = [UInt8](repeating: 0x61, count: 300 * 1024)
    static let upload = Array("POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body

    @Test func bufferedUploadReleasesTheBuffer() throws {
        var parser = HTTPRequestParser(maxHeaderBytes: 8192, maxBodyBytes: 1 << 20)
        Self.upload.withUnsafeBytes { parser.feed($0) }
        #expect(parser.bufferCapacity >= Self.body.count)
        guard case .request(let request) = parser.next() else { Issue.record("no request"); return }
        #expect(request.body.count == Self.body.count)
        #expect(parser.bufferCapacity <= HTTPRequestParser.retainedBufferCapacity)
        // The connection still serves the next request.
        Array("GET /n HTTP/1.1\r\nHost: h\r\n\r\n".utf8).withUnsafeBytes { parser.feed($0) }
        guard case .request(let next) = parser.next() else { Issue.record("no second request"); return }
        #expect(next.head.path == "/n")
    }

    @Test func streamedUploadReleasesTheBuffer() {
        var parser = HTTPRequestParser(maxHeaderBytes: 8192, maxBodyBytes: 1 << 20)
        Self.upload.withUnsafeBytes { parser.feed($0) }
        guard case .head = parser.nextHead() else { Issue.record("no head"); return }
        var scratch = [UInt8](repeating: 0, count: 64 * 1024)
        var total = 0
        reading: while true {
            switch scratch.withUnsafeMutableBytes({ parser.readBody(into: $0) }) {
            case .bytes(let count): total += count
            case .end: break reading
            default: Issue.record("unexpected read result"); return
            }
        }
        #expect(total == Self.body.count)
        guard case .needMore = parser.nextHead() else { Issue.record("a request from nothing"); return }
        #expect(parser.bufferCapacity <= HTTPRequestParser.retainedBufferCapacity)
    }

    @Test func pipelinedBytesAfterTheUploadAreKept() {
        var parser = HTTPRequestParser(maxHeaderBytes: 8192, maxBodyBytes: 1 << 20)
        (Self.upload + Array("GET /n HTTP/1.1\r\nHost: h\r\n\r\n".utf8)).withUnsafeBytes { parser.feed($0) }
        guard case .request = parser.next() else { Issue.record("no request"); return }
        guard case .request(let next) = parser.next() else { Issue.record("pipelined request lost"); return }
        #expect(next.head.path == "/n")
    }
}
