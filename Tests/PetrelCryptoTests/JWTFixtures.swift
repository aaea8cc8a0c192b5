import Foundation

/// A value built once, or why it could not be. (Not a `Result`: a multi-payload enum stores
/// class references with tag bits that LeakSanitizer does not follow, so globals of that type
/// show up as leaks under `--sanitize=address`.)
struct JWTLoaded<Value: Sendable>: Sendable {
    private let value: Value?
    private let error: String?

    init(_ make: () throws(JWTFixture.FixtureError) -> Value) {
        do {
            value = try make()
            error = nil
        } catch {
            value = nil
            self.error = error.description
        }
    }

    func get() throws(JWTFixture.FixtureError) -> Value {
        guard let value else { throw JWTFixture.FixtureError(description: error ?? "not loaded") }
        return value
    }
}

/// Keys, key sets and tokens minted by an independent implementation (PyJWT + cryptography) in
/// a Python subprocess, once per test process. Needs the repo's venv (`scripts/python-venv.sh`)
/// or a system python3 with `jwt` and `cryptography`; without them every JWT test fails (not
/// skips) with the reason.
struct JWTFixture: Sendable {
    /// The moment every token is minted around and verified at.
    static let now: Int64 = 1_700_000_000
    static let issuer = "https://issuer.example"
    static let audiences = ["my-api", "other-api"]

    let jwksMain: [UInt8]
    let jwksRSAOnly: [UInt8]
    let secret: String
    let tokens: [String: String]
    let badJWKS: [String: [UInt8]]

    static let shared = JWTLoaded { () throws(FixtureError) in try mint() }

    struct FixtureError: Error, CustomStringConvertible {
        let description: String
    }

