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
            out += out.utf8.contains(UInt8(ascii: "?")) ? "&" : "?"
            out += query
        }
        return out
    }
}

/// Header rules of the proxy (RFC 9110 §7.6.1): hop-by-hop fields stay on their hop.
///
/// Names are compared in place, ASCII case-insensitively: this runs for every header of every
/// proxied request and answer, where lowercased copies and set lookups cost an allocation and a
/// hash each.
enum ProxyHeaders {
    static func isHopByHop(_ name: String) -> Bool {
        switch name.utf8.count {
        case 2: return HeaderName.is(name, "te")
        case 7: return HeaderName.is(name, "trailer") || HeaderName.is(name, "upgrade")
        case 10: return HeaderName.is(name, "connection") || HeaderName.is(name, "keep-alive")
        case 16: return HeaderName.is(name, "proxy-connection")
        case 17: return HeaderName.is(name, "transfer-encoding")
        case 18: return HeaderName.is(name, "proxy-authenticate")
        case 19: return HeaderName.is(name, "proxy-authorization")
        default: return false
        }
    }

    /// The field names a `Connection` header lists (lowercased): hop-by-hop too. Usually none.
    private static func connectionOptions(_ values: [String]) -> Set<String> {
        var named: Set<String> = []
        for value in values {
            for token in value.split(separator: ",") { named.insert(token.trimmingCharacters().lowercased()) }
        }
        return named
    }

    /// The request headers for the backend: the client's minus hop-by-hop fields (and those the
    /// client's `Connection` names), `Host` (the HTTP client sets the backend's), framing fields
    /// (the HTTP client frames the body), plus `X-Forwarded-For/Proto/Port`.
    static func request(_ headers: HTTPHeaders, sourceIp: String, isTLS: Bool) -> [(String, String)] {
        var named: Set<String> = []
        var connectionValues: [String] = []
        for (name, value) in headers.entries where HeaderName.is(name, "connection") { connectionValues.append(value) }
        if !connectionValues.isEmpty { named = connectionOptions(connectionValues) }
        var out: [(String, String)] = []
        out.reserveCapacity(headers.entries.count + 3)
        var forwardedFor: String?
        var host: String?
        for (name, value) in headers.entries {
            if HeaderName.is(name, "host") { host = value; continue }
            if HeaderName.is(name, "x-forwarded-for") { forwardedFor = forwardedFor.map { $0 + ", " + value } ?? value; continue }
            if HeaderName.is(name, "content-length") || HeaderName.is(name, "expect")
                || HeaderName.is(name, "x-forwarded-proto") || HeaderName.is(name, "x-forwarded-port") || isHopByHop(name) {
                continue
            }
            if !named.isEmpty && named.contains(name.lowercased()) { continue }
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
        var connectionValues: [String] = []
        for (name, value) in headers where HeaderName.is(name, "connection") { connectionValues.append(value) }
        let named = connectionValues.isEmpty ? [] : connectionOptions(connectionValues)
        return headers.filter { name, _ in
            !isHopByHop(name) && !HeaderName.is(name, "content-length") && (named.isEmpty || !named.contains(name.lowercased()))
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
