@testable import PetrelRedis
import Testing

@Suite("RedisEndpoint URLs and reconnect backoff")
struct EndpointTests {
    @Test("redis:// with host, port and db")
    func tcpURL() throws {
        let e = try #require(RedisEndpoint(url: "redis://10.0.0.5:6380/2"))
        #expect(e.host == "10.0.0.5")
        #expect(e.port == 6380)
        #expect(e.db == 2)
        #expect(e.unixSocketPath == nil)
        #expect(e.password == nil)
    }

    @Test("defaults: port 6379, db 0")
    func defaults() throws {
        let e = try #require(RedisEndpoint(url: "redis://redis.internal"))
        #expect(e.host == "redis.internal")
        #expect(e.port == 6379)
        #expect(e.db == 0)
        #expect(RedisEndpoint(url: "redis://h/")?.db == 0)
    }

    @Test("IPv6 literal in brackets")
    func ipv6() throws {
        let e = try #require(RedisEndpoint(url: "redis://[::1]:7000/1"))
        #expect(e.host == "::1")
        #expect(e.port == 7000)
        #expect(e.db == 1)
        #expect(e.redacted == "redis://[::1]:7000/1")
    }

    @Test("credentials, percent-encoded, never shown by redacted")
    func credentials() throws {
        let e = try #require(RedisEndpoint(url: "redis://app:p%40ss%2Fw@127.0.0.1:6379/0"))
        #expect(e.username == "app")
        #expect(e.password == "p@ss/w")
        #expect(!e.redacted.contains("p@ss"))
        let passwordOnly = try #require(RedisEndpoint(url: "redis://:secret@host"))
        #expect(passwordOnly.username == nil)
        #expect(passwordOnly.password == "secret")
    }

    @Test("unix:// with db query")
    func unixURL() throws {
        let e = try #require(RedisEndpoint(url: "unix:///var/run/redis.sock?db=4"))
        #expect(e.unixSocketPath == "/var/run/redis.sock")
        #expect(e.db == 4)
        #expect(RedisEndpoint(url: "unix:///tmp/r.sock")?.db == 0)
    }

    @Test("malformed URLs are refused", arguments: [
        "http://host", "rediss://host", "redis://", "redis://host:0", "redis://host:65536", "redis://host:x",
        "redis://host/-1", "redis://host/db", "redis://[::1", "unix://relative", "unix:///s?db=x", "redis://a:b@h:1/%",
        "redis://:%zz@host",
    ])
    func malformed(url: String) {
        #expect(RedisEndpoint(url: url) == nil)
    }

    @Test("backoff grows from 100 ms to 5 s and stays in [base/2, base]")
    func backoff() {
        let low = { (r: ClosedRange<Int64>) in r.lowerBound }
        let high = { (r: ClosedRange<Int64>) in r.upperBound }
        #expect(RedisLink.backoffDelay(failures: 0, random: high) == 100)
        #expect(RedisLink.backoffDelay(failures: 1, random: low) == 100)
        #expect(RedisLink.backoffDelay(failures: 2, random: high) == 200)
        #expect(RedisLink.backoffDelay(failures: 3, random: low) == 200)
        #expect(RedisLink.backoffDelay(failures: 6, random: high) == 3_200)
        #expect(RedisLink.backoffDelay(failures: 7, random: high) == 5_000)
        #expect(RedisLink.backoffDelay(failures: 7, random: low) == 2_500)
        #expect(RedisLink.backoffDelay(failures: 1_000, random: high) == 5_000)
        for failures in 0..<20 {
            let d = RedisLink.backoffDelay(failures: failures) { Int64.random(in: $0) }
            #expect(d >= 100 && d <= 5_000)
        }
    }
}
