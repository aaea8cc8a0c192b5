import PetrelConfig
import PetrelLoop
import Testing
@testable import PetrelGateway

/// CIDR matching and the X-Forwarded-For walk of `ClientAddressPolicy` (docs/hardening.md).
@Suite("ClientAddressPolicy")
struct ClientAddressPolicyTests {
    static func ip(_ text: String) -> IPAddress {
        ClientAddressPolicy.forwardedAddress(Substring(text))!
    }

    @Test("CIDR blocks")
    func cidr() throws {
        let net = try #require(IPNetwork(cidr: "10.0.0.0/8"))
        #expect(net.contains(Self.ip("10.255.1.2")))
        #expect(!net.contains(Self.ip("11.0.0.1")))
        #expect(!net.contains(Self.ip("::ffff:11.0.0.1")))
        #expect(net.contains(Self.ip("::ffff:10.0.0.1")))  // v4-mapped arrives as IPv4
        #expect(try #require(IPNetwork(cidr: "0.0.0.0/0")).contains(Self.ip("1.2.3.4")))
        #expect(!(try #require(IPNetwork(cidr: "0.0.0.0/0")).contains(Self.ip("::1"))))
        #expect(try #require(IPNetwork(cidr: "192.0.2.7")).contains(Self.ip("192.0.2.7")))
        #expect(!(try #require(IPNetwork(cidr: "192.0.2.7")).contains(Self.ip("192.0.2.8"))))
        let v6 = try #require(IPNetwork(cidr: "2001:db8::/32"))
        #expect(v6.contains(Self.ip("2001:db8:ffff::1")))
        #expect(!v6.contains(Self.ip("2001:db9::1")))
        #expect(try #require(IPNetwork(cidr: "2001:db8::1:0/112")).contains(Self.ip("2001:db8::1:ffff")))
        #expect(try #require(IPNetwork(cidr: "::ffff:10.0.0.0/104")).contains(Self.ip("10.9.9.9")))
        #expect(IPNetwork(cidr: "10.0.0.0/33") == nil)
    }

    @Test("X-Forwarded-For entries")
    func entries() {
        #expect(ClientAddressPolicy.forwardedAddress(" 192.0.2.1 ")?.description == "192.0.2.1")
        #expect(ClientAddressPolicy.forwardedAddress("192.0.2.1:8080")?.description == "192.0.2.1")
        #expect(ClientAddressPolicy.forwardedAddress("[2001:db8::1]:443")?.description == "2001:db8::1")
        #expect(ClientAddressPolicy.forwardedAddress("2001:db8::1")?.description == "2001:db8::1")
        for bad in ["unknown", "", "1.2.3", "_hidden", "1.2.3.4:x", "[::1"] {
            #expect(ClientAddressPolicy.forwardedAddress(Substring(bad)) == nil, "\(bad)")
        }
    }

    @Test("the walk believes trusted hops only")
    func walk() {
        var listener = ListenerConfig(host: "0.0.0.0", port: 0)
        listener.trustedProxies = ["10.0.0.0/8", "127.0.0.1"]
        let policy = ClientAddressPolicy(listener, limits: nil)
        let proxy = Self.ip("10.0.0.1")
        #expect(policy.client(transport: proxy, forwardedFor: ["198.51.100.1"]) == Self.ip("198.51.100.1"))
        #expect(policy.client(transport: proxy, forwardedFor: ["6.6.6.6, 198.51.100.1, 10.2.3.4"]) == Self.ip("198.51.100.1"))
        #expect(policy.client(transport: proxy, forwardedFor: ["6.6.6.6", "198.51.100.1"]) == Self.ip("198.51.100.1"))
        #expect(policy.client(transport: proxy, forwardedFor: ["10.9.9.9, 10.8.8.8"]) == Self.ip("10.9.9.9"))
        #expect(policy.client(transport: proxy, forwardedFor: ["198.51.100.1, unknown"]) == proxy)
        #expect(policy.client(transport: proxy, forwardedFor: []) == proxy)
        let stranger = Self.ip("203.0.113.5")
        #expect(policy.client(transport: stranger, forwardedFor: ["198.51.100.1"]) == stranger)
    }

    @Test("deny wins, an empty allow list allows all, the smaller cap applies")
    func rules() {
        var listener = ListenerConfig(host: "0.0.0.0", port: 0)
        listener.allowIPs = ["192.0.2.0/24"]
        listener.denyIPs = ["192.0.2.7"]
        listener.maxConnectionsPerIP = 5
        var limits = WebSocketLimits()
        limits.maxConnectionsPerIP = 3
        limits.maxConnections = 100
        let policy = ClientAddressPolicy(listener, limits: limits)
        #expect(policy.permits(Self.ip("192.0.2.1")))
        #expect(!policy.permits(Self.ip("192.0.2.7")))
        #expect(!policy.permits(Self.ip("198.51.100.1")))
        #expect(policy.maxConnectionsPerIP == 3)
        #expect(policy.maxConnections == 100)
        #expect(ClientAddressPolicy(ListenerConfig(host: "h", port: 0), limits: nil).permits(Self.ip("1.2.3.4")))
    }

    @Test("admission counts per address and in total")
    func admission() {
        let admission = ConnectionAdmission()
        let a = Self.ip("192.0.2.1")
        let b = Self.ip("192.0.2.2")
        #expect(admission.reserve(a, maxTotal: 3, maxPerAddress: 2) == .admitted)
        #expect(admission.reserve(a, maxTotal: 3, maxPerAddress: 2) == .admitted)
        #expect(admission.reserve(a, maxTotal: 3, maxPerAddress: 2) == .addressFull)
        #expect(admission.reserve(b, maxTotal: 3, maxPerAddress: 2) == .admitted)
        #expect(admission.reserve(b, maxTotal: 3, maxPerAddress: 2) == .nodeFull)
        admission.release(a)
        admission.release(a)
        #expect(admission.snapshot == (1, 1))
        admission.release(b)
        #expect(admission.snapshot == (0, 0))
    }
}