    static var repoRoot: URL {
        URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    private static func mint() throws(FixtureError) -> JWTFixture {
        let venvPython = repoRoot.appendingPathComponent(".venv/bin/python").path
        let process = Process()
        if FileManager.default.isExecutableFile(atPath: venvPython) {
            process.executableURL = URL(fileURLWithPath: venvPython)
            process.arguments = ["-c", script, String(now)]
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", script, String(now)]
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch { throw FixtureError(description: "cannot start python: \(error)") }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FixtureError(description: """
                minting tokens with PyJWT failed (run scripts/python-venv.sh): \
                \(String(decoding: stderr, as: UTF8.self))
                """)
        }
        guard let top = try? JSONSerialization.jsonObject(with: stdout) as? [String: Any],
              let main = top["jwks_main"] as? String, let rsaOnly = top["jwks_rsa_only"] as? String,
              let secret = top["secret"] as? String, let tokens = top["tokens"] as? [String: String],
              let bad = top["bad_jwks"] as? [String: String]
        else { throw FixtureError(description: "unexpected fixture output") }
        return JWTFixture(
            jwksMain: Array(main.utf8), jwksRSAOnly: Array(rsaOnly.utf8), secret: secret, tokens: tokens,
            badJWKS: bad.mapValues { Array($0.utf8) })
    }

    // Independent minting: PyJWT where it can, hand-built JWS (stdlib hmac / cryptography) for
    // tokens PyJWT refuses to make (alg confusion, crit, duplicate claims, DER ES256...).
    static let script = #"""
import base64, hashlib, hmac, json, secrets, sys
import jwt
from jwt.algorithms import RSAAlgorithm, ECAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

NOW = int(sys.argv[1])
ISS = "https://issuer.example"

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def jwk_of(pub, kid, alg):
    algo = RSAAlgorithm if isinstance(pub, rsa.RSAPublicKey) else ECAlgorithm
    d = json.loads(algo.to_jwk(pub))
    d.update(kid=kid, use="sig", alg=alg)
    return d

rsa1 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
rsa2 = rsa.generate_private_key(public_exponent=65537, key_size=3072)
ec1 = ec.generate_private_key(ec.SECP256R1())
attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
oct1 = secrets.token_bytes(32)
SECRET = "config-secret-" + secrets.token_hex(16)

jwks_main = {"keys": [
    jwk_of(rsa1.public_key(), "rsa-1", "RS256"),
    jwk_of(rsa2.public_key(), "rsa-2", None),
    jwk_of(ec1.public_key(), "ec-1", "ES256"),
    {"kty": "oct", "kid": "oct-1", "alg": "HS256", "k": b64(oct1)},
    # Skipped, not refused: other uses, algorithms, key types and curves.
    dict(jwk_of(attacker.public_key(), "enc-1", None), use="enc"),
    jwk_of(attacker.public_key(), "rs512-1", "RS512"),
    {"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": b64(bytes(32))},
    {"kty": "EC", "crv": "P-384", "kid": "p384-1", "x": b64(bytes(48)), "y": b64(bytes(48))},
]}
for k in jwks_main["keys"]:
    if k.get("alg") is None:
        k.pop("alg", None)
jwks_rsa_only = {"keys": [jwk_of(rsa1.public_key(), "rsa-1", "RS256")]}

def claims(**over):
    c = {"iss": ISS, "aud": "my-api", "sub": "user-1", "iat": NOW - 10, "exp": NOW + 3600,
         "scope": "read write"}
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c

def enc(c, key, alg, kid):
    return jwt.encode(c, key, algorithm=alg, headers={"kid": kid} if kid else None)

def manual(header, payload, sign):
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    p = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = (b64(h) + "." + b64(p)).encode()
    return signing_input.decode() + "." + b64(sign(signing_input))

def hs(key):
    k = key if isinstance(key, bytes) else key.encode()
    return lambda m: hmac.new(k, m, hashlib.sha256).digest()

def rs(priv):
    return lambda m: priv.sign(m, padding.PKCS1v15(), hashes.SHA256())

def flip_signature(token):
    h, p, s = token.split(".")
    sig = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
    sig[len(sig) // 2] ^= 0x01
    return h + "." + p + "." + b64(bytes(sig))

def es_der(m):
    return ec1.sign(m, ec.ECDSA(hashes.SHA256()))

rsa1_pem = rsa1.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

t = {}
valid_rs = enc(claims(), rsa1, "RS256", "rsa-1")
t["rs256Valid"] = valid_rs
t["rs256SecondKeyNoAlgInJWK"] = enc(claims(), rsa2, "RS256", "rsa-2")
t["es256Valid"] = enc(claims(), ec1, "ES256", "ec-1")
t["hs256JWKSOctKey"] = enc(claims(), oct1, "HS256", "oct-1")
t["hs256ConfigSecret"] = enc(claims(), SECRET, "HS256", None)
t["hs256UnlistedKidUsesConfigSecret"] = enc(claims(), SECRET, "HS256", "issuer-hs")
t["rs256NoKidSingleRSAKey"] = enc(claims(), rsa1, "RS256", None)
t["es256NoKidSingleECKey"] = enc(claims(), ec1, "ES256", None)
t["rs256NoKidSeveralRSAKeys"] = enc(claims(), rsa1, "RS256", None)
t["hs256NoKidOctAndSecret"] = enc(claims(), SECRET, "HS256", None)

t["expired"] = enc(claims(exp=NOW - 3600), rsa1, "RS256", "rsa-1")
t["expiredWithinLeeway"] = enc(claims(exp=NOW - 30), rsa1, "RS256", "rsa-1")
t["expMissing"] = enc(claims(exp=None), rsa1, "RS256", "rsa-1")
t["expNotANumber"] = enc(claims(exp="tomorrow"), rsa1, "RS256", "rsa-1")
t["expFractional"] = enc(claims(exp=NOW + 100.5), rsa1, "RS256", "rsa-1")
t["expOverflowsToInfinity"] = manual({"alg": "HS256"},
    json.dumps(claims(exp=0)).replace('"exp": 0', '"exp": 1e400').encode(), hs(SECRET))
t["nbfInFuture"] = enc(claims(nbf=NOW + 3600), rsa1, "RS256", "rsa-1")
t["nbfWithinLeeway"] = enc(claims(nbf=NOW + 30), rsa1, "RS256", "rsa-1")
t["iatInFuture"] = enc(claims(iat=NOW + 3600), rsa1, "RS256", "rsa-1")

t["wrongAudience"] = enc(claims(aud="someone-else"), rsa1, "RS256", "rsa-1")
t["audienceArrayIntersects"] = enc(claims(aud=["x", "other-api"]), rsa1, "RS256", "rsa-1")
t["audienceArrayDisjoint"] = enc(claims(aud=["x", "y"]), rsa1, "RS256", "rsa-1")
t["clientIdInsteadOfAud"] = enc(claims(aud=None, client_id="my-api"), rsa1, "RS256", "rsa-1")
t["audienceMissing"] = enc(claims(aud=None), rsa1, "RS256", "rsa-1")
t["wrongIssuer"] = enc(claims(iss="https://evil.example"), rsa1, "RS256", "rsa-1")
t["issuerMissing"] = enc(claims(iss=None), rsa1, "RS256", "rsa-1")
t["noIssuerOrAudienceConfigured"] = enc(claims(iss="anyone", aud="anything"), rsa1, "RS256", "rsa-1")

t["rs256BadSignature"] = flip_signature(valid_rs)
t["es256BadSignature"] = flip_signature(t["es256Valid"])
t["hs256BadSignature"] = flip_signature(t["hs256ConfigSecret"])
forged = enc(claims(sub="admin"), rsa1, "RS256", "rsa-1")
t["payloadSwapped"] = ".".join([forged.split(".")[0], forged.split(".")[1], valid_rs.split(".")[2]])
t["es256DERSignature"] = manual({"alg": "ES256", "kid": "ec-1"}, claims(), es_der)
t["embeddedJWKIgnored"] = manual(
    {"alg": "RS256", "kid": "rsa-1", "jwk": jwk_of(attacker.public_key(), "rsa-1", "RS256")},
    claims(sub="admin"), rs(attacker))
t["unknownKid"] = enc(claims(), rsa1, "RS256", "rsa-9")
t["kidOfSkippedKey"] = enc(claims(), attacker, "RS256", "rs512-1")

t["algNone"] = b64(b'{"alg":"none","typ":"JWT"}') + "." + b64(json.dumps(claims()).encode()) + "."
t["algNoneWithKid"] = b64(b'{"alg":"none","kid":"rsa-1"}') + "." + b64(json.dumps(claims()).encode()) + "."
t["algNoneCapitalized"] = b64(b'{"alg":"None"}') + "." + b64(json.dumps(claims()).encode()) + "."
t["algRS512"] = enc(claims(), rsa1, "RS512", "rsa-1")
t["algMissing"] = manual({"typ": "JWT", "kid": "oct-1"}, claims(), hs(oct1))
t["rsToHSConfusionWithKid"] = manual({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims(), hs(rsa1_pem))
t["rsToHSConfusionNoKid"] = manual({"alg": "HS256", "typ": "JWT"}, claims(), hs(rsa1_pem))
t["rsToHSConfusionNoKidOctKeyPresent"] = t["rsToHSConfusionNoKid"]
t["es256WithRSAKid"] = enc(claims(), ec1, "ES256", "rsa-1")

t["scopeString"] = enc(claims(scope="read  write"), rsa1, "RS256", "rsa-1")
t["scpArray"] = enc(claims(scope=None, scp=["read", "write"]), rsa1, "RS256", "rsa-1")
t["scpString"] = enc(claims(scope=None, scp="read write"), rsa1, "RS256", "rsa-1")
t["scopeAndScpMerged"] = enc(claims(scope="a b", scp=["b", "c"]), rsa1, "RS256", "rsa-1")
t["noScopes"] = enc(claims(scope=None), rsa1, "RS256", "rsa-1")

h, p, s = valid_rs.split(".")
t["paddedHeader"] = h + "=." + p + "." + s
t["paddedSignature"] = h + "." + p + "." + s + "=" * (-len(s) % 4 or 4)
t["standardBase64Signature"] = h + "." + p + "." + "+" + s[1:]
t["twoSegments"] = h + "." + p
t["fourSegments"] = valid_rs + "." + s
t["emptyToken"] = ""
t["headerNotObject"] = b64(b'["RS256"]') + "." + p + "." + s
t["headerNotJSON"] = b64(b'{"alg":"RS256",}') + "." + p + "." + s
t["payloadNotObject"] = manual({"alg": "HS256"}, b'"just a string"', hs(SECRET))
t["payloadDuplicateClaim"] = manual({"alg": "HS256"},
    json.dumps(claims(sub="user-1")).replace('"sub": "user-1"', '"sub": "user-1", "sub": "admin"').encode(), hs(SECRET))
t["critHeader"] = manual({"alg": "HS256", "crit": ["exp"], "exp": NOW}, claims(), hs(SECRET))
t["kidNotString"] = manual({"alg": "HS256", "kid": 7}, claims(), hs(SECRET))
t["tooLong"] = enc(claims(pad="x" * 20000), rsa1, "RS256", "rsa-1")

# Key sets that must be refused.
weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
ecj = jwk_of(ec1.public_key(), "ec-1", "ES256")
y = bytearray(base64.urlsafe_b64decode(ecj["y"] + "=="))
y[-1] ^= 0x01
rsaj = jwk_of(rsa1.public_key(), "rsa-1", "RS256")
bad = {
    "notJSON": "{keys: []}",
    "notAnObject": "[]",
    "noKeysMember": '{"kids": []}',
    "keyNotAnObject": '{"keys": ["rsa-1"]}',
    "rsa1024Bits": json.dumps({"keys": [jwk_of(weak.public_key(), "weak", "RS256")]}),
    "rsaMissingE": json.dumps({"keys": [{k: v for k, v in rsaj.items() if k != "e"}]}),
    "rsaPaddedN": json.dumps({"keys": [dict(rsaj, n=rsaj["n"] + "=" * (-len(rsaj["n"]) % 4 or 4))]}),
    "ecPointOffCurve": json.dumps({"keys": [dict(ecj, y=b64(bytes(y)))]}),
    "ecShortCoordinate": json.dumps({"keys": [dict(ecj, x=b64(base64.urlsafe_b64decode(ecj["x"] + "==")[1:]))]}),
    "octShorterThan256Bits": json.dumps({"keys": [{"kty": "oct", "kid": "short", "k": b64(b"0123456789abcdef")}]}),
    "duplicateKid": json.dumps({"keys": [rsaj, dict(ecj, kid="rsa-1")]}),
    "onlyUnusableKeys": json.dumps({"keys": [jwks_main["keys"][4], jwks_main["keys"][6]]}),
    "emptyKeys": '{"keys": []}',
}

print(json.dumps({"jwks_main": json.dumps(jwks_main), "jwks_rsa_only": json.dumps(jwks_rsa_only),
                  "secret": SECRET, "tokens": t, "bad_jwks": bad}))
"""#
}
