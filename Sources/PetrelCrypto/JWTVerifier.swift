import COpenSSL

/// The payload of a verified JWT.
public struct JWTClaims: Sendable, Equatable {
    /// Every claim as sent (numbers keep their lexeme), for `requestContext.authorizer.jwt.claims`.
    public let raw: [String: JSONValueLite]
    /// `sub` when it is a string.
    public var subject: String?
    /// Union of `scope` (space-separated string, RFC 8693 §4.2) and `scp` (array of strings, or
    /// a space-separated string as some issuers send it), in order, without duplicates.
    public var scopes: [String]

    init(raw: [String: JSONValueLite]) {
        self.raw = raw
        self.subject = raw["sub"]?.stringValue
        var scopes: [String] = []
        var seen = Set<String>()
        func add(_ scope: Substring) {
            let s = String(scope)
            if seen.insert(s).inserted { scopes.append(s) }
        }
        func addList(_ value: JSONValueLite?) {
            switch value {
            case .string(let s)?:
                for part in s.split(separator: " ", omittingEmptySubsequences: true) { add(part) }
            case .array(let items)?:
                for case .string(let s) in items where !s.isEmpty { add(s[...]) }
            default:
                break
            }
        }
        addList(raw["scope"])
        addList(raw["scp"])
        self.scopes = scopes
    }

    public subscript(claim: String) -> JSONValueLite? { raw[claim] }
}

/// Why a token was refused. Every case is a 401 for the client (API Gateway's JWT authorizer
/// answers `401 {"message":"Unauthorized"}`); the case is for logs and `www-authenticate`.
public enum JWTFailure: Error, Sendable, Equatable {
    /// Not three base64url segments, header or payload not a JSON object, a required claim
    /// missing or of the wrong type, an unsupported `crit` header, or too long.
    case malformed
    /// `alg` is `none`, not RS256/ES256/HS256, or does not match the selected key's type.
    case unsupportedAlgorithm
    /// `kid` names no configured key, or no `kid` and several keys could verify the token.
    case unknownKey
    case badSignature
    case expired
    /// `nbf` or `iat` is in the future (beyond the leeway).
    case notYetValid
    case wrongIssuer
    case wrongAudience
}

/// Verifies compact JWS tokens (RFC 7515, 7519) signed with RS256, ES256 or HS256.
///
/// Pure: no I/O, no clock (the caller passes `now`), immutable after `init`, safe to share
/// across loops. The algorithm is fixed by the key, never by the token: RSA keys verify only
/// RS256, P-256 keys only ES256, `oct` keys and the configured secret only HS256 (RFC 8725 §3.1),
/// so a token cannot have an RSA public key used as an HMAC secret. Header members that point
/// at keys (`jku`, `jwk`, `x5u`, `x5c`) are ignored: keys come from configuration only.
public final class JWTVerifier: Sendable {
    /// Tokens longer than this are refused before any decoding (API Gateway's headers are
    /// limited to 10 KiB; Cognito and Auth0 tokens are 1–4 KiB).
    public static let maxTokenBytes = 16 * 1024

    private let keys: [JWTKey]
    private let keysByKid: [String: JWTKey]
    /// The configured HS256 secret: used for HS256 tokens without `kid` and for HS256 tokens
    /// whose `kid` names no JWKS key (issuers often stamp a `kid` on shared-secret tokens).
    private let secretKey: JWTKey?
    private let issuer: String?
    private let audiences: Set<String>
    private let leeway: Double

    /// - Parameters:
    ///   - jwksJSON: a JWKS document (RFC 7517 §5): RSA `n`/`e`, EC P-256 `crv`/`x`/`y`, `oct` `k`.
    ///   - hs256Secret: raw HS256 key bytes, at least 32.
    ///   - issuer: when set, `iss` must equal it.
    ///   - audiences: when non-empty, `aud` (string or array) or `client_id` must name one.
    ///   - leewaySeconds: clock skew allowed for `exp`, `nbf` and `iat`.
    public init(
        jwksJSON: [UInt8]?, hs256Secret: [UInt8]?, issuer: String?, audiences: [String],
        leewaySeconds: Int64 = 60
    ) throws(JWKSError) {
        var keys: [JWTKey] = []
        if let jwksJSON { keys = try JWKS.parse(jwksJSON) }
        try JWKS.checkUniqueKids(keys)
        var secretKey: JWTKey?
        if let hs256Secret {
            guard hs256Secret.count >= JWKS.minHMACKeyBytes else { throw .weakSecret(kid: nil) }
            secretKey = .hmac(kid: nil, hs256Secret)
        }
        guard !keys.isEmpty || secretKey != nil else { throw .noKeys }
        var byKid: [String: JWTKey] = [:]
        for key in keys { if let kid = key.kid { byKid[kid] = key } }
        self.keys = keys + (secretKey.map { [$0] } ?? [])
        self.keysByKid = byKid
        self.secretKey = secretKey
        self.issuer = issuer
        self.audiences = Set(audiences)
        self.leeway = Double(max(0, leewaySeconds))
    }

