/// How the body of a request is delimited (RFC 9112 §6.3), decided from its head alone.
public enum HTTPBodyFraming: Equatable, Sendable {
    case none
    case contentLength(Int)
    case chunked

    /// Applies RFC 9112 §6.1-§6.3 strictly: anything that two parsers could read differently (the
    /// root of request smuggling) is refused rather than reconciled.
    static func of(_ head: HTTPRequestHead, maxBodyBytes: Int) -> Result<HTTPBodyFraming, HTTPParseError> {
        // Counted, not collected: most requests have neither field, and this runs for each.
        let transferEncodings = head.headers.count("Transfer-Encoding")
        let contentLengths = head.headers.count("Content-Length")
        if transferEncodings > 0 {
            if contentLengths > 0 { return .failure(.contentLengthWithTransferEncoding) }
            if head.versionMinor == 0 { return .failure(.transferEncodingInHTTP10) }
            guard transferEncodings == 1, let coding = head.headers.first("Transfer-Encoding"),
                  HTTPSyntax.equalsIgnoringASCIICase(coding.utf8, "chunked".utf8) else {
                return .failure(.unsupportedTransferEncoding)
            }
            return .success(.chunked)
        }
        guard contentLengths > 0, let contentLength = head.headers.first("Content-Length") else { return .success(.none) }
        // "Content-Length: 5, 5" and repeated fields are refused, not merged (§6.3 item 5).
        if contentLengths > 1 { return .failure(.multipleContentLength) }
        let utf8 = contentLength.utf8
        guard !utf8.isEmpty else { return .failure(.invalidContentLength) }
        guard utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return .failure(utf8.contains(HTTPSyntax.comma) ? .multipleContentLength : .invalidContentLength)
        }
        var length = 0
        for digit in utf8 {
            // Any length past the limit is refused as such, so overflow never needs representing.
            length = length * 10 + Int(digit - UInt8(ascii: "0"))
            if length > maxBodyBytes { return .failure(.bodyTooLarge) }
        }
        return .success(length == 0 ? .none : .contentLength(length))
    }
}
