import Foundation
import CLibUV
import Glibc

/// A `ws://`, `wss://`, `http://` or `https://` URL, split once at start-up.
public struct TargetURL: Sendable, Equatable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int
    /// Path and query as sent on the request line (`/` when empty).
    public var pathAndQuery: String

    public var isTLS: Bool { scheme == "wss" || scheme == "https" }
    public var isWebSocket: Bool { scheme == "ws" || scheme == "wss" }

    /// The `Host` header: the port is left out when it is the scheme's default.
    public var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        let defaultPort = isTLS ? 443 : 80
        return port == defaultPort ? h : "\(h):\(port)"
    }

    public var description: String { "\(scheme)://\(hostHeader)\(pathAndQuery)" }

    public init?(_ text: String) {
        guard let schemeEnd = text.range(of: "://") else { return nil }
        scheme = String(text[..<schemeEnd.lowerBound]).lowercased()
        guard ["ws", "wss", "http", "https"].contains(scheme) else { return nil }
        var rest = text[schemeEnd.upperBound...]
        let pathStart = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        var authority = rest[..<pathStart]
        rest = rest[pathStart...]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        let defaultPort = (scheme == "wss" || scheme == "https") ? 443 : 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), p > 0, p < 65536 else { return nil }
                port = p
            } else {
                port = defaultPort
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]), p > 0, p < 65536 else { return nil }
            port = p
        } else {
            host = String(authority)
            port = defaultPort
        }
        guard !host.isEmpty else { return nil }
        var path = String(rest)
        if path.isEmpty { path = "/" }
        if path.hasPrefix("?") { path = "/" + path }
        pathAndQuery = path
    }

    /// The same URL with another path (for the admin API).
    public func with(path: String) -> TargetURL {
        var copy = self
        copy.pathAndQuery = path
        return copy
    }
}

/// A resolved socket address, copied by value into each connect.
public struct SocketAddress: @unchecked Sendable {
    public var storage = sockaddr_storage()
    public var length: socklen_t = 0

    public var family: Int32 { Int32(storage.ss_family) }

    /// Resolves host and port (numeric or by name, first address wins).
    public static func resolve(host: String, port: Int) -> SocketAddress? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        var address = SocketAddress()
        // Prefer IPv4 when a name has both, as most load targets listen on v4.
        var pick = first
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let c = cursor {
            if c.pointee.ai_family == AF_INET { pick = c; break }
            cursor = c.pointee.ai_next
        }
        withUnsafeMutableBytes(of: &address.storage) { raw in
            raw.baseAddress!.copyMemory(from: pick.pointee.ai_addr, byteCount: Int(pick.pointee.ai_addrlen))
        }
        address.length = pick.pointee.ai_addrlen
        return address
    }

    /// A numeric source address with port 0.
    public static func numeric(_ host: String) -> SocketAddress? {
        var address = SocketAddress()
        let ok: Int32 = withUnsafeMutablePointer(to: &address.storage) { ptr in
            host.contains(":")
                ? ptr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { uv_ip6_addr(host, 0, $0) }
                : ptr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { uv_ip4_addr(host, 0, $0) }
        }
        guard ok == 0 else { return nil }
        address.length = socklen_t(host.contains(":") ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        return address
    }
}
