import PetrelCodecs

/// How an upstream request's body is framed on the wire.
enum UpstreamBodyFraming: Equatable {
    case none
    case length(Int)
    case chunked

    /// The framing libcurl chose for the same request, so both clients send the same thing:
    /// a streamed body with its length (else chunked); a buffered body whenever one is given,
    /// and always for POST, PUT and PATCH (`Content-Length: 0` when empty); nothing otherwise.
    static func of(method: String, bufferedBody: Int, streamed: Bool, streamedLength: Int?) -> UpstreamBodyFraming {
        if streamed { return streamedLength.map { .length($0) } ?? .chunked }
        if bufferedBody > 0 || method == "POST" || method == "PUT" || method == "PATCH" { return .length(bufferedBody) }
        return .none
    }
}

/// The bytes of an HTTP/1.1 request head for a backend (RFC 9112 §3): the request line, `Host`
/// unless the caller gave one, the caller's fields in order (its own framing fields are dropped:
/// the pool frames the body), then the framing field.
enum UpstreamRequestHead {
    static func serialize(method: String, target: UpstreamTarget, headers: [(String, String)],
                          framing: UpstreamBodyFraming, into out: inout [UInt8]) {
        out.append(contentsOf: method.utf8)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: target.requestTarget.utf8)
        out.append(contentsOf: " HTTP/1.1\r\n".utf8)
        var hasHost = false
        for (name, _) in headers where name.utf8.count == 4 && HeaderName.is(name, "host") { hasHost = true }
        if !hasHost {
            out.append(contentsOf: "Host: ".utf8)
            out.append(contentsOf: target.hostField.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        for (name, value) in headers {
            let count = name.utf8.count
            if count == 14 && HeaderName.is(name, "content-length") { continue }
            if count == 17 && HeaderName.is(name, "transfer-encoding") { continue }
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: ": ".utf8)
            out.append(contentsOf: value.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        switch framing {
        case .none: break
        case .length(let count):
            out.append(contentsOf: "Content-Length: ".utf8)
            out.append(contentsOf: String(count).utf8)
            out.append(contentsOf: "\r\n".utf8)
        case .chunked:
            out.append(contentsOf: "Transfer-Encoding: chunked\r\n".utf8)
        }
        out.append(contentsOf: "\r\n".utf8)
    }
}
