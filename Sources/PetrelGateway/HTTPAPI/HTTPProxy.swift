import PetrelCodecs
import PetrelCore

/// Where an `http_proxy` route sends a request: the integration URL with `{name}` replaced by the
/// route's path parameters (`{proxy}` for a greedy `{proxy+}`), raw as the client sent them.
/// Without placeholders the URL is used as written, except on `$default`, which appends the
/// whole request path (API Gateway: "`$default` receives the full path"). The query string is
/// always forwarded.
struct ProxyTarget: Sendable {
    enum Part: Sendable {
        case literal(String)
        case parameter(String)
    }

    let parts: [Part]
    let appendsPath: Bool

    init(url: String, key: HTTPRouteKey, at: String) throws(GatewaySettings.BuildError) {
        var names: Set<String> = []
        for segment in key.segments {
            switch segment {
            case .parameter(let name), .greedy(let name): names.insert(name)
            case .literal: break
            }
        }
        var parts: [Part] = []
        var rest = Substring(url)
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else { break }
            if open > rest.startIndex { parts.append(.literal(String(rest[..<open]))) }
            var name = String(rest[rest.index(after: open)..<close])
            if name.hasSuffix("+") { name.removeLast() }
            guard names.contains(name) else {
                throw GatewaySettings.BuildError(description: "\(at).integration: the URL names {\(name)}, which route \(key.text) does not have")
            }
            parts.append(.parameter(name))
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        self.parts = parts
        appendsPath = key.isDefault && !parts.contains { if case .parameter = $0 { return true } else { return false } }
    }

    /// The URL for one request. `path` is the request path without the stage.
    func url(parameters: [(name: String, value: String)], path: String, query: String?) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let text): out += text
            case .parameter(let name): out += parameters.first { $0.name == name }?.value ?? ""
            }
        }
        if appendsPath {
            if out.hasSuffix("/") { out.removeLast() }
            out += path
        }
        if let query, !query.isEmpty {
            out += out.contains("?") ? "&" : "?"
            out += query
        }
        return out
    }
}

/// Header rules of the proxy (RFC 9110 §7.6.1): hop-by-hop fields stay on their hop.
enum ProxyHeaders {
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-authenticate", "proxy-authorization",
    ]

    /// The request headers for the backend: the client's minus hop-by-hop fields (and those the
    /// client's `Connection` names), `Host` (curl sets the backend's), framing fields (curl
    /// frames the body), plus `X-Forwarded-For/Proto/Port`.
    static func request(_ headers: HTTPHeaders, sourceIp: String, isTLS: Bool) -> [(String, String)] {
        var named: Set<String> = []
        for value in headers.all("Connection") {
            for token in value.split(separator: ",") { named.insert(token.trimmingCharacters().lowercased()) }
        }
        var out: [(String, String)] = []
        out.reserveCapacity(headers.entries.count + 3)
        var forwardedFor: String?
        var host: String?
        for (name, value) in headers.entries {
            let lower = name.lowercased()
            switch lower {
            case "host": host = value; continue
            case "content-length", "expect", "x-forwarded-proto", "x-forwarded-port": continue
            case "x-forwarded-for": forwardedFor = forwardedFor.map { $0 + ", " + value } ?? value; continue
            default:
                if hopByHop.contains(lower) || named.contains(lower) { continue }
            }
            out.append((name, value))
        }
        out.append(("X-Forwarded-For", forwardedFor.map { $0 + ", " + sourceIp } ?? sourceIp))
        out.append(("X-Forwarded-Proto", isTLS ? "https" : "http"))
        out.append(("X-Forwarded-Port", port(host: host, isTLS: isTLS)))
        return out
    }

    /// The backend's response headers for the client: hop-by-hop and framing fields dropped (the
    /// gateway frames the response itself).
    static func response(_ headers: [(String, String)]) -> [(String, String)] {
        var named: Set<String> = []
        for (name, value) in headers where name.lowercased() == "connection" {
            for token in value.split(separator: ",") { named.insert(token.trimmingCharacters().lowercased()) }
        }
        return headers.filter { name, _ in
            let lower = name.lowercased()
            return !hopByHop.contains(lower) && !named.contains(lower) && lower != "content-length"
        }
    }

    /// The port the client connected to, from `Host`, else the scheme's default.
    static func port(host: String?, isTLS: Bool) -> String {
        if let host, let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") {
            let digits = host[host.index(after: colon)...]
            if !digits.isEmpty, digits.allSatisfy(\.isNumber) { return String(digits) }
        }
        return isTLS ? "443" : "80"
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
