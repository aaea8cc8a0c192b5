import PetrelCodecs
import PetrelConfig
import PetrelCore
import PetrelCrypto

/// An authorizer on an HTTP route (DESIGN §8; facts §3.3): `jwt` and `sigv4` decide at once,
/// `http` asks a backend (API Gateway's Lambda REQUEST authorizer, payload format 2.0) and its
/// decisions are cached per identity on each loop for `cache_ttl`.
enum RouteAuthorizer: Sendable {
    case jwt(verifier: JWTVerifier, identity: IdentitySource)
    case http(name: String, url: String, timeoutMs: Int64, cacheTTLMs: Int64?, identity: IdentitySource)
    case sigv4(SigV4Verifier)

    init(name: String, _ config: AuthorizerConfig) throws(GatewaySettings.BuildError) {
        switch config.type {
        case .jwt:
            do {
                let verifier = try JWTVerifier.load(jwksFile: config.jwksFile, hs256Secret: config.secret,
                                                    issuer: config.issuer, audiences: config.audiences)
                self = .jwt(verifier: verifier, identity: try IdentitySource(config.identitySource))
            } catch let error as GatewaySettings.BuildError {
                throw error
            } catch {
                throw GatewaySettings.BuildError(description: "authorizers.\(name): \(error)")
            }
        case .http:
            self = .http(name: name, url: config.url ?? "", timeoutMs: config.timeout ?? 10_000,
                         cacheTTLMs: config.cacheTTL, identity: try IdentitySource(config.identitySource))
        case .sigv4:
            self = .sigv4(SigV4Verifier(credentials: config.keys.map {
                SigV4Credentials(accessKeyId: $0.accessKeyId, secretAccessKey: $0.secretAccessKey)
            }))
        }
    }

    /// An answer for the client when authorization fails: API Gateway's statuses, bodies and,
    /// for JWT, its `www-authenticate` challenge.
    struct Denial: Sendable {
        let status: Int
        let message: String
        let headers: [(String, String)]

        static let unauthorized = Denial(status: 401, message: "Unauthorized", headers: [])
        static let forbidden = Denial(status: 403, message: "Forbidden", headers: [])
        static let failed = Denial(status: 500, message: "Internal Server Error", headers: [])
    }

    enum Outcome {
        /// `requestContext.authorizer` as JSON object text.
        case allow(contextJSON: String)
        case deny(Denial)
    }

    // MARK: jwt

    static func decideJWT(verifier: JWTVerifier, identity: IdentitySource, head: HTTPRequestHead, scopes required: [String],
                          nowEpochSeconds: Int64) -> Outcome {
        guard let values = identity.values(head) else {
            return .deny(Denial(status: 401, message: "Unauthorized", headers: [("www-authenticate", "Bearer")]))
        }
        var token = Substring(values[0])
        if token.count > 7, token.prefix(7).lowercased() == "bearer " { token = token.dropFirst(7) }
        switch verifier.verify(token.trimmingCharacters(), nowEpochSeconds: nowEpochSeconds) {
        case .failure(let failure):
            let challenge = "Bearer scope=\"\" error=\"invalid_token\" error_description=\"\(describe(failure))\""
            return .deny(Denial(status: 401, message: "Unauthorized", headers: [("www-authenticate", challenge)]))
        case .success(let claims):
            if !required.isEmpty, !claims.scopes.contains(where: required.contains) {
                let challenge = "Bearer scope=\"\(required.joined(separator: " "))\" error=\"insufficient_scope\" "
                    + "error_description=\"the token does not have the required scopes\""
                return .deny(Denial(status: 403, message: "Forbidden", headers: [("www-authenticate", challenge)]))
            }
            // API Gateway passes claims as strings (numbers by their text, lists as `[a b]`).
            var context = "{\"jwt\":{\"claims\":{"
            var first = true
            for (name, value) in claims.raw.sorted(by: { $0.key < $1.key }) {
                if !first { context += "," }
                first = false
                JSONText.appendString(name, to: &context)
                context += ":"
                JSONText.appendString(claimText(value), to: &context)
            }
            context += "},\"scopes\":"
            context += claims.scopes.isEmpty ? "null" : "[" + claims.scopes.map(JSONText.quoted).joined(separator: ",") + "]"
            context += "}}"
            return .allow(contextJSON: context)
        }
    }

    private static func claimText(_ value: JSONValueLite) -> String {
        switch value {
        case .string(let s): return s
        case .number(let lexeme): return lexeme
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let items): return "[" + items.map(claimText).joined(separator: " ") + "]"
        case .object: return JSONLiteWriter.text(value)
        }
    }

    private static func describe(_ failure: JWTFailure) -> String {
        switch failure {
        case .malformed: return "the token is malformed"
        case .unsupportedAlgorithm: return "the token's algorithm is not accepted"
        case .unknownKey: return "the token's key is not known"
        case .badSignature: return "signature verification failed"
        case .expired: return "the token has expired"
        case .notYetValid: return "the token is not valid yet"
        case .wrongIssuer: return "the token's issuer is not accepted"
        case .wrongAudience: return "the token's audience is not accepted"
        }
    }

    // MARK: sigv4

    static func decideSigV4(_ verifier: SigV4Verifier, head: HTTPRequestHead, body: [UInt8], accessKeys: Set<String>?,
                            nowEpochSeconds: Int64) -> Outcome {
        // The signature covers the path as the client sent it, stage included.
        switch verifier.verify(method: head.method, rawPath: head.path, rawQuery: head.query, headers: head.headers.entries,
                               body: body, nowEpochSeconds: nowEpochSeconds) {
        case .failure(let failure):
            Log.info("sigv4 authorization refused", ["reason": .string("\(failure)")])
            return .deny(.forbidden)
        case .success(let accessKey):
            if let accessKeys, !accessKeys.contains(accessKey) { return .deny(.forbidden) }
            return .allow(contextJSON: "{\"iam\":{\"accessKey\":\(JSONText.quoted(accessKey)),\"userId\":\(JSONText.quoted(accessKey))}}")
        }
    }

    // MARK: http (Lambda REQUEST authorizer, payload format 2.0)

    /// Reads the authorizer's answer: the simple form `{"isAuthorized":bool,"context":{}}` or
    /// the policy form `{"principalId":..,"policyDocument":{..},"context":{}}`. The context
    /// reaches integrations as `requestContext.authorizer.lambda`.
    static func httpDecision(status: Int, body: [UInt8]) -> AuthorizerDecision {
        if status == 401 || status == 403 { return .deny(status: status) }
        guard (200..<300).contains(status), let answer = JSONValue.parse(body), case .object = answer else {
            return .deny(status: 500)
        }
        let allowed: Bool
        if case .bool(let simple)? = answer["isAuthorized"] {
            allowed = simple
        } else if case .array(let statements)? = answer["policyDocument"]?["Statement"] {
            let effects = statements.compactMap { $0["Effect"]?.stringValue }
            allowed = effects.contains("Allow") && !effects.contains("Deny")
        } else {
            return .deny(status: 500)
        }
        guard allowed else { return .deny(status: 403) }
        var context = "{"
        if let principal = answer["principalId"]?.stringValue {
            context += "\"principalId\":\(JSONText.quoted(principal)),"
        }
        context += "\"lambda\":"
        if let lambda = answer["context"], case .object = lambda { context += lambda.text } else { context += "{}" }
        context += "}"
        return .allow(contextJSON: context)
    }
}
