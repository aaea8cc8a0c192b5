import CLibUV
import Glibc

/// A backend the upstream pool keeps connections to: a host and port.
struct UpstreamOrigin: Hashable {
    /// The IP literal, or the host name (lowercased) to resolve for each new connection.
    let host: String
    let port: Int
    /// For an IP literal: its `sockaddr_in` or `sockaddr_in6`, as bytes.
    let address: [UInt8]?

    /// The address follows from the host: hashing its bytes one by one on every lookup of the
    /// pool's table would only cost time.
    func hash(into hasher: inout Hasher) {
        hasher.combine(host)
        hasher.combine(port)
    }
}

/// Where one plain-http request goes, read from its URL: the origin, the `Host` field and the
/// request-target. Only URLs the pool can send as written qualify (`http://`, visible ASCII, an
/// IP literal or a plain host name, no user info or fragment); any other URL (https, something
/// unusual) is left to libcurl.
struct UpstreamTarget {
    let origin: UpstreamOrigin
    /// The URL's authority as written (`127.0.0.1:8080`, `[::1]:9000`).
    let hostField: String
    /// Path and query as written; `/` when the URL has no path.
    let requestTarget: String

    init?(url: String) {
        var utf8 = Substring(url).utf8
        let scheme = "http://".utf8
        guard utf8.count > scheme.count,
              zip(utf8.prefix(scheme.count), scheme).allSatisfy({ ($0 | 0x20) == $1 || $0 == $1 }) else { return nil }
        utf8 = utf8.dropFirst(scheme.count)
        // Visible ASCII only: anything else is for curl to refuse or encode as it always did.
        guard utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "#") }) else { return nil }
        let authorityEnd = utf8.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? utf8.endIndex
        let authority = Substring(utf8[..<authorityEnd])
        guard !authority.isEmpty, !authority.utf8.contains(UInt8(ascii: "@")) else { return nil }
        let rest = Substring(utf8[authorityEnd...])
        requestTarget = rest.isEmpty ? "/" : (rest.first == "?" ? "/" + rest : String(rest))
        hostField = String(authority)

        var host = authority
        var portText: Substring = ""
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { return nil }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        }
        var port = 80
        if !portText.isEmpty {
            guard portText.count <= 5, let value = Int(portText), value > 0, value <= 65535 else { return nil }
            port = value
        }
        guard let origin = Self.origin(host: host, port: port) else { return nil }
        self.origin = origin
    }

    private static func origin(host: Substring, port: Int) -> UpstreamOrigin? {
        let text = String(host)
        if host.utf8.contains(UInt8(ascii: ":")) {
            var address = sockaddr_in6()
            guard uv_ip6_addr(text, Int32(port), &address) == 0 else { return nil }
            return UpstreamOrigin(host: text, port: port, address: withUnsafeBytes(of: &address) { Array($0) })
        }
        var address = sockaddr_in()
        if host.utf8.allSatisfy({ $0 == UInt8(ascii: ".") || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) }) {
            guard uv_ip4_addr(text, Int32(port), &address) == 0 else { return nil }
            return UpstreamOrigin(host: text, port: port, address: withUnsafeBytes(of: &address) { Array($0) })
        }
        // A DNS name (RFC 1123 letters, digits, hyphens and dots); anything else is curl's to judge.
        guard host.utf8.allSatisfy({ byte in
            byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || ((byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z"))
        }) else { return nil }
        return UpstreamOrigin(host: text.lowercased(), port: port, address: nil)
    }
}
