import PetrelHTTPClient
import Testing

@Suite("HTTPClient HTTPS")
struct TLSTests {
    @Test("HTTPS to a server signed by the configured CA succeeds")
    func trustedCA() throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        let server = try TestServer(tls: .init(certificate: certificates.serverCertificate, key: certificates.serverKey))
        defer { server.stop() }
        var options = HTTPClientOptions()
        options.caFile = certificates.caFile
        let run = runClient(options) { (client, finish: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) in
            client.send(HTTPClientRequest(method: "POST", url: server.tlsBase + "/echo", body: [9, 8, 7], timeoutMs: 5_000), completion: finish)
        }
        #expect(run.liveHandles == 0)
        let echo = try #require(Echo(run.value?.response))
        #expect(echo.body == [9, 8, 7])
        #expect(echo.peer == nil)
    }

    @Test("HTTPS without that CA fails verification with .tls")
    func untrustedCA() throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        let server = try TestServer(tls: .init(certificate: certificates.serverCertificate, key: certificates.serverKey))
        defer { server.stop() }
        let run = runClient { (client, finish: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) in
            client.send(HTTPClientRequest(url: server.tlsBase + "/echo", timeoutMs: 5_000), completion: finish)
        }
        #expect(run.liveHandles == 0)
        guard case .tls = run.value?.error else {
            Issue.record("expected .tls, got \(String(describing: run.value))")
            return
        }
    }

    @Test("a client certificate is presented to a server that demands one")
    func mutualTLS() throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        let server = try TestServer(tls: .init(certificate: certificates.serverCertificate, key: certificates.serverKey,
                                               clientCA: certificates.caFile))
        defer { server.stop() }
        var options = HTTPClientOptions()
        options.caFile = certificates.caFile
        options.clientCertificateFile = certificates.clientCertificate
        options.clientKeyFile = certificates.clientKey
        let run = runClient(options) { (client, finish: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) in
            client.send(HTTPClientRequest(url: server.tlsBase + "/echo", timeoutMs: 5_000), completion: finish)
        }
        #expect(run.liveHandles == 0)
        let echo = try #require(Echo(run.value?.response))
        #expect(echo.peer == "petrel-client")
    }
}