    /// Builds a verifier from an authorizer's config: reads `jwksFile` (the only I/O), takes the
    /// secret's UTF-8 bytes.
    public static func load(
        jwksFile: String?, hs256Secret: String?, issuer: String?, audiences: [String]
    ) throws(JWKSError) -> JWTVerifier {
        let jwks = try jwksFile.map { path throws(JWKSError) in try JWKS.readFile(path) }
        return try JWTVerifier(
            jwksJSON: jwks, hs256Secret: hs256Secret.map { Array($0.utf8) }, issuer: issuer, audiences: audiences)
    }

    /// Verifies `token` (the bare compact JWS, without `Bearer `) at `nowEpochSeconds`.
    /// The signature is checked before the payload is decoded; claims are checked after.
    public func verify(_ token: String, nowEpochSeconds: Int64) -> Result<JWTClaims, JWTFailure> {
        var token = token
        return token.withUTF8 { verify(utf8: $0, now: Double(nowEpochSeconds)) }
    }

    private func verify(utf8 token: UnsafeBufferPointer<UInt8>, now: Double) -> Result<JWTClaims, JWTFailure> {
        guard token.count <= Self.maxTokenBytes else { return .failure(.malformed) }
        // Compact serialization: exactly three segments (five would be JWE, RFC 7516 §7.1).
        guard let dot1 = token.firstIndex(of: UInt8(ascii: ".")),
              let dot2 = token[(dot1 + 1)...].firstIndex(of: UInt8(ascii: ".")),
              !token[(dot2 + 1)...].contains(UInt8(ascii: "."))
        else { return .failure(.malformed) }
        let headerText = UnsafeBufferPointer(rebasing: token[..<dot1])
        let payloadText = UnsafeBufferPointer(rebasing: token[(dot1 + 1)..<dot2])
        let signatureText = UnsafeBufferPointer(rebasing: token[(dot2 + 1)...])
        let signingInput = UnsafeBufferPointer(rebasing: token[..<dot2])

        guard let headerBytes = Base64URL.decode(headerText),
              let header = try? JSONValueLite.parse(headerBytes).objectValue
        else { return .failure(.malformed) }
        guard let algName = header["alg"]?.stringValue else { return .failure(.malformed) }
        // "none" and everything else outside the three supported algorithms.
        guard let alg = JWTAlgorithm(rawValue: algName) else { return .failure(.unsupportedAlgorithm) }
        // RFC 7515 §4.1.11: we understand no extensions, so any `crit` means reject.
        guard header["crit"] == nil else { return .failure(.malformed) }
        var kid: String?
        if let value = header["kid"] {
            guard let s = value.stringValue else { return .failure(.malformed) }
            kid = s
        }

        let key: JWTKey
        switch selectKey(alg: alg, kid: kid) {
        case .success(let k): key = k
        case .failure(let f): return .failure(f)
        }

        guard let signature = Base64URL.decode(signatureText) else { return .failure(.malformed) }
        guard Self.signatureIsValid(signature, over: signingInput, with: key) else {
            return .failure(.badSignature)
        }

        guard let payloadBytes = Base64URL.decode(payloadText),
              let claims = try? JSONValueLite.parse(payloadBytes).objectValue
        else { return .failure(.malformed) }
        if let failure = checkClaims(claims, now: now) { return .failure(failure) }
        return .success(JWTClaims(raw: claims))
    }

    private func selectKey(alg: JWTAlgorithm, kid: String?) -> Result<JWTKey, JWTFailure> {
        if let kid {
            if let key = keysByKid[kid] {
                // The key decides the algorithm; a mismatch is an algorithm-confusion attempt.
                return key.algorithm == alg ? .success(key) : .failure(.unsupportedAlgorithm)
            }
            if alg == .hs256, let secretKey { return .success(secretKey) }
            return .failure(.unknownKey)
        }
        var found: JWTKey?
        for key in keys where key.algorithm == alg {
            // Without `kid`, several candidate keys would mean trying each: refuse instead.
            guard found == nil else { return .failure(.unknownKey) }
            found = key
        }
        guard let found else { return .failure(.unsupportedAlgorithm) }
        return .success(found)
    }

