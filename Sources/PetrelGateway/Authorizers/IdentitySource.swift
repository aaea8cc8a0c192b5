import PetrelCodecs
import PetrelCore

/// API Gateway's identity sources: `$request.header.NAME` and `$request.querystring.NAME`.
/// Every listed source must be present, else the request is unauthorized (401).
struct IdentitySource: Sendable {
    enum Part: Sendable {
        case header(String)
        case query(String)
    }
    let parts: [Part]

    init(_ expressions: [String]) throws(GatewaySettings.BuildError) {
        var parts: [Part] = []
        for expression in expressions {
            if expression.hasPrefix("$request.header.") {
                parts.append(.header(String(expression.dropFirst("$request.header.".count))))
            } else if expression.hasPrefix("$request.querystring.") {
                parts.append(.query(String(expression.dropFirst("$request.querystring.".count))))
            } else {
                throw GatewaySettings.BuildError(description: "identity_source: \(expression) is not $request.header.NAME or $request.querystring.NAME")
            }
        }
        self.parts = parts
    }

    /// The values in order, or nil when one is missing or empty.
    func values(_ head: HTTPRequestHead) -> [String]? {
        let query = PercentDecoding.queryPairs(head.query)
        var values: [String] = []
        for part in parts {
            let value: String?
            switch part {
            case .header(let name): value = head.headers.first(name)
            case .query(let name): value = query.last { $0.0 == name }?.1
            }
            guard let value, !value.isEmpty else { return nil }
            values.append(value)
        }
        return values
    }
}
