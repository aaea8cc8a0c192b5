import PetrelCodecs
import Testing

/// PROXY protocol v1/v2 headers fed whole, byte by byte and in irregular splits, each followed by
/// the connection's first data, which the decoder must leave alone.
@Suite("ProxyProtocolDecoder")
struct ProxyProtocolDecoderTests {
    static let signature = ProxyProtocolDecoder.v2Signature
    static let trailing = Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8)

    /// Feeds in `mode` and returns the result with the full stream of bytes after the header.
    static func decode(_ bytes: [UInt8], _ version: ProxyProtocolDecoder.Version, _ mode: FeedMode,
                       maxV2Bytes: Int = 4096) -> (result: ProxyProtocolResult, rest: [UInt8]) {
        var decoder = ProxyProtocolDecoder(version: version, maxV2Bytes: maxV2Bytes)
        let reads = mode.reads(of: [bytes])
        for (i, read) in reads.enumerated() {
            let result = read.withUnsafeBytes { decoder.feed($0) }
            switch result {
            case .needMore:
                continue
            case .header(_, let consumed):
                #expect(consumed >= 1 && consumed <= read.count)
                return (result, Array(read[consumed...]) + reads[(i + 1)...].flatMap { $0 })
            case .invalid:
                return (result, [])
            }
        }
        return (.needMore, [])
    }

    static func header(_ result: ProxyProtocolResult) -> ProxyHeader? {
        if case .header(let header, _) = result { return header }
        return nil
    }

    static func v2(_ verCmd: UInt8, _ family: UInt8, _ body: [UInt8]) -> [UInt8] {
        signature + [verCmd, family, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    static let v4Block: [UInt8] = [192, 0, 2, 1, 198, 51, 100, 2, 0xDC, 0x04, 0x01, 0xBB]

    @Test("v1 TCP4 with trailing data", arguments: FeedMode.allCases)
    func v1TCP4(mode: FeedMode) throws {
        let line = Array("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n".utf8)
        let (result, rest) = Self.decode(line + Self.trailing, .v1, mode)
        let header = try #require(Self.header(result))
        #expect(header.command == .proxy)
        #expect(header.source == ProxyEndpoint(ip: .v4(0xC000_0201), port: 56324))
        #expect(header.destination == ProxyEndpoint(ip: .v4(0xC633_6402), port: 443))
        #expect(header.length == line.count)
        #expect(rest == Self.trailing)
    }

    @Test("v1 TCP6", arguments: FeedMode.allCases)
    func v1TCP6(mode: FeedMode) throws {
        let line = Array("PROXY TCP6 2001:db8::1 ::ffff:198.51.100.2 1 65535\r\n".utf8)
        let (result, rest) = Self.decode(line, .v1, mode)
        let header = try #require(Self.header(result))
        #expect(header.source == ProxyEndpoint(ip: .v6(high: 0x2001_0DB8_0000_0000, low: 1), port: 1))
        #expect(header.destination == ProxyEndpoint(ip: .v6(high: 0, low: 0x0000_FFFF_C633_6402), port: 65535))
        #expect(rest.isEmpty)
    }

    @Test("v1 UNKNOWN keeps the connection's address", arguments: FeedMode.allCases)
    func v1Unknown(mode: FeedMode) throws {
        let (result, rest) = Self.decode(Array("PROXY UNKNOWN ffff::1 whatever 1 2\r\n".utf8) + Self.trailing, .v1, mode)
        let header = try #require(Self.header(result))
        #expect(header.source == nil)
        #expect(rest == Self.trailing)
    }

    static let v1Refusals: [(String, String, ProxyProtocolError)] = [
        ("HTTP instead of PROXY", "GET / HTTP/1.1\r\n", .notProxyHeader),
        ("lowercase", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", .notProxyHeader),
        ("v2 signature on a v1 listener", "\r\n\r\n\0\r\nQUIT\n", .notProxyHeader),
        ("bare LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", .malformedLine),
        ("CR then junk", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", .malformedLine),
        // Fuzz regression (FuzzProxyProtocol, first run): a CR inside the line was judged by the
        // protocol field when the LF came in the same read, and as malformed when it did not.
        ("CR inside the line", "PROXY TCUNKNOWNP412 49 443\rTCP4 443\r\n", .malformedLine),
        ("two spaces", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", .malformedLine),
        ("missing port", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", .malformedLine),
        ("extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", .malformedLine),
        ("empty", "PROXY \r\n", .malformedLine),
        ("UDP4", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", .unsupportedProtocol),
        ("v6 address under TCP4", "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", .badAddress),
        ("v4 address under TCP6", "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", .badAddress),
        ("octet over 255", "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", .badAddress),
        ("leading zero octet", "PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n", .badAddress),
        ("three octets", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", .badAddress),
        ("two double colons", "PROXY TCP6 1::2::3 ::1 1 2\r\n", .badAddress),
        ("port over 65535", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", .badPort),
        ("port with leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", .badPort),
        ("negative port", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", .badPort),
    ]

    @Test("v1 refusals", arguments: v1Refusals, FeedMode.allCases)
    func v1Refused(_ refusal: (String, String, ProxyProtocolError), mode: FeedMode) {
        let (result, _) = Self.decode(Array(refusal.1.utf8), .v1, mode)
        #expect(result == .invalid(refusal.2), "\(refusal.0)")
    }

    @Test("v1 line longer than 107 bytes is refused without waiting for a CRLF", arguments: FeedMode.allCases)
    func v1TooLong(mode: FeedMode) {
        let (result, _) = Self.decode(Array(("PROXY UNKNOWN " + String(repeating: "a", count: 200)).utf8), .v1, mode)
        #expect(result == .invalid(.headerTooLong))
    }

    @Test("v1 line of exactly 107 bytes is accepted")
    func v1AtLimit() throws {
        let line = "PROXY UNKNOWN " + String(repeating: "a", count: 107 - 16) + "\r\n"
        #expect(line.utf8.count == 107)
        let (result, _) = Self.decode(Array(line.utf8), .v1, .allInOneRead)
        #expect(try #require(Self.header(result)).length == 107)
    }

    @Test("v1 incomplete line needs more")
    func v1Incomplete() {
        var decoder = ProxyProtocolDecoder(version: .v1)
        let result = Array("PROXY TCP4 1.2.3.4".utf8).withUnsafeBytes { decoder.feed($0) }
        #expect(result == .needMore)
        #expect(decoder.bufferedByteCount == 18)
    }

    @Test("v2 PROXY TCP4 with TLS bytes after it", arguments: FeedMode.allCases)
    func v2TCP4(mode: FeedMode) throws {
        let clientHello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]
        let bytes = Self.v2(0x21, 0x11, Self.v4Block)
        let (result, rest) = Self.decode(bytes + clientHello, .v2, mode)
        let header = try #require(Self.header(result))
        #expect(header.version == .v2)
        #expect(header.command == .proxy)
        #expect(header.source == ProxyEndpoint(ip: .v4(0xC000_0201), port: 56324))
        #expect(header.destination == ProxyEndpoint(ip: .v4(0xC633_6402), port: 443))
        #expect(header.length == 28)
        #expect(rest == clientHello)
    }

    @Test("v2 PROXY TCP6 with TLVs", arguments: FeedMode.allCases)
    func v2TCP6(mode: FeedMode) throws {
        let source = [UInt8](0..<16)
        let destination = [UInt8](16..<32)
        let tlvs: [UInt8] = [0x04, 0x00, 0x02, 0, 0, 0xEA, 0x00, 0x05] + Array("vpce1".utf8)
        let bytes = Self.v2(0x21, 0x21, source + destination + [0x00, 0x01, 0x00, 0x02] + tlvs)
        let (result, rest) = Self.decode(bytes + Self.trailing, .v2, mode)
        let header = try #require(Self.header(result))
        #expect(header.source == ProxyEndpoint(ip: .v6(high: 0x0001_0203_0405_0607, low: 0x0809_0A0B_0C0D_0E0F), port: 1))
        #expect(header.destination?.port == 2)
        #expect(header.length == bytes.count)
        #expect(rest == Self.trailing)
    }

    @Test("v2 LOCAL ignores any address block", arguments: FeedMode.allCases)
    func v2Local(mode: FeedMode) throws {
        for bytes in [Self.v2(0x20, 0x00, []), Self.v2(0x20, 0x11, Self.v4Block)] {
            let (result, rest) = Self.decode(bytes + Self.trailing, .v2, mode)
            let header = try #require(Self.header(result))
            #expect(header.command == .local)
            #expect(header.source == nil)
            #expect(rest == Self.trailing)
        }
    }

    @Test("v2 AF_UNIX and AF_UNSPEC carry no IP")
    func v2NoIP() throws {
        let unix = Self.v2(0x21, 0x31, [UInt8](repeating: 0x41, count: 216))
        #expect(try #require(Self.header(Self.decode(unix, .v2, .byteByByte).result)).source == nil)
        let unspec = Self.v2(0x21, 0x00, [])
        #expect(try #require(Self.header(Self.decode(unspec, .v2, .allInOneRead).result)).source == nil)
    }

    static let v2Refusals: [(String, [UInt8], ProxyProtocolError)] = [
        ("v1 line on a v2 listener", Array("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n".utf8), .notProxyHeader),
        ("TLS ClientHello without a header", [0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], .notProxyHeader),
        ("signature off by one byte", Array(signature.dropLast()) + [0x0B, 0x21, 0x11, 0, 12] + v4Block, .notProxyHeader),
        ("version 1 nibble", v2(0x11, 0x11, v4Block), .unsupportedVersion),
        ("version 3 nibble", v2(0x31, 0x11, v4Block), .unsupportedVersion),
        ("command 2", v2(0x22, 0x11, v4Block), .unsupportedCommand),
        ("family 4", v2(0x21, 0x41, v4Block), .badFamily),
        ("transport 3", v2(0x21, 0x13, v4Block), .badFamily),
        ("IPv4 block too short", v2(0x21, 0x11, Array(v4Block.prefix(11))), .addressBlockTooShort),
        ("IPv6 block too short", v2(0x21, 0x21, [UInt8](repeating: 0, count: 35)), .addressBlockTooShort),
        ("unix block too short", v2(0x21, 0x31, [UInt8](repeating: 0, count: 215)), .addressBlockTooShort),
        ("TLV overruns", v2(0x21, 0x11, v4Block + [0x01, 0x00, 0x09, 1, 2]), .badTLV),
        ("TLV header cut", v2(0x21, 0x11, v4Block + [0x01, 0x00]), .badTLV),
    ]

    @Test("v2 refusals", arguments: v2Refusals, FeedMode.allCases)
    func v2Refused(_ refusal: (String, [UInt8], ProxyProtocolError), mode: FeedMode) {
        let (result, _) = Self.decode(refusal.1, .v2, mode)
        #expect(result == .invalid(refusal.2), "\(refusal.0)")
    }

    @Test("v2 header over the bound is refused as soon as its length is known")
    func v2TooLong() {
        var decoder = ProxyProtocolDecoder(version: .v2, maxV2Bytes: 512)
        let head = Self.signature + [0x21, 0x11, 0x02, 0x00]  // length 512 + 16 > 512
        #expect(head.withUnsafeBytes { decoder.feed($0) } == .invalid(.headerTooLong))
    }

    @Test("v2 waits for the whole length before answering")
    func v2Partial() {
        var decoder = ProxyProtocolDecoder(version: .v2)
        let bytes = Self.v2(0x21, 0x11, Self.v4Block)
        #expect(bytes[0..<27].withUnsafeBytes { decoder.feed($0) } == .needMore)
        #expect(decoder.bufferedByteCount == 27)
        guard case .header(_, let consumed) = bytes[27...].withUnsafeBytes({ decoder.feed($0) }) else {
            Issue.record("expected a header")
            return
        }
        #expect(consumed == 1)
    }

    @Test("IPv6 text forms")
    func ipv6Text() {
        func parse(_ s: String) -> (UInt64, UInt64)? { IPAddressText.parseIPv6(Array(s.utf8)).map { ($0.high, $0.low) } }
        #expect(parse("::")! == (0, 0))
        #expect(parse("::1")! == (0, 1))
        #expect(parse("1::")! == (0x0001_0000_0000_0000, 0))
        #expect(parse("1:2:3:4:5:6:7:8")! == (0x0001_0002_0003_0004, 0x0005_0006_0007_0008))
        #expect(parse("1:2:3:4:5:6:1.2.3.4")! == (0x0001_0002_0003_0004, 0x0005_0006_0102_0304))
        for bad in ["", ":", ":::", "1:2", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "::1.2.3",
                    "fe80::1%eth0", "[::1]", "::g", "1.2.3.4", "1:"] {
            #expect(parse(bad) == nil, "\(bad)")
        }
    }
}
