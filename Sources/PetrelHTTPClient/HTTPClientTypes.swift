/// Settings shared by every request of one `HTTPClient`.
public struct HTTPClientOptions: Sendable {
    /// PEM bundle to verify HTTPS backends against; nil means the system store. Peer and host
    /// verification are always on: there is deliberately no switch to turn them off.
    public var caFile: String?
    /// PEM client certificate and key for mTLS to backends (API Gateway's client certificates).
    public var clientCertificateFile: String?
    public var clientKeyFile: String?
    /// Bound on TCP connect plus TLS handshake. Default 5 s.
    public var connectTimeoutMs: Int64
    /// A response body larger than this fails with `.responseTooLarge`. Default 10 MiB, API
    /// Gateway's payload limit, so one slow backend cannot balloon a loop's memory.
    public var maxResponseBytes: Int
    /// Concurrent connections to one host:port; further requests wait in curl's queue (their
    /// total timeout keeps running). Default 64.
    public var maxConnectionsPerHost: Int
    /// Streamed requests to `http://` URLs go through the client's own
    /// connection pool (Upstream/UpstreamPool.swift); false sends them through libcurl like the
    /// rest, for side-by-side measurements.
    public var pooledPlainHTTP: Bool

    public init(
        caFile: String? = nil,
        clientCertificateFile: String? = nil,
        clientKeyFile: String? = nil,
        connectTimeoutMs: Int64 = 5_000,
        maxResponseBytes: Int = 10 * 1024 * 1024,
        maxConnectionsPerHost: Int = 64,
        pooledPlainHTTP: Bool = true
    ) {
        self.caFile = caFile
        self.clientCertificateFile = clientCertificateFile
        self.clientKeyFile = clientKeyFile
        self.connectTimeoutMs = connectTimeoutMs
        self.maxResponseBytes = maxResponseBytes
        self.maxConnectionsPerHost = maxConnectionsPerHost
        self.pooledPlainHTTP = pooledPlainHTTP
    }
}

/// One outbound HTTP/1.1 request. Redirects are never followed; only http and https URLs.
public struct HTTPClientRequest: Sendable {
    public var method: String
    public var url: String
    /// Sent as given, in order. A header with an empty value is sent empty. Names or values with
    /// CR, LF or NUL are refused (`.other`) rather than letting them split the request.
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// Total time for the request, queueing and connecting included. For `HTTPClient.stream`,
    /// the time until the response head; after it, a body that stalls (under 1 byte/s for this
    /// long while not paused) fails with `.timeout`.
    public var timeoutMs: Int64

    public init(method: String = "GET", url: String, headers: [(String, String)] = [], body: [UInt8] = [], timeoutMs: Int64 = 29_000) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeoutMs = timeoutMs
    }
}

public struct HTTPClientResponse: Sendable {
    public var status: Int
    /// Headers of the final response only (interim 1xx responses are dropped), in wire order,
    /// names as the server spelled them.
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// First value of a header, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.0.lowercased() == wanted }?.1
    }
}

public enum HTTPClientError: Error, Sendable, Equatable {
    /// The request's `timeoutMs` (or the connect timeout) ran out.
    case timeout
    /// Name resolution or TCP connect failed.
    case connectFailed(String)
    /// The body passed `HTTPClientOptions.maxResponseBytes`.
    case responseTooLarge
    /// TLS handshake, certificate verification or client-certificate problem.
    case tls(String)
    /// Anything else; cancellation is `.other("cancelled")`.
    case other(String)

    public static let cancelled = HTTPClientError.other("cancelled")
}

/// Names one request of one client, for `cancel`.
public struct HTTPRequestID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "http-\(rawValue)" }
}
