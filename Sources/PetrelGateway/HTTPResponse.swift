/// Serialises the gateway's own HTTP/1.1 responses. Not on the message hot path.
struct HTTPResponse: Sendable {
    var status: Int
    var headers: [(String, String)] = []
    var body: [UInt8] = []

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
        let framed = status != 101 && status != 204 && status >= 200
        var out = headBytes(keepAlive: keepAlive, framing: framed ? "Content-Length: \(body.count)" : nil,
                            reserving: includeBody ? body.count : 0)
        if includeBody { out += body }
        return out
    }

    /// Status line and headers; `framing` is the body's framing header line, if any (a streamed
    /// body is framed by whoever streams it).
    func serializedHead(keepAlive: Bool, framing: String?) -> String {
        String(decoding: headBytes(keepAlive: keepAlive, framing: framing), as: UTF8.self)
    }

    /// `serializedHead` as bytes, with room for `extra` more (the body): built without String
    /// interpolation, since it runs once per HTTP response.
    func headBytes(keepAlive: Bool, framing: String?, reserving extra: Int = 0) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + headers.count * 48 + extra)
        out += "HTTP/1.1 ".utf8
        out += String(status).utf8
        out.append(0x20)
        out += HTTPResponse.reasonPhrase(status).utf8
        out += "\r\n".utf8
        for (name, value) in headers {
            out += name.utf8
            out += ": ".utf8
            out += value.utf8
            out += "\r\n".utf8
        }
        if let framing {
            out += framing.utf8
            out += "\r\n".utf8
        }
        if !keepAlive { out += "Connection: close\r\n".utf8 }
        out += "\r\n".utf8
        return out
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
