import PetrelCore

/// A `mock` answer whose body has no placeholder: the same bytes for every request but the
/// `apigw-requestid` value (and `Connection: close` when the connection ends). Its head is
/// serialized once, at config load, so a request writes two stored pieces around its id.
final class PrebuiltAnswer: Sendable {
    let status: Int
    let headers: [(String, String)]
    let body: [UInt8]
    /// The status line and headers, through `apigw-requestid: `.
    let untilRequestId: [UInt8]
    /// The end of the request id's line, then `Content-Length`.
    let afterRequestId: [UInt8]

    init(status: Int, headers: [(String, String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
        let response = HTTPResponse(status: status, headers: headers, body: body)
        var until: [UInt8] = []
        response.appendStatusAndHeaders(&until)
        HTTPResponse.append(HTTPResponse.requestIdPrefix, to: &until)
        var after = Array("\r\n".utf8)
        response.appendLength(&after)
        untilRequestId = until
        afterRequestId = after
    }

    /// The same answer for the general path (CORS headers to add, an answer given later).
    var response: HTTPResponse { HTTPResponse(status: status, headers: headers, body: body) }

    /// The head as `HTTPResponse.appendHead` writes it for `response` with `requestId`.
    func appendHead(to out: inout [UInt8], requestId: RequestID, keepAlive: Bool) {
        out.append(contentsOf: untilRequestId)
        requestId.appendText(to: &out)
        out.append(contentsOf: afterRequestId)
        HTTPResponse.endHead(keepAlive: keepAlive, &out)
    }
}
