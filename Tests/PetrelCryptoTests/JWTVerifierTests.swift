import Foundation
import Testing

@testable import PetrelCrypto

/// Which configured verifier a token is checked against.
enum JWTVerifierKind: Sendable {
    /// JWKS with two RSA keys, one P-256 key, one `oct` key (plus keys it must skip); issuer and audiences.
    case main
    /// Only the configured HS256 secret; issuer and audiences.
    case secret
    /// The main JWKS and the secret together.
    case mixed
    /// One RSA key, no issuer or audience checks.
    case rsaOnly
}

enum JWTExpectation: Sendable, Equatable {
    case valid(scopes: [String])
    case invalid(JWTFailure)
}

/// One token from the fixture, the verifier it meets, and the outcome.
enum JWTCase: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case rs256Valid, rs256SecondKeyNoAlgInJWK, es256Valid, hs256JWKSOctKey, hs256ConfigSecret
    case hs256UnlistedKidUsesConfigSecret, rs256NoKidSingleRSAKey, es256NoKidSingleECKey
    case rs256NoKidSeveralRSAKeys, hs256NoKidOctAndSecret
    case expired, expiredWithinLeeway, expMissing, expNotANumber, expFractional, expOverflowsToInfinity
    case nbfInFuture, nbfWithinLeeway, iatInFuture
    case wrongAudience, audienceArrayIntersects, audienceArrayDisjoint, clientIdInsteadOfAud, audienceMissing
    case wrongIssuer, issuerMissing, noIssuerOrAudienceConfigured
    case rs256BadSignature, es256BadSignature, hs256BadSignature, payloadSwapped, es256DERSignature
    case embeddedJWKIgnored, unknownKid, kidOfSkippedKey
    case algNone, algNoneWithKid, algNoneCapitalized, algRS512, algMissing
    case rsToHSConfusionWithKid, rsToHSConfusionNoKid, rsToHSConfusionNoKidOctKeyPresent, es256WithRSAKid
    case scopeString, scpArray, scpString, scopeAndScpMerged, noScopes
    case paddedHeader, paddedSignature, standardBase64Signature, twoSegments, fourSegments, emptyToken
    case headerNotObject, headerNotJSON, payloadNotObject, payloadDuplicateClaim, critHeader, kidNotString
    case tooLong

    var testDescription: String { rawValue }

    var verifier: JWTVerifierKind {
        switch self {
        case .hs256ConfigSecret, .hs256BadSignature, .expOverflowsToInfinity, .payloadNotObject,
             .payloadDuplicateClaim, .critHeader, .kidNotString:
            .secret
        case .hs256UnlistedKidUsesConfigSecret, .hs256NoKidOctAndSecret:
            .mixed
        case .rs256NoKidSingleRSAKey, .rsToHSConfusionNoKid, .noIssuerOrAudienceConfigured:
            .rsaOnly
        default:
            .main
        }
    }

    var expected: JWTExpectation {
        let readWrite = JWTExpectation.valid(scopes: ["read", "write"])
        switch self {
        case .rs256Valid, .rs256SecondKeyNoAlgInJWK, .es256Valid, .hs256JWKSOctKey, .hs256ConfigSecret,
             .hs256UnlistedKidUsesConfigSecret, .rs256NoKidSingleRSAKey, .es256NoKidSingleECKey,
             .expiredWithinLeeway, .expFractional, .nbfWithinLeeway, .audienceArrayIntersects,
             .clientIdInsteadOfAud, .noIssuerOrAudienceConfigured, .scopeString, .scpArray, .scpString:
            return readWrite
        case .scopeAndScpMerged: return .valid(scopes: ["a", "b", "c"])
        case .noScopes: return .valid(scopes: [])
        case .rs256NoKidSeveralRSAKeys, .hs256NoKidOctAndSecret, .unknownKid, .kidOfSkippedKey:
            return .invalid(.unknownKey)
        case .expired: return .invalid(.expired)
        case .nbfInFuture, .iatInFuture: return .invalid(.notYetValid)
        case .wrongAudience, .audienceArrayDisjoint, .audienceMissing: return .invalid(.wrongAudience)
        case .wrongIssuer, .issuerMissing: return .invalid(.wrongIssuer)
        case .rs256BadSignature, .es256BadSignature, .hs256BadSignature, .payloadSwapped, .es256DERSignature,
             .embeddedJWKIgnored, .rsToHSConfusionNoKidOctKeyPresent:
            return .invalid(.badSignature)
        case .algNone, .algNoneWithKid, .algNoneCapitalized, .algRS512, .rsToHSConfusionWithKid,
             .rsToHSConfusionNoKid, .es256WithRSAKid:
            return .invalid(.unsupportedAlgorithm)
        case .expMissing, .expNotANumber, .expOverflowsToInfinity, .algMissing, .paddedHeader, .paddedSignature,
             .standardBase64Signature, .twoSegments, .fourSegments, .emptyToken, .headerNotObject, .headerNotJSON,
             .payloadNotObject, .payloadDuplicateClaim, .critHeader, .kidNotString, .tooLong:
            return .invalid(.malformed)
        }
    }
}

/// Verifiers built once from the fixture (they are immutable and shared, as in the gateway).
struct JWTVerifiers: Sendable {
    let main: JWTVerifier
    let secret: JWTVerifier
    let mixed: JWTVerifier
    let rsaOnly: JWTVerifier