    /// `exp` is required: a token without it would never expire (API Gateway checks that `exp`
    /// is after now). `nbf` and `iat` are optional but, when present, must not be in the future.
    /// All are NumericDate (seconds, possibly fractional, RFC 7519 §2) compared with the leeway.
    private func checkClaims(_ claims: [String: JSONValueLite], now: Double) -> JWTFailure? {
        func numericDate(_ name: String) -> Double?? {
            guard let value = claims[name] else { return .some(nil) }
            guard let d = value.doubleValue, d.isFinite else { return nil }
            return .some(d)
        }
        guard let expClaim = numericDate("exp"), let exp = expClaim else { return .malformed }
        guard now < exp + leeway else { return .expired }
        guard let nbf = numericDate("nbf") else { return .malformed }
        if let nbf, nbf > now + leeway { return .notYetValid }
        guard let iat = numericDate("iat") else { return .malformed }
        if let iat, iat > now + leeway { return .notYetValid }

        if let issuer, claims["iss"]?.stringValue != issuer { return .wrongIssuer }

        if !audiences.isEmpty {
            var offered: [String] = []
            switch claims["aud"] {
            case .string(let s)?: offered.append(s)
            case .array(let items)?: for case .string(let s) in items { offered.append(s) }
            default: break
            }
            // Cognito access tokens carry `client_id` instead of `aud`; API Gateway accepts either.
            if let clientID = claims["client_id"]?.stringValue { offered.append(clientID) }
            guard offered.contains(where: audiences.contains) else { return .wrongAudience }
        }
        return nil
    }

    // MARK: - Signatures (OpenSSL EVP)

    /// The primitive is chosen by the key, not by the token's `alg` (already required to match).
    private static func signatureIsValid(
        _ signature: [UInt8], over input: UnsafeBufferPointer<UInt8>, with key: JWTKey
    ) -> Bool {
        switch (key.algorithm, key.publicKey) {
        case (.hs256, nil):
            return hmacSHA256Matches(signature, input: input, secret: key.secret)
        case (.rs256, let publicKey?):
            return evpVerifySHA256(signature, input: input, key: publicKey)
        case (.es256, let publicKey?):
            // RFC 7518 §3.4: exactly R||S, 32 bytes each. DER or other lengths are refused.
            guard signature.count == 64 else { return false }
            return evpVerifySHA256(ecdsaDER(rawRS: signature), input: input, key: publicKey)
        default:
            return false
        }
    }

    /// DER `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279 §2.2.3) from the
    /// JWS form R||S (two 32-byte unsigned big-endian integers). Each INTEGER is minimal: leading
    /// zero bytes dropped, one 0x00 added when the high bit is set. At most 72 bytes, so every
    /// length fits the short form.
    static func ecdsaDER(rawRS: [UInt8]) -> [UInt8] {
        func integer(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
            var body = Array(bytes.drop(while: { $0 == 0 }))
            if body.isEmpty || body[0] & 0x80 != 0 { body.insert(0, at: 0) }
            return [0x02, UInt8(body.count)] + body
        }
        let half = rawRS.count / 2
        let content = integer(rawRS[..<half]) + integer(rawRS[half...])
        return [0x30, UInt8(content.count)] + content
    }

    private static func hmacSHA256Matches(
        _ signature: [UInt8], input: UnsafeBufferPointer<UInt8>, secret: [UInt8]
    ) -> Bool {
        guard signature.count == 32 else { return false }
        var mac = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var macLength: UInt32 = 0
        let ok = secret.withUnsafeBytes { k in
            mac.withUnsafeMutableBufferPointer { out in
                HMAC(FetchedSHA256.shared.md, k.baseAddress, Int32(k.count), input.baseAddress, input.count,
                     out.baseAddress, &macLength) != nil
            }
        }
        guard ok, macLength == 32 else {
            ERR_clear_error()
            return false
        }
        // Constant time: the comparison must not reveal how many leading bytes matched.
        return signature.withUnsafeBytes { s in
            mac.withUnsafeBytes { m in CRYPTO_memcmp(s.baseAddress, m.baseAddress, 32) == 0 }
        }
    }

    /// RS256 (PKCS #1 v1.5, the EVP default for RSA) and ES256 (DER signature) over SHA-256.
    private static func evpVerifySHA256(
        _ signature: [UInt8], input: UnsafeBufferPointer<UInt8>, key: EVPPublicKey
    ) -> Bool {
        guard let ctx = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestVerifyInit(ctx, nil, FetchedSHA256.shared.md, nil, key.pointer) == 1 else {
            ERR_clear_error()
            return false
        }
        let rc = signature.withUnsafeBufferPointer { sig in
            EVP_DigestVerify(ctx, sig.baseAddress, sig.count, input.baseAddress, input.count)
        }
        // Anything but 1 is a failure; a bad signature also leaves errors on the thread's queue.
        if rc != 1 { ERR_clear_error() }
        return rc == 1
    }
}

/// SHA-256 fetched from the default provider once. `EVP_sha256()` makes OpenSSL 3 fetch the
/// implementation again on every use (a lock and a lookup); an explicitly fetched EVP_MD is
/// immutable and may be shared by all threads.
final class FetchedSHA256: @unchecked Sendable {
    static let shared = FetchedSHA256()
    let md: OpaquePointer

    private init() {
        guard let md = EVP_MD_fetch(nil, "SHA2-256", nil) else {
            preconditionFailure("OpenSSL has no SHA2-256 in its default provider")
        }
        self.md = md
    }
}
