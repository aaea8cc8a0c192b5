/// HAProxy's PROXY protocol (haproxy.org/download/3.0/doc/proxy-protocol.txt), versions 1 and 2:
/// the header a load balancer writes before the client's first byte so the server learns the
/// client's address. A state machine fed bytes as they arrive; no I/O, no clock (the handshake
/// timeout bounds a header that never completes).
///
/// The decoder keeps at most one header's worth of bytes (107 for v1, `maxV2Bytes` for v2) and
/// reports, when the header is complete, how much of the last chunk it took, so the caller hands
/// the rest of that chunk on without a copy. It accepts exactly the configured version: the spec
/// (§2) says a receiver must not guess whether a header is present.
public struct ProxyProtocolDecoder: Sendable {
    public enum Version: Sendable, Equatable { case v1, v2 }

    /// The longest v1 line the spec allows, CRLF included (§2.1).
    public static let v1MaxBytes = 107
    /// `\r\n\r\n\0\r\nQUIT\n` (§2.2).
    public static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    static let v1Prefix = Array("PROXY ".utf8)

    public let version: Version
    /// Bound on a v2 header, TLVs included. 4 KiB holds every TLV balancers send in practice
    /// (AWS's VPC endpoint id, TLS details); a longer header is refused rather than buffered.
    public let maxV2Bytes: Int
    private var buffer: [UInt8] = []
    private var finished = false

    public init(version: Version, maxV2Bytes: Int = 4096) {
        self.version = version
        self.maxV2Bytes = max(16 + 216, maxV2Bytes)
    }

    /// Bytes buffered while the header is incomplete.
    public var bufferedByteCount: Int { buffer.count }

