/// API Gateway REST's request validators on a route: required query parameters and headers,
/// and a JSON Schema (subset, `JSONSchema`) for JSON bodies. Answers are API Gateway's:
/// 400 `{"message":"Missing required request parameters: [a, b]"}` and
/// 400 `{"message":"Invalid request body"}`.
public struct HTTPRequestValidator: Sendable {
    public let requiredQuery: [String]
    public let requiredHeaders: [String]
    public let bodySchema: JSONSchema?

    public enum Outcome: Sendable, Equatable {
        case valid
        /// Names in the order configured: query parameters, then headers.
        case missingParameters([String])
        /// The body is not JSON or breaks the schema; the detail is for logs only.
        case invalidBody(detail: String)

        /// The client's message, or nil when valid.
        public var message: String? {
            switch self {
            case .valid: return nil
            case .missingParameters(let names): return "Missing required request parameters: [\(names.joined(separator: ", "))]"
            case .invalidBody: return "Invalid request body"
            }
        }
    }

    public init(requiredQuery: [String] = [], requiredHeaders: [String] = [], bodySchema: JSONSchema? = nil) {
        self.requiredQuery = requiredQuery
        self.requiredHeaders = requiredHeaders
        self.bodySchema = bodySchema
    }

    public var isEmpty: Bool { requiredQuery.isEmpty && requiredHeaders.isEmpty && bodySchema == nil }

    /// `query`: decoded pairs; `hasHeader`: case-insensitive presence of a non-empty header.
    public func validate(query: [(String, String)], hasHeader: (String) -> Bool, body: [UInt8]) -> Outcome {
        var missing: [String] = []
        for name in requiredQuery where !query.contains(where: { $0.0 == name && !$0.1.isEmpty }) {
            missing.append(name)
        }
        for name in requiredHeaders where !hasHeader(name) {
            missing.append(name)
        }
        if !missing.isEmpty { return .missingParameters(missing) }
        guard let bodySchema else { return .valid }
        guard let document = JSONValue.parse(body) else { return .invalidBody(detail: "body is not JSON") }
        if let problem = bodySchema.firstViolation(document) { return .invalidBody(detail: problem) }
        return .valid
    }
}
