import PetrelCodecs
import PetrelConfig
import PetrelLoop

/// One listener's rules about who the client is and who may connect (DESIGN §3; issue 6):
/// `proxy_protocol`, `trusted_proxies`, `allow_ips`/`deny_ips`, and the connection caps.
///
/// Where each rule bites, so a refused client costs as little as possible:
/// - the client address is known at accept (no PROXY protocol, peer not a trusted proxy): a denied
///   peer is closed at accept, before a byte is read or a TLS handshake is spent on it;
/// - it comes from a PROXY header: a denied client is closed right after the header;
/// - it comes from `X-Forwarded-For` (the peer is a trusted proxy): each request is checked, and a
///   denied one gets 403 and the connection closes.
/// With `proxy_protocol` and a non-empty `trusted_proxies`, a peer outside that list is closed at
/// accept: only the balancers may speak for clients.
final class ClientAddressPolicy: Sendable {
    let proxyProtocol: ProxyProtocolDecoder.Version?
    let trustedProxies: [IPNetwork]
    let allow: [IPNetwork]
    let deny: [IPNetwork]
    /// Open WebSockets per client address (`listeners.*.max_connections_per_ip` and
    /// `websocket.limits.max_connections_per_ip`: the smaller wins); `nil` = no cap.
    let maxConnectionsPerIP: Int?
    /// Open WebSockets on this node (`websocket.limits.max_connections`); `nil` = no cap.
    let maxConnections: Int?

    init(_ listener: ListenerConfig, limits: WebSocketLimits?) {
        switch listener.proxyProtocol {
        case .v1: proxyProtocol = .v1
        case .v2: proxyProtocol = .v2
        case nil: proxyProtocol = nil
        }
        trustedProxies = listener.trustedProxies.compactMap(IPNetwork.init(cidr:))
        allow = listener.allowIPs.compactMap(IPNetwork.init(cidr:))
        deny = listener.denyIPs.compactMap(IPNetwork.init(cidr:))
        let caps = [listener.maxConnectionsPerIP, limits?.maxConnectionsPerIP].compactMap { $0 }
        maxConnectionsPerIP = caps.min()
        maxConnections = limits?.maxConnections
    }

    /// Nothing to decide at accept: the common case costs one branch.
    var checksAtAccept: Bool { proxyProtocol != nil || !allow.isEmpty || !deny.isEmpty }

    func isTrusted(_ address: IPAddress?) -> Bool {
        guard let address else { return false }
        return trustedProxies.contains { $0.contains(address) }
    }

    /// `deny_ips` wins over `allow_ips`; an empty allow list allows everyone. An unknown address
    /// (the socket was gone before we asked) passes only when no allow list is set.
    func permits(_ address: IPAddress?) -> Bool {
        guard let address else { return allow.isEmpty }
        if deny.contains(where: { $0.contains(address) }) { return false }
        return allow.isEmpty || allow.contains { $0.contains(address) }
    }

    /// The client behind `transport` (the TCP peer, or the PROXY header's source): walking
    /// `X-Forwarded-For` from the right, each hop added by a trusted proxy is believed, and the
    /// first address not in `trusted_proxies` is the client. An entry that is not an address ends
    /// the walk at the last trusted hop. Headers from untrusted peers are never read.
    func client(transport: IPAddress, forwardedFor values: [String]) -> IPAddress {
        guard isTrusted(transport), !values.isEmpty else { return transport }
        let entries = values.flatMap { $0.split(separator: ",") }
        var client = transport
        for entry in entries.reversed() {
            guard isTrusted(client), let hop = Self.forwardedAddress(entry) else { break }
            client = hop
        }
        return client
    }

    /// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:5`, `[::1]:5`).
    static func forwardedAddress(_ entry: Substring) -> IPAddress? {
        var text = entry.utf8[...]
        while let first = text.first, first == 0x20 || first == 0x09 { text = text.dropFirst() }
        while let last = text.last, last == 0x20 || last == 0x09 { text = text.dropLast() }
        if text.first == UInt8(ascii: "[") {
            guard let close = text.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            return IPAddressText.parseIPv6(text[text.index(after: text.startIndex)..<close]).map { IPAddress(v6High: $0.high, low: $0.low) }
        }
        if let v4 = IPAddressText.parseIPv4(text) { return IPAddress(v4: v4) }
        if let v6 = IPAddressText.parseIPv6(text) { return IPAddress(v6High: v6.high, low: v6.low) }
        // "a.b.c.d:port"
        if let colon = text.firstIndex(of: UInt8(ascii: ":")), text[text.index(after: colon)...].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
           let v4 = IPAddressText.parseIPv4(text[..<colon]) {
            return IPAddress(v4: v4)
        }
        return nil
    }
}

/// An address block, `ADDRESS/PREFIX` or one address. Config validation has checked the syntax.
struct IPNetwork: Sendable, Equatable {
    let base: IPAddress
    let prefix: Int

    init?(cidr: String) {
        let parts = cidr.split(separator: "/", maxSplits: 1)
        guard let addressText = parts.first else { return nil }
        var prefix: Int?
        if parts.count == 2 {
            guard let p = Int(parts[1]) else { return nil }
            prefix = p
        }
        if let v4 = IPAddressText.parseIPv4(addressText.utf8) {
            base = IPAddress(v4: v4)
            self.prefix = prefix ?? 32
            guard (0...32).contains(self.prefix) else { return nil }
        } else if let v6 = IPAddressText.parseIPv6(addressText.utf8) {
            base = IPAddress(v6High: v6.high, low: v6.low)
            let p = prefix ?? 128
            guard (0...128).contains(p) else { return nil }
            if base.isV4 {
                // `::ffff:10.0.0.0/104` names IPv4 peers, which arrive unmapped.
                guard p >= 96 else { return nil }
                self.prefix = p - 96
            } else {
                self.prefix = p
            }
        } else {
            return nil
        }
    }

    func contains(_ address: IPAddress) -> Bool {
        guard address.isV4 == base.isV4 else { return false }
        if base.isV4 {
            let mask: UInt64 = prefix == 0 ? 0 : (0xFFFF_FFFF << UInt64(32 - prefix)) & 0xFFFF_FFFF
            return address.high & mask == base.high & mask
        }
        if prefix <= 64 {
            let mask: UInt64 = prefix == 0 ? 0 : ~0 << UInt64(64 - prefix)
            return address.high & mask == base.high & mask
        }
        let mask: UInt64 = ~0 << UInt64(128 - prefix)
        return address.high == base.high && address.low & mask == base.low & mask
    }
}
