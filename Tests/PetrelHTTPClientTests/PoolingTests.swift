import PetrelHTTPClient
import Testing

@Suite("HTTPClient connection reuse and concurrency")
struct PoolingTests {
    @Test("two sequential requests to one server share one TCP connection")
    func keepAlive() throws {
        let server = try TestServer()
        defer { server.stop() }
        let run = runClient { (client, finish: @escaping ([Int]) -> Void) in
            client.send(HTTPClientRequest(url: server.base + "/echo", timeoutMs: 5_000)) { first in
                client.send(HTTPClientRequest(method: "POST", url: server.base + "/echo", body: [1, 2, 3], timeoutMs: 5_000)) { second in
                    finish([Echo(first.response)?.port ?? -1, Echo(second.response)?.port ?? -2])
                }
            }
        }
        #expect(run.liveHandles == 0)
        let ports = try #require(run.value)
        #expect(ports[0] > 0)
        #expect(ports[0] == ports[1])
    }

    @Test("50 concurrent requests each complete once with their own answer")
    func concurrent() throws {
        let server = try TestServer()
        defer { server.stop() }
        let count = 50
        let run = runClient { (client, finish: @escaping ([Int: [Result<HTTPClientResponse, HTTPClientError>]]) -> Void) in
            let log = CompletionLog()
            var done = 0
            for i in 0..<count {
                client.send(HTTPClientRequest(method: "POST", url: server.base + "/echo?i=\(i)", body: Array("req \(i)".utf8), timeoutMs: 10_000)) { result in
                    log.record(i, result)
                    done += 1
                    if done == count {
                        #expect(client.inFlightCount == 0)
                        finish(log.results)
                    }
                }
            }
            #expect(client.inFlightCount == count)
        }
        #expect(run.liveHandles == 0)
        let results = try #require(run.value)
        #expect(results.count == count)
        for i in 0..<count {
            #expect(results[i]?.count == 1)
            let echo = Echo(results[i]?.first?.response)
            #expect(echo != nil, "request \(i): \(String(describing: results[i]?.first))")
            #expect(echo?.path == "/echo?i=\(i)")
            #expect(echo?.body == Array("req \(i)".utf8))
        }
    }
}
