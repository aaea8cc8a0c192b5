/// The request line and header fields of one HTTP/1.x request (RFC 9112 §3, §5).
///
/// A class: a request's head is handed along a dozen steps (observation, routing, authorizers,
/// the integration call); passing one reference costs one retain, where the struct's copies
/// cost one per String.
public final class HTTPRequestHead: Sendable {
    public let method: String
    /// The raw request-target, as sent.
    public let target: String
    /// The target before '?', not percent-decoded.
    public let path: String
    /// The target after '?', raw; nil when there is no '?'.
    public let query: String?
    /// HTTP/1.0 → 0, HTTP/1.1 → 1.
    public let versionMinor: Int
    public let headers: HTTPHeaders
    /// Whether the connection stays open after the response (RFC 9112 §9.3): HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    public let keepAlive: Bool

    public init(
        method: String, target: String, versionMinor: Int, headers: HTTPHeaders
    ) {
        self.method = method
        self.target = target
        if let questionMark = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = String(target[..<questionMark])
            query = String(target[target.utf8.index(after: questionMark)...])
        } else {
            path = target
            query = nil
        }
        self.versionMinor = versionMinor
        self.headers = headers
        keepAlive = versionMinor >= 1
            ? !headers.containsToken("Connection", "close")
            : headers.containsToken("Connection", "keep-alive")
    }
}
