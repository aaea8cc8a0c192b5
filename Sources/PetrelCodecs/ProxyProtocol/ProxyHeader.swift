/// An IP address as a PROXY header carries it: IPv4 in 32 bits, IPv6 as two 64-bit halves, both
/// in network order (the first byte is the most significant).
public enum ProxyIP: Sendable, Hashable {
    case v4(UInt32)
    case v6(high: UInt64, low: UInt64)
}

/// An address and port from a PROXY header.
public struct ProxyEndpoint: Sendable, Hashable {
    public var ip: ProxyIP
    public var port: UInt16

    public init(ip: ProxyIP, port: UInt16) {
        self.ip = ip
        self.port = port
    }
}

/// A decoded PROXY protocol header (HAProxy's "PROXY protocol", versions 1 and 2).
public struct ProxyHeader: Sendable, Equatable {
    public enum Command: Sendable, Equatable {
        /// The balancer's own connection (health checks): use the TCP peer's address.
        case local
        /// A relayed client connection.
        case proxy
    }

    public var version: ProxyProtocolDecoder.Version
    public var command: Command
    /// The client. `nil` for `LOCAL`, v1 `UNKNOWN`, and v2 `AF_UNSPEC`/`AF_UNIX`: the receiver then
    /// keeps the connection's own address (spec §2.1, §2.2).
    public var source: ProxyEndpoint?
    /// The address the client connected to (the balancer's frontend).
    public var destination: ProxyEndpoint?
    /// Bytes the header took on the wire, CRLF (v1) or TLVs (v2) included.
    public var length: Int

    public init(version: ProxyProtocolDecoder.Version, command: Command, source: ProxyEndpoint?,
                destination: ProxyEndpoint?, length: Int) {
        self.version = version
        self.command = command
        self.source = source
        self.destination = destination
        self.length = length
    }
}

/// Why bytes are not an acceptable PROXY header. Every one ends the connection: the spec forbids
/// guessing, so a listener configured for the protocol never falls back to reading HTTP.
public enum ProxyProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The first bytes are not the configured version's signature (`PROXY ` or the v2 12 bytes).
    case notProxyHeader
    /// No complete header within the size bound (107 bytes for v1, `maxV2Bytes` for v2).
    case headerTooLong
    /// v1: not `PROXY SP PROTO SP SRC SP DST SP SPORT SP DPORT CRLF` with single spaces.
    case malformedLine
    /// v1: an address not in its family's textual form (or of the other family).
    case badAddress
    /// v1: a port that is not 0-65535 in decimal without leading zeros.
    case badPort
    /// v1: a protocol other than TCP4, TCP6 or UNKNOWN.
    case unsupportedProtocol
    /// v2: the version nibble is not 2.
    case unsupportedVersion
    /// v2: a command other than LOCAL (0) or PROXY (1).
    case unsupportedCommand
    /// v2: an address family or transport byte the spec does not define.
    case badFamily
    /// v2: the length is too small for the family's address block.
    case addressBlockTooShort
    /// v2: the TLVs after the address block do not add up to the header length.
    case badTLV

    public var description: String {
        switch self {
        case .notProxyHeader: return "not a PROXY protocol header"
        case .headerTooLong: return "PROXY header too long"
        case .malformedLine: return "malformed PROXY v1 line"
        case .badAddress: return "bad address in PROXY header"
        case .badPort: return "bad port in PROXY header"
        case .unsupportedProtocol: return "unsupported PROXY v1 protocol"
        case .unsupportedVersion: return "unsupported PROXY v2 version"
        case .unsupportedCommand: return "unsupported PROXY v2 command"
        case .badFamily: return "bad PROXY v2 address family"
        case .addressBlockTooShort: return "PROXY v2 address block too short"
        case .badTLV: return "bad PROXY v2 TLV"
        }
    }
}

/// What one `feed` produced.
public enum ProxyProtocolResult: Sendable, Equatable {
    /// The header is not complete yet; every byte fed so far was taken.
    case needMore
    /// The header is complete. `consumed` is how many bytes of the *last* chunk it took: the rest
    /// of that chunk is the connection's first data (TLS ClientHello or HTTP request).
    case header(ProxyHeader, consumed: Int)
    /// Not an acceptable header: close the connection.
    case invalid(ProxyProtocolError)
}