    /// Feeds the next bytes. After `.header` or `.invalid` the decoder is done; feeding it again
    /// is a caller error and answers `.invalid(.notProxyHeader)`.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> ProxyProtocolResult {
        guard !finished else { return .invalid(.notProxyHeader) }
        let before = buffer.count
        let limit = version == .v1 ? Self.v1MaxBytes : maxV2Bytes
        let take = min(bytes.count, limit - before)
        if take > 0 { buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<take])) }
        let outcome = version == .v1 ? Self.parseV1(buffer) : Self.parseV2(buffer, limit: limit)
        switch outcome {
        case .needMore:
            if buffer.count >= limit { return finish(.invalid(.headerTooLong)) }
            return .needMore
        case .header(let header, _):
            return finish(.header(header, consumed: header.length - before))
        case .invalid:
            return finish(outcome)
        }
    }

    private mutating func finish(_ result: ProxyProtocolResult) -> ProxyProtocolResult {
        finished = true
        buffer = []
        return result
    }

    // MARK: Version 1 (§2.1): "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"

    static func parseV1(_ bytes: [UInt8]) -> ProxyProtocolResult {
        let prefixCount = min(bytes.count, v1Prefix.count)
        guard bytes[0..<prefixCount].elementsEqual(v1Prefix[0..<prefixCount]) else { return .invalid(.notProxyHeader) }
        guard let lineFeed = bytes.firstIndex(of: 0x0A) else {
            // A CR must be the line's last byte: anything after it can never become a header.
            if let cr = bytes.firstIndex(of: 0x0D), cr + 1 < bytes.count { return .invalid(.malformedLine) }
            return .needMore
        }
        guard lineFeed > v1Prefix.count, bytes[lineFeed - 1] == 0x0D,
              bytes.firstIndex(of: 0x0D) == lineFeed - 1 else { return .invalid(.malformedLine) }
        let line = bytes[v1Prefix.count..<(lineFeed - 1)]
        let fields = line.split(separator: 0x20, omittingEmptySubsequences: false)
        let length = lineFeed + 1
        guard let proto = fields.first else { return .invalid(.malformedLine) }
        if proto.elementsEqual("UNKNOWN".utf8) {
            // The sender could not tell; the rest of the line is to be ignored (§2.1).
            return .header(ProxyHeader(version: .v1, command: .proxy, source: nil, destination: nil, length: length), consumed: 0)
        }
        let isV4: Bool
        if proto.elementsEqual("TCP4".utf8) {
            isV4 = true
        } else if proto.elementsEqual("TCP6".utf8) {
            isV4 = false
        } else {
            return .invalid(fields.count == 1 || proto.isEmpty ? .malformedLine : .unsupportedProtocol)
        }
        guard fields.count == 5, fields.allSatisfy({ !$0.isEmpty }) else { return .invalid(.malformedLine) }
        guard let source = address(fields[1], v4: isV4), let destination = address(fields[2], v4: isV4) else {
            return .invalid(.badAddress)
        }
        guard let sourcePort = port(fields[3]), let destinationPort = port(fields[4]) else { return .invalid(.badPort) }
        return .header(ProxyHeader(version: .v1, command: .proxy,
                                   source: ProxyEndpoint(ip: source, port: sourcePort),
                                   destination: ProxyEndpoint(ip: destination, port: destinationPort),
                                   length: length), consumed: 0)
    }

    private static func address(_ text: ArraySlice<UInt8>, v4: Bool) -> ProxyIP? {
        if v4 { return IPAddressText.parseIPv4(text).map { .v4($0) } }
        return IPAddressText.parseIPv6(text).map { .v6(high: $0.high, low: $0.low) }
    }

    private static func port(_ text: ArraySlice<UInt8>) -> UInt16? {
        guard text.count <= 5, text.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        if text.count > 1, text.first == 0x30 { return nil }
        let value = text.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        return value <= 65535 ? UInt16(value) : nil
    }

    // MARK: Version 2 (§2.2): 12-byte signature, ver/cmd, family, length, addresses, TLVs

    static func parseV2(_ bytes: [UInt8], limit: Int) -> ProxyProtocolResult {
        let prefixCount = min(bytes.count, v2Signature.count)
        guard bytes[0..<prefixCount].elementsEqual(v2Signature[0..<prefixCount]) else { return .invalid(.notProxyHeader) }
        guard bytes.count >= 16 else { return .needMore }
        guard bytes[12] >> 4 == 2 else { return .invalid(.unsupportedVersion) }
        let command: ProxyHeader.Command
        switch bytes[12] & 0x0F {
        case 0: command = .local
        case 1: command = .proxy
        default: return .invalid(.unsupportedCommand)
        }
        let family = bytes[13] >> 4
        let transport = bytes[13] & 0x0F
        guard family <= 3, transport <= 2 else { return .invalid(.badFamily) }
        let length = 16 + (Int(bytes[14]) << 8 | Int(bytes[15]))
        guard length <= limit else { return .invalid(.headerTooLong) }
        guard bytes.count >= length else { return .needMore }

        let addressBytes: Int
        switch family {
        case 1: addressBytes = 12
        case 2: addressBytes = 36
        case 3: addressBytes = 216
        default: addressBytes = 0
        }
        guard length - 16 >= addressBytes else { return .invalid(.addressBlockTooShort) }
        guard tlvsAreWellFormed(bytes[(16 + addressBytes)..<length]) else { return .invalid(.badTLV) }

        var source: ProxyEndpoint?
        var destination: ProxyEndpoint?
        // LOCAL: "the receiver must ignore the address information" (§2.2), whatever the family.
        if command == .proxy {
            switch family {
            case 1:
                source = ProxyEndpoint(ip: .v4(be32(bytes, 16)), port: be16(bytes, 24))
                destination = ProxyEndpoint(ip: .v4(be32(bytes, 20)), port: be16(bytes, 26))
            case 2:
                source = ProxyEndpoint(ip: .v6(high: be64(bytes, 16), low: be64(bytes, 24)), port: be16(bytes, 48))
                destination = ProxyEndpoint(ip: .v6(high: be64(bytes, 32), low: be64(bytes, 40)), port: be16(bytes, 50))
            default:
                break  // AF_UNSPEC or AF_UNIX: no IP to report; the TCP peer stands.
            }
        }
        return .header(ProxyHeader(version: .v2, command: command, source: source, destination: destination,
                                   length: length), consumed: 0)
    }

    /// Each TLV is a type byte, a 16-bit length and that many bytes; together they fill the rest
    /// of the header exactly (§2.2.7).
    private static func tlvsAreWellFormed(_ tlvs: ArraySlice<UInt8>) -> Bool {
        var i = tlvs.startIndex
        while i < tlvs.endIndex {
            guard tlvs.endIndex - i >= 3 else { return false }
            let valueLength = Int(tlvs[i + 1]) << 8 | Int(tlvs[i + 2])
            i += 3 + valueLength
            if i > tlvs.endIndex { return false }
        }
        return true
    }

    private static func be16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) << 8 | UInt16(b[at + 1]) }
    private static func be32(_ b: [UInt8], _ at: Int) -> UInt32 { UInt32(be16(b, at)) << 16 | UInt32(be16(b, at + 2)) }
    private static func be64(_ b: [UInt8], _ at: Int) -> UInt64 { UInt64(be32(b, at)) << 32 | UInt64(be32(b, at + 4)) }
}
