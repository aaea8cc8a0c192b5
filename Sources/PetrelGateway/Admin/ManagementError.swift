/// `@connections` errors as API Gateway sends them: the status, `x-amzn-ErrorType` (boto3 maps
/// errors to its exception classes only with that header) and `{"message": ...}`.
enum ManagementError {
    static func response(_ status: Int, _ type: String, _ message: String) -> HTTPResponse {
        .message(status, message, headers: [("x-amzn-ErrorType", type)])
    }

    static let forbidden = response(403, "ForbiddenException", "Forbidden")
    static let gone = response(410, "GoneException", "Gone")
    static let payloadTooLarge = response(413, "PayloadTooLargeException", "Payload Too Large")
    static let limitExceeded = response(429, "LimitExceededException", "Limit Exceeded")
    static let notFound = response(404, "NotFoundException", "Not Found")
    static let methodNotAllowed = response(405, "MethodNotAllowedException", "Method Not Allowed")
    static let serviceUnavailable = response(503, "ServiceUnavailableException", "Service Unavailable")
    static let gatewayTimeout = response(504, "GatewayTimeoutException", "Gateway Timeout")
    static func badRequest(_ message: String) -> HTTPResponse { response(400, "BadRequestException", message) }
}
