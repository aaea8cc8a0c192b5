/// CORS as API Gateway's HTTP APIs do it (DESIGN §8; facts §3.3 CORS): the gateway answers
/// preflight `OPTIONS` requests itself, and on other requests from an allowed origin it sets the
/// `access-control-*` response headers, replacing whatever the backend sent. Pure: requests in,
/// headers out.
public struct CORSPolicy: Sendable, Equatable {
    /// Origins as `scheme://host[:port]`, compared case-insensitively; `*` allows any.
    public let allowOrigins: [String]
    /// Methods; `*` allows any (the requested method is echoed).
    public let allowMethods: [String]
    /// Request headers; `*` allows any (the requested list is echoed).
    public let allowHeaders: [String]
    public let exposeHeaders: [String]
    /// Seconds browsers may cache a preflight answer.
    public let maxAge: Int?
    public let allowCredentials: Bool

    private let lowercasedOrigins: [String]

    public init(allowOrigins: [String], allowMethods: [String] = [], allowHeaders: [String] = [],
                exposeHeaders: [String] = [], maxAge: Int? = nil, allowCredentials: Bool = false) {
        self.allowOrigins = allowOrigins
        self.allowMethods = allowMethods
        self.allowHeaders = allowHeaders
        self.exposeHeaders = exposeHeaders
        self.maxAge = maxAge
        self.allowCredentials = allowCredentials
        lowercasedOrigins = allowOrigins.map { $0.lowercased() }
    }

    /// A CORS preflight (Fetch standard §3.2.2): `OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`.
    public static func isPreflight(method: String, origin: String?, requestMethod: String?) -> Bool {
        method == "OPTIONS" && origin != nil && requestMethod != nil
    }

    public func allows(origin: String) -> Bool {
        if lowercasedOrigins.contains("*") { return true }
        return lowercasedOrigins.contains(origin.lowercased())
    }

    /// Headers of the gateway's 204 answer to a preflight. An origin or method that is not
    /// allowed gets no CORS headers at all, so the browser blocks the request.
    public func preflightHeaders(origin: String, requestMethod: String, requestHeaders: String?) -> [(String, String)] {
        guard allows(origin: origin) else { return [] }
        let methodAllowed = allowMethods.contains("*") || allowMethods.contains(requestMethod.uppercased())
        guard methodAllowed else { return [] }
        var headers = originHeaders(origin)
        let methods = allowMethods.contains("*") ? requestMethod.uppercased() : allowMethods.joined(separator: ",")
        headers.append(("access-control-allow-methods", methods))
        if allowHeaders.contains("*") {
            if let requested = requestHeaders?.trimmingSpaces, !requested.isEmpty {
                headers.append(("access-control-allow-headers", requested))
            }
        } else if !allowHeaders.isEmpty {
            headers.append(("access-control-allow-headers", allowHeaders.joined(separator: ",")))
        }
        if let maxAge { headers.append(("access-control-max-age", String(maxAge))) }
        return headers
    }

    /// Headers added to an actual (non-preflight) response for a request with `Origin`.
    public func responseHeaders(origin: String?) -> [(String, String)] {
        guard let origin, allows(origin: origin) else { return [] }
        var headers = originHeaders(origin)
        if !exposeHeaders.isEmpty { headers.append(("access-control-expose-headers", exposeHeaders.joined(separator: ","))) }
        return headers
    }

    private func originHeaders(_ origin: String) -> [(String, String)] {
        // `*` cannot go with credentials (Fetch §3.2.5), so then the origin is echoed.
        if lowercasedOrigins.contains("*") && !allowCredentials {
            return [("access-control-allow-origin", "*")]
        }
        var headers = [("access-control-allow-origin", origin), ("vary", "Origin")]
        if allowCredentials { headers.append(("access-control-allow-credentials", "true")) }
        return headers
    }

    /// Backend headers the gateway drops when CORS is configured (it sets its own).
    public static func isCORSResponseHeader(_ name: String) -> Bool {
        name.utf8.count > 15 && name.lowercased().hasPrefix("access-control-")
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
