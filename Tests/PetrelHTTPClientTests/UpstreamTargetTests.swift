@testable import PetrelHTTPClient
import Testing

@Suite("Which URLs the plain-http pool takes")
struct UpstreamTargetTests {
    @Test("IP literals and host names, with the Host field and request-target as written")
    func accepted() throws {
        let v4 = try #require(UpstreamTarget(url: "http://127.0.0.1:8080/a/%2F/../b?x=1&y"))
        #expect(v4.hostField == "127.0.0.1:8080" && v4.requestTarget == "/a/%2F/../b?x=1&y")
        #expect(v4.origin.host == "127.0.0.1" && v4.origin.port == 8080 && v4.origin.address?.count == 16)
        let v6 = try #require(UpstreamTarget(url: "HTTP://[::1]:9000"))
        #expect(v6.hostField == "[::1]:9000" && v6.requestTarget == "/" && v6.origin.address?.count == 28)
        let name = try #require(UpstreamTarget(url: "http://Orders.Internal?q=1"))
        #expect(name.origin.host == "orders.internal" && name.origin.port == 80 && name.origin.address == nil)
        #expect(name.hostField == "Orders.Internal" && name.requestTarget == "/?q=1")
    }

    @Test("everything else is left to libcurl", arguments: [
        "https://127.0.0.1/", "ftp://127.0.0.1/", "http://", "http:///path", "http://user@127.0.0.1/",
        "http://127.0.0.1/a#frag", "http://127.0.0.1/a b", "http://127.0.0.1/é", "http://under_score.local/",
        "http://127.0.0.1:0/", "http://127.0.0.1:65536/", "http://127.0.0.1:http/", "http://[::1/", "http://[::1]x/",
        "http://300.1.1.1/",
    ])
    func refused(url: String) {
        #expect(UpstreamTarget(url: url) == nil)
    }
}
