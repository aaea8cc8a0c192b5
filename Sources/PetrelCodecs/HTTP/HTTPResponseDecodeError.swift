/// Why a backend's response could not be decoded. Every case leaves the connection unusable: the
/// gateway answers its client 502 and closes the backend connection.
public enum HTTPResponseDecodeError: Error, Equatable, Sendable {
    // Status line (RFC 9112 §4).
    case badStatusLine
    /// Well-formed, but neither HTTP/1.1 nor HTTP/1.0.
    case unsupportedVersion
    /// 101: the gateway never asks a backend to switch protocols, so one that does is not speaking
    /// the protocol the connection is framed by.
    case unexpectedUpgrade

    // Header and trailer sections (RFC 9112 §2.2, §5).
    /// A field line without a colon, with an empty or non-token name, a control byte in its value,
    /// or a CR not followed by LF.
    case badHeader
    /// §5.2: a line starting with whitespace; a client may unfold it, but two readers may not agree.
    case obsoleteLineFolding
    /// §5.1: "No whitespace is allowed between the field name and colon".
    case whitespaceBeforeColon
    /// Status line and fields, 1xx heads included, over `maxHeadBytes`.
    case headTooLarge
    /// Trailer section over `maxHeadBytes`.
    case trailersTooLarge

    // Body framing (RFC 9112 §6).
    /// §6.1: a message with both is a smuggling vector; the length cannot be trusted.
    case contentLengthWithTransferEncoding
    /// A transfer coding list not ending in one `chunked`: its end could only be found by closing.
    case unsupportedTransferEncoding
    /// §6.1: Transfer-Encoding was added in 1.1; a 1.0 message carrying it is faulty.
    case transferEncodingInHTTP10
    /// Not digits, over 2^62, empty, or a list of different values (§8.6 of RFC 9110).
    case invalidContentLength
    /// §7.1: a chunk-size line that is malformed or over 4 KiB, or chunk data not followed by CRLF.
    case badChunk

    // End of the connection.
    /// The connection closed inside a head or a delimited body.
    case truncated
    /// The connection closed before any byte of the response: a kept-alive connection the backend
    /// had already given up on, on which the request may be sent again.
    case closedBeforeResponse

    public var reason: String {
        switch self {
        case .badStatusLine: return "Malformed status line"
        case .unsupportedVersion: return "HTTP version not supported"
        case .unexpectedUpgrade: return "Unrequested 101 Switching Protocols"
        case .badHeader: return "Malformed header field"
        case .obsoleteLineFolding: return "Obsolete line folding"
        case .whitespaceBeforeColon: return "Whitespace between field name and colon"
        case .headTooLarge: return "Response head too large"
        case .trailersTooLarge: return "Trailer fields too large"
        case .contentLengthWithTransferEncoding: return "Both Content-Length and Transfer-Encoding"
        case .unsupportedTransferEncoding: return "Unsupported Transfer-Encoding"
        case .transferEncodingInHTTP10: return "Transfer-Encoding in an HTTP/1.0 response"
        case .invalidContentLength: return "Invalid Content-Length"
        case .badChunk: return "Malformed chunked body"
        case .truncated: return "Connection closed before the end of the response"
        case .closedBeforeResponse: return "Connection closed before any response"
        }
    }
}
