import Testing
@testable import PetrelConfig

@Suite struct DurationParsingTests {
    @Test(arguments: [
        ("500ms", 500), ("30s", 30_000), ("10m", 600_000), ("2h", 7_200_000),
        ("0s", 0), ("1h30m", 5_400_000), ("1m500ms", 60_500),
    ] as [(String, Milliseconds)])
    func parses(_ text: String, _ expected: Milliseconds) {
        #expect(parseDuration(text) == expected)
    }

    @Test(arguments: ["", "30", "s", "1.5s", "10 m", "-1s", "1d", "10M", "1sec", "ms30", "99999999999999999999h", "9223372036854775807h"])
    func rejects(_ text: String) {
        #expect(parseDuration(text) == nil)
    }
}

@Suite struct SizeParsingTests {
    @Test(arguments: [
        ("131072", 131_072), ("0", 0), ("128KiB", 131_072), ("1MiB", 1_048_576), ("1 MiB", 1_048_576),
        ("2GiB", 2_147_483_648), ("512B", 512),
    ])
    func parses(_ text: String, _ expected: Int) {
        #expect(parseSize(text) == expected)
    }

    @Test(arguments: ["", "KiB", "1KB", "1MB", "1.5MiB", "-1", "+1", "1kib", "12 ", "99999999999999999999", "9999999999999GiB"])
    func rejects(_ text: String) {
        #expect(parseSize(text) == nil)
    }
}

@Suite struct HostPortParsingTests {
    @Test func ipv4() throws {
        let parsed = try #require(parseHostPort("0.0.0.0:8080"))
        #expect(parsed.host == "0.0.0.0")
        #expect(parsed.port == 8080)
    }

    @Test func bracketedIPv6() throws {
        let parsed = try #require(parseHostPort("[::1]:9090"))
        #expect(parsed.host == "::1")
        #expect(parsed.port == 9090)
    }

    @Test func hostnameAndPortZero() throws {
        let parsed = try #require(parseHostPort("localhost:0"))
        #expect(parsed.host == "localhost")
        #expect(parsed.port == 0)
        #expect(parseHostPort("h:65535")?.port == 65_535)
    }

    @Test(arguments: ["8080", ":8080", "host:", "host:65536", "host:-1", "host:80x", "::1:80", "[::1]80", "[::1", "[]:80", "a b:80", "host:000080"])
    func rejects(_ text: String) {
        #expect(parseHostPort(text) == nil)
    }
}
