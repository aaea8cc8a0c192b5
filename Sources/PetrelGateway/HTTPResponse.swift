import PetrelCore

/// Serialises the gateway's own HTTP/1.1 responses: once per HTTP API answer, so from bytes.
struct HTTPResponse: Sendable {
    var status: Int
    var headers: [(String, String)] = []
    var body: [UInt8] = []
    /// API Gateway's `apigw-requestid`, written after `headers` (kept as an id, not a String:
    /// every HTTP API answer carries one).
    var requestId: RequestID?

    init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// API Gateway's error shape: `{"message":"..."}` with a JSON content type.
    static func message(_ status: Int, _ message: String, headers: [(String, String)] = []) -> HTTPResponse {
        var body = "{\"message\":"
        JSONText.appendString(message, to: &body)
        body += "}"
        return HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(body.utf8))
    }

    static func json(_ status: Int, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: Array(text.utf8))
    }

    func serialized(keepAlive: Bool, includeBody: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + headers.count * 48 + (includeBody ? body.count : 0))
        appendHead(to: &out, keepAlive: keepAlive)
        if includeBody { out += body }
        return out
    }

    /// Status line and headers, framed by `Content-Length` unless the status has no body.
    func appendHead(to out: inout [UInt8], keepAlive: Bool) {
        startHead(&out)
        appendLength(&out)
        Self.endHead(keepAlive: keepAlive, &out)
    }

    /// The `Content-Length` line, unless the status has no body.
    func appendLength(_ out: inout [UInt8]) {
        guard status != 101 && status != 204 && status >= 200 else { return }
        Self.append("Content-Length: ", to: &out)
        Self.appendDecimal(body.count, to: &out)
        Self.append("\r\n", to: &out)
    }

    /// Status line and headers; `framing` is the body's framing header line, if any (a streamed
    /// body is framed by whoever streams it).
    func serializedHead(keepAlive: Bool, framing: String?) -> String {
        String(decoding: headBytes(keepAlive: keepAlive, framing: framing), as: UTF8.self)
    }

    /// `serializedHead` as bytes, with room for `extra` more (the body).
    func headBytes(keepAlive: Bool, framing: String?, reserving extra: Int = 0) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + headers.count * 48 + extra)
        startHead(&out)
        if let framing {
            Self.append(framing, to: &out)
            Self.append("\r\n", to: &out)
        }
        Self.endHead(keepAlive: keepAlive, &out)
        return out
    }

    /// Built from bytes, not String interpolation: it runs once per HTTP response.
    private func startHead(_ out: inout [UInt8]) {
        appendStatusAndHeaders(&out)
        if let requestId {
            Self.append(Self.requestIdPrefix, to: &out)
            requestId.appendText(to: &out)
            Self.append("\r\n", to: &out)
        }
    }

    static var requestIdPrefix: StaticString { "apigw-requestid: " }

    /// The status line and `headers`.
    func appendStatusAndHeaders(_ out: inout [UInt8]) {
        Self.append("HTTP/1.1 ", to: &out)
        Self.appendDecimal(status, to: &out)
        out.append(0x20)
        Self.append(HTTPResponse.reasonPhrase(status), to: &out)
        Self.append("\r\n", to: &out)
        for (name, value) in headers {
            Self.append(name, to: &out)
            Self.append(": ", to: &out)
            Self.append(value, to: &out)
            Self.append("\r\n", to: &out)
        }
    }

    static func endHead(keepAlive: Bool, _ out: inout [UInt8]) {
        if !keepAlive { Self.append("Connection: close\r\n", to: &out) }
        Self.append("\r\n", to: &out)
    }

    /// A String's bytes through its contiguous storage: appending `.utf8` as a sequence retains
    /// and walks it byte by byte.
    @inline(__always)
    private static func append(_ text: String, to out: inout [UInt8]) {
        if text.utf8.withContiguousStorageIfAvailable({ out.append(contentsOf: $0) }) == nil {
            out.append(contentsOf: text.utf8)
        }
    }

    @inline(__always)
    static func append(_ text: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// A status or a length (never negative), most significant digit first.
    private static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        var rest = max(value, 0)
        var divisor = 1
        while divisor <= rest / 10 { divisor *= 10 }
        repeat {
            out.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        } while divisor > 0
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 101: return "Switching Protocols"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 410: return "Gone"
        case 413: return "Payload Too Large"
        case 414: return "URI Too Long"
        case 426: return "Upgrade Required"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Status \(status)"
        }
    }
}
