import PetrelHTTPClient
import PetrelLoop
import Testing

@Suite("HTTPClient cancel and close")
struct CancellationTests {
    @Test("close() with requests in flight completes each exactly once with cancelled")
    func closeInFlight() throws {
        let server = try TestServer()
        defer { server.stop() }
        let count = 5
        let run = runClient { (client, finish: @escaping ([Int: [Result<HTTPClientResponse, HTTPClientError>]]) -> Void) in
            let log = CompletionLog()
            for i in 0..<count {
                client.send(HTTPClientRequest(url: server.base + "/sleep/3000", timeoutMs: 10_000)) { log.record(i, $0) }
            }
            // Close once the requests are on the wire, then report from a later turn of the loop
            // so that a late duplicate completion would be seen.
            var ticks = 0
            var ticker: LoopTimer?
            ticker = LoopTimer(loop: client.loop) {
                ticks += 1
                if ticks == 1 {
                    client.close()
                    #expect(client.inFlightCount == 0)
                } else if ticks == 3 {
                    ticker?.close()
                    ticker = nil
                    finish(log.results)
                }
            }
            ticker?.start(everyMs: 100)
        }
        #expect(run.liveHandles == 0)
        let results = try #require(run.value)
        #expect(results.count == count)
        for i in 0..<count {
            #expect(results[i]?.count == 1)
            #expect(results[i]?.first?.error == .cancelled)
        }
    }

    @Test("cancel() completes that request with cancelled and leaves the others running")
    func cancelOne() throws {
        let server = try TestServer()
        defer { server.stop() }
        let run = runClient { (client, finish: @escaping ([Int: [Result<HTTPClientResponse, HTTPClientError>]]) -> Void) in
            let log = CompletionLog()
            let slow = client.send(HTTPClientRequest(url: server.base + "/sleep/3000", timeoutMs: 10_000)) { log.record(0, $0) }
            client.send(HTTPClientRequest(url: server.base + "/echo", timeoutMs: 5_000)) { result in
                log.record(1, result)
                client.cancel(slow)
                client.cancel(slow)  // a second cancel is ignored
                finish(log.results)
            }
        }
        #expect(run.liveHandles == 0)
        let results = try #require(run.value)
        #expect(results[0]?.count == 1)
        #expect(results[0]?.first?.error == .cancelled)
        #expect(results[1]?.first?.response?.status == 200)
    }

    @Test("send() after close() fails at once")
    func sendAfterClose() throws {
        let run = runClient { (client, finish: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) in
            client.close()
            client.send(HTTPClientRequest(url: "http://127.0.0.1:9/", timeoutMs: 1_000), completion: finish)
        }
        #expect(run.liveHandles == 0)
        #expect(run.value?.error == .other("client closed"))
    }
}
