import PetrelHTTPClient
import PetrelLoop
import Testing

/// Records what `HTTPClient.stream` delivers; optionally refuses pieces until told to resume.
final class StreamRecorder: HTTPResponseStreamDelegate {
    var head: (status: Int, headers: [(String, String)])?
    var body: [UInt8] = []
    var events: [String] = []
    var refusals = 0
    /// Refuse the next piece after this many bytes (once), then resume from a timer (after
    /// `resumeAfterMs`), outside curl as a client socket's drain would.
    var refuseAfter: Int?
    var resumeAfterMs: UInt64 = 0
    private var timer: LoopTimer?
    /// Cancel the transfer from inside `responseBody` once this many bytes arrived.
    var cancelAfter: Int?
    var client: HTTPClient?
    var id: HTTPRequestID?
    var loop: EventLoop?
    let done: (StreamRecorder) -> Void

    init(done: @escaping (StreamRecorder) -> Void) { self.done = done }

    func responseHead(status: Int, headers: [(String, String)]) {
        events.append("head")
        head = (status, headers)
    }

    func responseBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if let limit = refuseAfter, body.count >= limit {
            refuseAfter = nil
            refusals += 1
            events.append("pause")
            if let loop {
                timer = LoopTimer(loop: loop) { [self] in
                    timer?.close()
                    timer = nil
                    if let id { client?.resume(id) }
                }
                timer?.start(everyMs: max(1, resumeAfterMs))
            }
            return false
        }
        if let limit = cancelAfter, body.count >= limit, let id {
            cancelAfter = nil
            client?.cancel(id)
        }
        body += bytes
        return true
    }

    func responseEnd(_ error: HTTPClientError?) {
        events.append(error.map { "end \($0)" } ?? "end")
        done(self)
    }
}

@Suite("HTTPClient streams")
struct StreamTests {
    private func stream(_ path: String, pooled: Bool, timeoutMs: Int64 = 5_000, setUp: @escaping (StreamRecorder) -> Void = { _ in })
        throws -> (recorder: StreamRecorder?, liveHandles: Int) {
        let server = try TestServer()
        defer { server.stop() }
        let run = runClient(HTTPClientOptions(pooledPlainHTTP: pooled)) { (client, finish: @escaping (StreamRecorder) -> Void) in
            let recorder = StreamRecorder(done: finish)
            recorder.client = client
            recorder.loop = client.loop
            setUp(recorder)
            recorder.id = client.stream(HTTPClientRequest(url: server.base + path, timeoutMs: timeoutMs), to: recorder)
        }
        return (run.value, run.liveHandles)
    }

    /// Every test runs through the plain-http pool and through libcurl (which https URLs take).
    static let engines = [true, false]

    @Test("head first, then the whole body, beyond the buffered client's 10 MiB limit", arguments: engines)
    func largeBody(pooled: Bool) throws {
        let size = 12 * 1024 * 1024
        let run = try stream("/big/\(size)", pooled: pooled)
        #expect(run.liveHandles == 0)
        let recorder = try #require(run.recorder)
        #expect(recorder.events.first == "head" && recorder.events.last == "end")
        #expect(recorder.head?.status == 200)
        #expect(recorder.body.count == size)
    }

    @Test("a refused piece pauses the transfer and comes again after resume", arguments: engines, ["/big/300000", "/bigchunked/300000"])
    func pauseAndResume(pooled: Bool, path: String) throws {
        let run = try stream(path, pooled: pooled) { $0.refuseAfter = 100_000 }
        let recorder = try #require(run.recorder)
        #expect(recorder.refusals == 1)
        #expect(recorder.body.count == 300_000)
        #expect(recorder.events.last == "end")
    }

    @Test("cancel from inside the body callback ends the stream once, as cancelled", arguments: engines)
    func cancelInsideCallback(pooled: Bool) throws {
        let run = try stream("/big/5000000", pooled: pooled) { $0.cancelAfter = 1 }
        #expect(run.liveHandles == 0)
        let recorder = try #require(run.recorder)
        #expect(recorder.events.filter { $0.hasPrefix("end") } == ["end \(HTTPClientError.cancelled)"])
        #expect(recorder.body.count < 5_000_000)
    }

    @Test("the timeout covers the wait for the head only", arguments: engines)
    func headTimeout(pooled: Bool) throws {
        let late = try stream("/sleep/1500", pooled: pooled, timeoutMs: 300)
        #expect(late.recorder?.events == ["end \(HTTPClientError.timeout)"])
        // This body is held for longer than the timeout (paused for 600 ms) and still completes.
        let slowBody = try stream("/big/3000000", pooled: pooled, timeoutMs: 200) {
            $0.refuseAfter = 1_000_000
            $0.resumeAfterMs = 600
        }
        #expect(slowBody.recorder?.body.count == 3_000_000)
        #expect(slowBody.recorder?.events.last == "end")
    }
}
