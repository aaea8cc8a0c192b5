/// Why a request was refused, as the status the gateway answers before closing the connection.
public struct HTTPParseError: Error, Sendable, Equatable {
    public var status: Int
    public var reason: String

    public init(status: Int, reason: String) {
        self.status = status
        self.reason = reason
    }
}

/// Every way a request can be refused: one table, so logs, docs and tests name the same things.
extension HTTPParseError {
    // Request line (RFC 9112 §3).
    public static let malformedRequestLine = Self(status: 400, reason: "Malformed request line")
    public static let invalidMethod = Self(status: 400, reason: "Invalid method")
    public static let invalidTarget = Self(status: 400, reason: "Invalid request target")
    public static let unsupportedVersion = Self(status: 505, reason: "HTTP version not supported")
    /// A request line alone over `maxHeaderBytes`: 414, as it is almost always a huge target.
    public static let requestLineTooLong = Self(status: 414, reason: "Request line too long")

    // Header section (RFC 9112 §2.2, §5).
    /// §2.2: a bare LF may be accepted by a recipient, but lenient line parsing invites smuggling.
    public static let bareLineFeed = Self(status: 400, reason: "Line not terminated by CRLF")
    /// §5.2: obs-fold is rejected with 400 outside message/http.
    public static let obsoleteLineFolding = Self(status: 400, reason: "Obsolete line folding")
    /// §5.1: "No whitespace is allowed between the field name and colon" — 400.
    public static let whitespaceBeforeColon = Self(status: 400, reason: "Whitespace between field name and colon")
    public static let missingColon = Self(status: 400, reason: "Header line without a colon")
    public static let invalidHeaderName = Self(status: 400, reason: "Invalid header name")
    public static let invalidHeaderValue = Self(status: 400, reason: "Invalid header value")
    /// Request line and headers over `maxHeaderBytes` (8 KiB by default, DESIGN §4).
    public static let headerTooLarge = Self(status: 431, reason: "Request header fields too large")
    /// RFC 9112 §3.2: a 1.1 request without Host, or with more than one, is answered 400.
    public static let missingHost = Self(status: 400, reason: "Missing Host header")
    public static let multipleHost = Self(status: 400, reason: "Multiple Host headers")

    // Body framing (RFC 9112 §6).
    public static let invalidContentLength = Self(status: 400, reason: "Invalid Content-Length")
    public static let multipleContentLength = Self(status: 400, reason: "Multiple Content-Length values")
    /// §6.1: both present is a smuggling attempt, not something to reconcile.
    public static let contentLengthWithTransferEncoding = Self(status: 400, reason: "Both Content-Length and Transfer-Encoding")
    /// §6.1: "A server that receives a request message with a transfer coding it does not understand
    /// SHOULD respond with 501". Only exactly `chunked` is understood.
    public static let unsupportedTransferEncoding = Self(status: 501, reason: "Unsupported Transfer-Encoding")
    /// §6.1: Transfer-Encoding was added in 1.1; a 1.0 message carrying it is treated as faulty.
    public static let transferEncodingInHTTP10 = Self(status: 400, reason: "Transfer-Encoding in an HTTP/1.0 request")
    /// `maxBodyBytes`, from Content-Length before the body is read or while chunks arrive.
    public static let bodyTooLarge = Self(status: 413, reason: "Request body too large")

    // Chunked coding (RFC 9112 §7.1).
    public static let invalidChunkSize = Self(status: 400, reason: "Invalid chunk size")
    /// A chunk-size line (size and extensions) longer than `HTTPRequestParser.maxChunkSizeLineBytes`.
    public static let chunkSizeLineTooLong = Self(status: 400, reason: "Chunk size line too long")
    public static let missingChunkTerminator = Self(status: 400, reason: "Chunk data not followed by CRLF")
    /// Trailer section over `maxHeaderBytes`.
    public static let trailersTooLarge = Self(status: 431, reason: "Trailer fields too large")
}
