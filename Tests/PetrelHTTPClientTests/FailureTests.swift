import Foundation
import PetrelHTTPClient
import Testing

@Suite("HTTPClient failures")
struct FailureTests {
    @Test("a server slower than the request timeout gives .timeout, on time")
    func timeout() throws {
        let server = try TestServer()
        defer { server.stop() }
        let started = ContinuousClock.now
        let run = runClient { (client, finish: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) in
            client.send(HTTPClientRequest(url: server.base + "/sleep/5000", timeoutMs: 300), completion: finish)
        }
        let elapsed = ContinuousClock.now - started
        #expect(run.liveHandles == 0)
        #expect(run.value?.error == .timeout)
        #expect(elapsed < .milliseconds(2_500))
    }

    @Test("a port with nothing listening gives .connectFailed")
    func connectionRefused() throws {
        let port = try ClosedPort()
        defer { port.close() }
        let run = runClient { (client, finish: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) in
            client.send(HTTPClientRequest(url: "http://127.0.0.1:\(port.port)/", timeoutMs: 5_000), completion: finish)
        }
        #expect(run.liveHandles == 0)
        guard case .connectFailed = run.value?.error else {
            Issue.record("expected .connectFailed, got \(String(describing: run.value))")
            return
        }
    }

    @Test("a body over the cap gives .responseTooLarge", arguments: ["big", "bigchunked"])
    func responseTooLarge(route: String) throws {
        let server = try TestServer()
        defer { server.stop() }
        var options = HTTPClientOptions()
        options.maxResponseBytes = 10_000
        let run = runClient(options) { (client, finish: @escaping ([Result<HTTPClientResponse, HTTPClientError>]) -> Void) in
            // One at the cap passes, one past it fails.
            var results: [Result<HTTPClientResponse, HTTPClientError>] = []
            client.send(HTTPClientRequest(url: server.base + "/\(route)/10000", timeoutMs: 5_000)) { result in
                results.append(result)
                client.send(HTTPClientRequest(url: server.base + "/\(route)/50000", timeoutMs: 5_000)) { result in
                    results.append(result)
                    finish(results)
                }
            }
        }
        #expect(run.liveHandles == 0)
        let results = try #require(run.value)
        #expect(results.count == 2)
        #expect(results.first?.response?.body.count == 10_000)
        #expect(results.last?.error == .responseTooLarge)
    }

    @Test("an unsupported scheme is refused")
    func unsupportedScheme() throws {
        let run = runClient { (client, finish: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) in
            client.send(HTTPClientRequest(url: "file:///etc/passwd", timeoutMs: 1_000), completion: finish)
        }
        #expect(run.liveHandles == 0)
        guard case .other = run.value?.error else {
            Issue.record("expected .other, got \(String(describing: run.value))")
            return
        }
    }

    @Test("CR or LF in a header is refused before anything is sent")
    func headerInjectionRefused() throws {
        let run = runClient { (client, finish: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) in
            client.send(HTTPClientRequest(url: "http://127.0.0.1:9/", headers: [("X-A", "b\r\nX-Evil: 1")], timeoutMs: 1_000), completion: finish)
        }
        #expect(run.liveHandles == 0)
        guard case .other = run.value?.error else {
            Issue.record("expected .other, got \(String(describing: run.value))")
            return
        }
    }
}

/// A loopback port that is bound but not listening: connecting to it is refused, and nothing
/// else can take the port while the test runs.
struct ClosedPort {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, length) == 0 && getsockname(fd, sa, &length) == 0
            }
        }
        guard bound else { throw TestServerError.command("bind") }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { _ = Glibc.close(fd) }
}
