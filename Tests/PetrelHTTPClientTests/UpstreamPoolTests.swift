import PetrelHTTPClient
import PetrelLoop
import Testing

/// A request body handed out piece by piece, with one `.wait` after the first piece that a
/// timer ends (`resumeUpload`), as a client's next bytes would.
final class PiecewiseBody: HTTPRequestBodySource {
    private var pieces: [[UInt8]]
    private var waited = false
    private var timer: LoopTimer?
    var client: HTTPClient?
    var id: HTTPRequestID?
    var loop: EventLoop?

    init(_ pieces: [[UInt8]]) { self.pieces = pieces }

    func requestBodyRead(into buffer: UnsafeMutableRawBufferPointer) -> HTTPRequestBodyRead {
        guard !pieces.isEmpty else { return .end }
        if waited == false && pieces.count == 1, let loop {
            waited = true
            timer = LoopTimer(loop: loop) { [self] in
                timer?.close()
                timer = nil
                if let id { client?.resumeUpload(id) }
            }
            timer?.start(everyMs: 50)
            return .wait
        }
        let piece = pieces.removeFirst()
        let count = min(piece.count, buffer.count)
        piece.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        if count < piece.count { pieces.insert(Array(piece[count...]), at: 0) }
        return .bytes(count)
    }
}

@Suite("HTTPClient plain-http pool")
struct UpstreamPoolTests {
    private func echoOf(_ recorder: StreamRecorder?) -> Echo? {
        guard let recorder, let head = recorder.head else { return nil }
        return Echo(HTTPClientResponse(status: head.status, headers: head.headers, body: recorder.body))
    }

    @Test("with one connection allowed, concurrent streams queue and all share it, in order")
    func queueOnFullPool() throws {
        let server = try TestServer()
        defer { server.stop() }
        let run = runClient(HTTPClientOptions(maxConnectionsPerHost: 1)) { (client, finish: @escaping ([StreamRecorder]) -> Void) in
            var recorders: [StreamRecorder] = []
            var done = 0
            for i in 0..<3 {
                let recorder = StreamRecorder { _ in
                    done += 1
                    if done == 3 { finish(recorders) }
                }
                recorders.append(recorder)
                client.stream(HTTPClientRequest(url: server.base + "/echo?i=\(i)", timeoutMs: 5_000), to: recorder)
            }
            #expect(client.inFlightCount == 3)
        }
        #expect(run.liveHandles == 0)
        let recorders = try #require(run.value)
        let echoes = recorders.map(echoOf)
        #expect(echoes.map { $0?.path } == ["/echo?i=0", "/echo?i=1", "/echo?i=2"])
        #expect(Set(echoes.map { $0?.port }).count == 1)
    }

    @Test("a request on a kept-alive connection the backend closed goes again on a new one", arguments: StreamTests.engines)
    func staleConnectionRetried(pooled: Bool) throws {
        let server = try TestServer()
        defer { server.stop() }
        let run = runClient(HTTPClientOptions(pooledPlainHTTP: pooled)) { (client, finish: @escaping ([StreamRecorder]) -> Void) in
            var recorders: [StreamRecorder] = []
            let second = StreamRecorder { _ in finish(recorders) }
            let first = StreamRecorder { _ in
                // At once, before the backend's FIN is read: the request meets a closed connection.
                client.stream(HTTPClientRequest(url: server.base + "/echo", timeoutMs: 5_000), to: second)
            }
            recorders = [first, second]
            client.stream(HTTPClientRequest(url: server.base + "/stale", timeoutMs: 5_000), to: first)
        }
        #expect(run.liveHandles == 0)
        let recorders = try #require(run.value)
        #expect(recorders.map { $0.events.last } == ["end", "end"])
        let ports = recorders.map { echoOf($0)?.port }
        #expect(ports[0] != nil && ports[1] != nil && ports[0] != ports[1])
    }