    static let shared = JWTLoaded { () throws(JWTFixture.FixtureError) in
        let f = try JWTFixture.shared.get()
        let secretBytes = Array(f.secret.utf8)
        do {
            return JWTVerifiers(
                main: try JWTVerifier(jwksJSON: f.jwksMain, hs256Secret: nil, issuer: JWTFixture.issuer,
                                      audiences: JWTFixture.audiences),
                secret: try JWTVerifier(jwksJSON: nil, hs256Secret: secretBytes, issuer: JWTFixture.issuer,
                                        audiences: JWTFixture.audiences),
                mixed: try JWTVerifier(jwksJSON: f.jwksMain, hs256Secret: secretBytes, issuer: JWTFixture.issuer,
                                       audiences: JWTFixture.audiences),
                rsaOnly: try JWTVerifier(jwksJSON: f.jwksRSAOnly, hs256Secret: nil, issuer: nil, audiences: []))
        } catch {
            throw JWTFixture.FixtureError(description: "building verifiers: \(error)")
        }
    }

    func callAsFunction(_ kind: JWTVerifierKind) -> JWTVerifier {
        switch kind {
        case .main: main
        case .secret: secret
        case .mixed: mixed
        case .rsaOnly: rsaOnly
        }
    }
}

@Suite("JWT verification against PyJWT-minted tokens")
struct JWTVerifierTests {
    @Test(arguments: JWTCase.allCases)
    func token(_ c: JWTCase) throws {
        let fixture = try JWTFixture.shared.get()
        let verifiers = try JWTVerifiers.shared.get()
        let token = try #require(fixture.tokens[c.rawValue], "fixture has no token \(c.rawValue)")
        let result = verifiers(c.verifier).verify(token, nowEpochSeconds: JWTFixture.now)
        switch (c.expected, result) {
        case (.valid(let scopes), .success(let claims)):
            #expect(claims.scopes == scopes)
            #expect(claims.subject == "user-1")
            #expect(claims["iat"] == .number(String(JWTFixture.now - 10)))
        case (.invalid(let expected), .failure(let failure)):
            #expect(failure == expected)
        default:
            Issue.record("\(c.rawValue): expected \(c.expected), got \(result)")
        }
    }

    @Test func fixtureAndCaseListAgree() throws {
        let fixture = try JWTFixture.shared.get()
        #expect(Set(fixture.tokens.keys) == Set(JWTCase.allCases.map(\.rawValue)))
    }

    /// The leeway is configurable and applies on both sides of the validity window.
    @Test func zeroLeewayRejectsTokensTheDefaultAccepts() throws {
        let fixture = try JWTFixture.shared.get()
        let strict = try JWTVerifier(
            jwksJSON: fixture.jwksMain, hs256Secret: nil, issuer: JWTFixture.issuer,
            audiences: JWTFixture.audiences, leewaySeconds: 0)
        let now = JWTFixture.now
        #expect(strict.verify(fixture.tokens["expiredWithinLeeway"]!, nowEpochSeconds: now) == .failure(.expired))
        #expect(strict.verify(fixture.tokens["nbfWithinLeeway"]!, nowEpochSeconds: now) == .failure(.notYetValid))
        #expect(strict.verify(fixture.tokens["rs256Valid"]!, nowEpochSeconds: now).jwtSucceeded)
        // exp is exclusive: valid strictly before exp (RFC 7519 §4.1.4).
        #expect(strict.verify(fixture.tokens["rs256Valid"]!, nowEpochSeconds: now + 3599).jwtSucceeded)
        #expect(strict.verify(fixture.tokens["rs256Valid"]!, nowEpochSeconds: now + 3600) == .failure(.expired))
    }

    /// Claims are passed on as sent: types and number lexemes kept.
    @Test func claimsKeepTheirValues() throws {
        let fixture = try JWTFixture.shared.get()
        let claims = try JWTVerifiers.shared.get().main
            .verify(fixture.tokens["audienceArrayIntersects"]!, nowEpochSeconds: JWTFixture.now).get()
        #expect(claims["aud"] == .array([.string("x"), .string("other-api")]))
        #expect(claims["iss"] == .string(JWTFixture.issuer))
        #expect(claims["exp"] == .number(String(JWTFixture.now + 3600)))
        #expect(claims["exp"]?.doubleValue == Double(JWTFixture.now + 3600))
    }

    /// One verifier shared by many threads (as by the gateway's loops); run under TSan too.
    @Test func concurrentVerification() async throws {
        let fixture = try JWTFixture.shared.get()
        let verifier = try JWTVerifiers.shared.get().main
        let tokens = ["rs256Valid", "es256Valid", "hs256JWKSOctKey", "rs256BadSignature"].map { fixture.tokens[$0]! }
        let failures = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var wrong = 0
                    for i in 0..<50 {
                        let index = (worker + i) % tokens.count
                        let ok = verifier.verify(tokens[index], nowEpochSeconds: JWTFixture.now).jwtSucceeded
                        if ok != (index != 3) { wrong += 1 }
                    }
                    return wrong
                }
            }
            return await group.reduce(0, +)
        }
        #expect(failures == 0)
    }
}

extension Result {
    var jwtSucceeded: Bool {
        if case .success = self { return true }
        return false
    }
}
