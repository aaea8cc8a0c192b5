import PetrelCodecs
import PetrelCore
import PetrelCrypto

/// An authorizer's verdict on a `$connect` (DESIGN §8): allowed with a context that reaches every
/// event as `requestContext.authorizer`, or denied with 401/403 (500 when it failed).
enum AuthorizerDecision: Sendable {
    case allow(contextJSON: String)
    case deny(status: Int)
}

/// An authorizer on `$connect`: `jwt` answers at once, `http` asks a backend.
enum ConnectAuthorizer: Sendable {
    case jwt(JWTAuthorizer)
    case http(HTTPAuthorizer)

    var identitySource: IdentitySource {
        switch self {
        case .jwt(let a): return a.identitySource
        case .http(let a): return a.identitySource
        }
    }
}

/// `type: jwt`: RS256/ES256/HS256 tokens checked against issuer, audiences, expiry and keys.
struct JWTAuthorizer: Sendable {
    let verifier: JWTVerifier
    let identitySource: IdentitySource

    func decide(_ identity: [String], nowEpochSeconds: Int64) -> AuthorizerDecision {
        var token = Substring(identity[0])
        if token.lowercased().hasPrefix("bearer ") { token = token.dropFirst(7) }
        switch verifier.verify(String(token).trimmedSpaces, nowEpochSeconds: nowEpochSeconds) {
        case .success(let claims):
            var context = "{\"principalId\":\(JSONText.quoted(claims.subject ?? "")),\"jwt\":{\"claims\":"
            context += JSONLiteWriter.text(.object(claims.raw))
            context += ",\"scopes\":[\(claims.scopes.map(JSONText.quoted).joined(separator: ","))]}}"
            return .allow(contextJSON: context)
        case .failure:
            return .deny(status: 403)
        }
    }
}

/// Writes a `JSONValueLite` back as compact JSON (claims passed on to integrations).
enum JSONLiteWriter {
    static func text(_ value: JSONValueLite) -> String {
        switch value {
        case .object(let members):
            return "{" + members.sorted { $0.key < $1.key }
                .map { "\(JSONText.quoted($0.key)):\(text($0.value))" }.joined(separator: ",") + "}"
        case .array(let items):
            return "[" + items.map(text).joined(separator: ",") + "]"
        case .string(let s): return JSONText.quoted(s)
        case .number(let lexeme): return lexeme
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }
}