    @Test("the request head: method, target, Host, the caller's fields in order, the body framed")
    func requestHead() throws {
        let server = try TestServer()
        defer { server.stop() }
        let run = runClient { (client, finish: @escaping (StreamRecorder) -> Void) in
            let recorder = StreamRecorder(done: finish)
            let request = HTTPClientRequest(method: "PUT", url: server.base + "/echo/a%2Fb/../c?x=1&y", headers: [("X-One", "1"), ("X-Empty", ""), ("x-two", "2")],
                                            body: Array("payload".utf8), timeoutMs: 5_000)
            client.stream(request, to: recorder)
        }
        let echo = try #require(echoOf(run.value))
        #expect(echo.method == "PUT")
        #expect(echo.path == "/echo/a%2Fb/../c?x=1&y")
        #expect(echo.body == Array("payload".utf8))
        #expect(echo.headers.map { $0.0.lowercased() } == ["host", "x-one", "x-empty", "x-two", "content-length"])
        #expect(echo.header("host") == "127.0.0.1:\(server.port)")
        #expect(echo.header("x-empty") == "")
    }

    @Test("a streamed body with its length reaches the backend whole, across a wait")
    func streamedUpload() throws {
        let server = try TestServer()
        defer { server.stop() }
        let pieces: [[UInt8]] = [Array(repeating: 0x61, count: 100_000), Array(repeating: 0x62, count: 70_000), Array("end".utf8)]
        let run = runClient { (client, finish: @escaping (StreamRecorder) -> Void) in
            let recorder = StreamRecorder(done: finish)
            let body = PiecewiseBody(pieces)
            body.client = client
            body.loop = client.loop
            body.id = client.stream(HTTPClientRequest(method: "POST", url: server.base + "/echo", timeoutMs: 5_000),
                                    body: body, bodyLength: pieces.joined().count, to: recorder)
        }
        #expect(run.liveHandles == 0)
        let echo = try #require(echoOf(run.value))
        #expect(echo.body == Array(pieces.joined()))
    }

    @Test("a head no client may accept fails the stream before any head is delivered")
    func badResponse() throws {
        let server = try TestServer()
        defer { server.stop() }
        let run = runClient { (client, finish: @escaping (StreamRecorder) -> Void) in
            client.stream(HTTPClientRequest(url: server.base + "/garbage", timeoutMs: 5_000), to: StreamRecorder(done: finish))
        }
        let recorder = try #require(run.value)
        #expect(recorder.head == nil)
        #expect(recorder.events.count == 1 && recorder.events[0].hasPrefix("end other("))
    }

    @Test("a host name is resolved and served by the pool (which refuses what curl would accept)")
    func hostName() throws {
        let server = try TestServer()
        defer { server.stop() }
        let run = runClient { (client, finish: @escaping ([StreamRecorder]) -> Void) in
            var recorders: [StreamRecorder] = []
            let strict = StreamRecorder { _ in finish(recorders) }
            let echo = StreamRecorder { _ in
                client.stream(HTTPClientRequest(url: "http://LocalHost:\(server.port)/garbage", timeoutMs: 5_000), to: strict)
            }
            recorders = [echo, strict]
            client.stream(HTTPClientRequest(url: "http://localhost:\(server.port)/echo", timeoutMs: 5_000), to: echo)
        }
        #expect(run.liveHandles == 0)
        let recorders = try #require(run.value)
        #expect(echoOf(recorders[0])?.header("host") == "localhost:\(server.port)")
        #expect(recorders[1].head == nil && recorders[1].events.count == 1 && recorders[1].events[0].hasPrefix("end other("))
    }

    @Test("nothing listening: connectFailed, and the pool holds nothing afterwards")
    func refused() throws {
        let port = try ClosedPort()
        defer { port.close() }
        let run = runClient { (client, finish: @escaping (StreamRecorder) -> Void) in
            client.stream(HTTPClientRequest(url: "http://127.0.0.1:\(port.port)/", timeoutMs: 5_000), to: StreamRecorder { recorder in
                #expect(client.inFlightCount == 0)
                finish(recorder)
            })
        }
        #expect(run.liveHandles == 0)
        let events = try #require(run.value?.events)
        #expect(events.count == 1 && events[0].hasPrefix("end connectFailed("))
    }
}
