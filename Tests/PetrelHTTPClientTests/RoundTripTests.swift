import PetrelHTTPClient
import Testing

@Suite("HTTPClient round trips")
struct RoundTripTests {
    @Test("GET sends the caller's headers and returns status, headers and body")
    func getRoundTrip() throws {
        let server = try TestServer()
        defer { server.stop() }
        let request = HTTPClientRequest(method: "GET", url: server.base + "/echo?a=1&b=%3D",
                                        headers: [("X-Trace", "abc 123"), ("X-Empty", "")], timeoutMs: 5_000)
        let run = runClient { (client, finish: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) in
            client.send(request, completion: finish)
        }
        #expect(run.liveHandles == 0)
        let response = try #require(run.value?.response)
        #expect(response.status == 200)
        #expect(response.header("x-echo") == "yes")
        #expect(response.header("Content-Type") == "application/json")
        let echo = try #require(Echo(response))
        #expect(echo.method == "GET")
        #expect(echo.path == "/echo?a=1&b=%3D")
        #expect(echo.header("X-Trace") == "abc 123")
        #expect(echo.header("X-Empty") == "")
        #expect(echo.header("Accept") == nil)
        #expect(echo.body.isEmpty)
    }

    @Test("POST sends a binary body as is, without Expect or a form content type")
    func postRoundTrip() throws {
        let server = try TestServer()
        defer { server.stop() }
        let body = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }  // > 1024: curl would send Expect
        let request = HTTPClientRequest(method: "POST", url: server.base + "/echo",
                                        headers: [("X-Api-Key", "k1")], body: body, timeoutMs: 5_000)
        let run = runClient { (client, finish: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) in
            client.send(request, completion: finish)
        }
        #expect(run.liveHandles == 0)
        let echo = try #require(Echo(run.value?.response))
        #expect(echo.method == "POST")
        #expect(echo.body == body)
        #expect(echo.header("Content-Length") == "70000")
        #expect(echo.header("X-Api-Key") == "k1")
        #expect(echo.header("Expect") == nil)
        #expect(echo.header("Content-Type") == nil)
    }

    @Test("PUT, PATCH and DELETE use their method", arguments: ["PUT", "PATCH", "DELETE"])
    func otherMethods(method: String) throws {
        let server = try TestServer()
        defer { server.stop() }
        let request = HTTPClientRequest(method: method, url: server.base + "/echo",
                                        headers: [("Content-Type", "application/json")], body: Array("{}".utf8), timeoutMs: 5_000)
        let run = runClient { (client, finish: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) in
            client.send(request, completion: finish)
        }
        #expect(run.liveHandles == 0)
        let echo = try #require(Echo(run.value?.response))
        #expect(echo.method == method)
        #expect(echo.body == Array("{}".utf8))
        #expect(echo.header("Content-Type") == "application/json")
    }

    @Test("error statuses are passed through with their body", arguments: [404, 500, 503])
    func statusPassthrough(status: Int) throws {
        let server = try TestServer()
        defer { server.stop() }
        let run = runClient { (client, finish: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) in
            client.send(HTTPClientRequest(url: server.base + "/status/\(status)", timeoutMs: 5_000), completion: finish)
        }
        #expect(run.liveHandles == 0)
        let response = try #require(run.value?.response)
        #expect(response.status == status)
        #expect(response.body == Array("status \(status)".utf8))
        #expect(response.header("X-Status") == "\(status)")
    }

    @Test("a redirect is returned as is, not followed")
    func redirectNotFollowed() throws {
        let server = try TestServer()
        defer { server.stop() }
        let run = runClient { (client, finish: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) in
            client.send(HTTPClientRequest(url: server.base + "/redirect", timeoutMs: 5_000), completion: finish)
        }
        #expect(run.liveHandles == 0)
        let response = try #require(run.value?.response)
        #expect(response.status == 302)
        #expect(response.header("Location") == "/echo")
        #expect(response.body == Array("moved".utf8))
    }

    @Test("only the final response's headers are kept after an interim 103")
    func interimHeadersDropped() throws {
        let server = try TestServer()
        defer { server.stop() }
        let run = runClient { (client, finish: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) in
            client.send(HTTPClientRequest(url: server.base + "/early", timeoutMs: 5_000), completion: finish)
        }
        #expect(run.liveHandles == 0)
        let response = try #require(run.value?.response)
        #expect(response.status == 200)
        #expect(response.header("X-Final") == "1")
        #expect(response.header("Link") == nil)
        #expect(response.body == Array("final".utf8))
    }
}
