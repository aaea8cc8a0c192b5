import Foundation
import Testing

@testable import PetrelCrypto

/// Key sets and secrets that must be refused when the authorizer is configured.
enum JWTBadKeySet: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case notJSON, notAnObject, noKeysMember, keyNotAnObject, rsa1024Bits, rsaMissingE, rsaPaddedN
    case ecPointOffCurve, ecShortCoordinate, octShorterThan256Bits, duplicateKid, onlyUnusableKeys, emptyKeys

    var testDescription: String { rawValue }

    func matches(_ error: JWKSError) -> Bool {
        switch (self, error) {
        case (.notJSON, .malformed), (.notAnObject, .malformed), (.noKeysMember, .malformed),
             (.keyNotAnObject, .malformed):
            true
        case (.rsa1024Bits, .invalidKey(kid: "weak", _)), (.rsaMissingE, .invalidKey(kid: "rsa-1", _)),
             (.rsaPaddedN, .invalidKey(kid: "rsa-1", _)), (.ecPointOffCurve, .invalidKey(kid: "ec-1", _)),
             (.ecShortCoordinate, .invalidKey(kid: "ec-1", _)):
            true
        case (.octShorterThan256Bits, .weakSecret(kid: "short")), (.duplicateKid, .duplicateKid("rsa-1")),
             (.onlyUnusableKeys, .noKeys), (.emptyKeys, .noKeys):
            true
        default:
            false
        }
    }
}

@Suite("JWT key sets")
struct JWTKeySetTests {
    @Test(arguments: JWTBadKeySet.allCases)
    func refused(_ c: JWTBadKeySet) throws {
        let jwks = try #require(try JWTFixture.shared.get().badJWKS[c.rawValue])
        do {
            _ = try JWTVerifier(jwksJSON: jwks, hs256Secret: nil, issuer: nil, audiences: [])
            Issue.record("\(c.rawValue) was accepted")
        } catch {
            #expect(c.matches(error), "\(c.rawValue): got \(error)")
        }
    }

    @Test func fixtureAndCaseListAgree() throws {
        #expect(Set(try JWTFixture.shared.get().badJWKS.keys) == Set(JWTBadKeySet.allCases.map(\.rawValue)))
    }

    @Test func shortConfiguredSecretIsRefused() {
        #expect(throws: JWKSError.weakSecret(kid: nil)) {
            try JWTVerifier(jwksJSON: nil, hs256Secret: Array("too-short".utf8), issuer: nil, audiences: [])
        }
    }

    @Test func nothingConfiguredIsRefused() {
        #expect(throws: JWKSError.noKeys) {
            try JWTVerifier(jwksJSON: nil, hs256Secret: nil, issuer: nil, audiences: [])
        }
    }

    @Test func loadsJWKSFileAndSecretString() throws {
        let fixture = try JWTFixture.shared.get()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-jwks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("jwks.json").path
        try Data(fixture.jwksMain).write(to: URL(fileURLWithPath: path))

        let verifier = try JWTVerifier.load(
            jwksFile: path, hs256Secret: fixture.secret, issuer: JWTFixture.issuer, audiences: JWTFixture.audiences)
        for name in ["rs256Valid", "es256Valid", "hs256UnlistedKidUsesConfigSecret"] {
            #expect(verifier.verify(fixture.tokens[name]!, nowEpochSeconds: JWTFixture.now).jwtSucceeded, "\(name)")
        }
    }

    @Test func missingJWKSFileIsUnreadable() {
        let path = "/nonexistent/petrel/jwks.json"
        #expect(throws: JWKSError.unreadable(path: path, errno: ENOENT)) {
            try JWTVerifier.load(jwksFile: path, hs256Secret: nil, issuer: nil, audiences: [])
        }
    }
}

@Suite("JWT base64url")
struct JWTBase64URLTests {
    /// RFC 4648 §10 vectors, unpadded.
    @Test(arguments: [
        ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"),
        ("foobar", "Zm9vYmFy"),
    ])
    func roundTrip(_ plain: String, _ encoded: String) {
        #expect(Base64URL.encode(Array(plain.utf8)) == encoded)
        #expect(Base64URL.decode(encoded) == Array(plain.utf8))
    }

    @Test func urlAlphabet() {
        #expect(Base64URL.encode([0xFB, 0xFF, 0xBF]) == "-_-_")
        #expect(Base64URL.decode("-_-_") == [0xFB, 0xFF, 0xBF])
    }

    @Test(arguments: [
        "Zg==", "Zg=", "Zm9v=", "+/+/", "Zm9v Yg", "Zm9v\n", "Z", "Zm9vY", "Zh", "Zm9", "Zm\u{00e9}v", "Zm9v.",
    ])
    func rejected(_ text: String) {
        #expect(Base64URL.decode(text) == nil)
    }
}

@Suite("JWT JSON parser")
struct JWTJSONTests {
    @Test(arguments: [
        #"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#, #"  {}  "#, #"[]"#, #""x""#, "-0", "0.5e-3", "1E+9",
        #""\u00e9\ud83d\ude00\n\t\"\\\/""#, #"{"":""}"#,
    ])
    func accepted(_ text: String) throws {
        _ = try JSONValueLite.parse(Array(text.utf8))
    }

    @Test func values() throws {
        let v = try JSONValueLite.parse(Array(#"{"s":"a\u00e9\ud83d\ude00","n":-12.5e3,"a":[1,"x"],"t":true,"z":null}"#.utf8))
        #expect(v == .object([
            "s": .string("aé😀"), "n": .number("-12.5e3"), "a": .array([.number("1"), .string("x")]),
            "t": .bool(true), "z": .null,
        ]))
        #expect(v.objectValue?["n"]?.doubleValue == -12500)
    }

    @Test(arguments: [
        "", "{", "{\"a\":1,}", "[1,]", "[1 2]", "01", "1.", ".5", "-", "1e", "+1", "NaN", "Infinity", "tru", "nul",
        "{\"a\":1}x", "{'a':1}", "{a:1}", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\tb\"",
        "{\"a\":1,\"a\":2}", "/* c */ {}", "\"\\u12\"",
    ])
    func rejected(_ text: String) {
        #expect(throws: JSONLiteError.self) { try JSONValueLite.parse(Array(text.utf8)) }
    }

    @Test func invalidUTF8IsRejected() {
        #expect(throws: JSONLiteError.self) { try JSONValueLite.parse([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: JSONLiteError.self) { try JSONValueLite.parse([0x22, 0xED, 0xA0, 0x80, 0x22]) }
    }

    @Test func nestingIsBounded() throws {
        let ok = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        _ = try JSONValueLite.parse(Array(ok.utf8))
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONLiteError.self) { try JSONValueLite.parse(Array(deep.utf8)) }
    }
}
