import COpenSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a JSON Web Key Set (RFC 7517 §5) or HS256 secret could not be turned into keys.
public enum JWKSError: Error, Sendable, Equatable {
    /// The JWKS file could not be read (`errno` from open/read), or is larger than `JWKS.maxFileBytes`.
    case unreadable(path: String, errno: Int32)
    /// Not a JSON object with a `keys` array of objects.
    case malformed(String)
    /// A key of a supported type whose members are missing or do not form a valid public key.
    case invalidKey(kid: String?, reason: String)
    /// Two usable keys share a `kid`, so a token's `kid` could not select one key.
    case duplicateKid(String)
    /// An HS256 key shorter than 256 bits (RFC 7518 §3.2: "MUST" be at least the hash size).
    case weakSecret(kid: String?)
    /// Neither the JWKS nor the secret yielded a key this verifier can use.
    case noKeys
}

/// The algorithms Petrel verifies. Each key type verifies exactly one, so a key's type fixes the
/// algorithm it accepts (RFC 8725 §3.1: never let the token choose how its key is interpreted).
enum JWTAlgorithm: String, Sendable {
    case rs256 = "RS256"
    case es256 = "ES256"
    case hs256 = "HS256"
}

/// An EVP_PKEY holding a public key; immutable after construction. OpenSSL 3 allows one
/// EVP_PKEY to be used for verification from many threads at once (each verification has its
/// own EVP_MD_CTX), hence `@unchecked Sendable`.
final class EVPPublicKey: @unchecked Sendable {
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }
}

/// One verification key. A flat struct rather than an enum with payloads: multi-payload enums
/// keep their tag in a class reference's spare bits, which LeakSanitizer cannot follow, so
/// long-lived verifiers would be reported as leaks under `--sanitize=address`.
struct JWTKey: Sendable {
    /// `nil` for a JWK without `kid` and for the configured HS256 secret.
    let kid: String?
    /// The only algorithm this key verifies; fixed by the key's type.
    let algorithm: JWTAlgorithm
    /// RS256 and ES256: the public key. HS256: `nil`.
    let publicKey: EVPPublicKey?
    /// HS256: the secret. RS256 and ES256: empty.
    let secret: [UInt8]

    static func rsa(kid: String?, _ key: EVPPublicKey) -> JWTKey {
        JWTKey(kid: kid, algorithm: .rs256, publicKey: key, secret: [])
    }

    static func p256(kid: String?, _ key: EVPPublicKey) -> JWTKey {
        JWTKey(kid: kid, algorithm: .es256, publicKey: key, secret: [])
    }

    static func hmac(kid: String?, _ secret: [UInt8]) -> JWTKey {
        JWTKey(kid: kid, algorithm: .hs256, publicKey: nil, secret: secret)
    }
}

enum JWKS {
    /// RFC 7518 §3.3: RS256 keys "MUST" be 2048 bits or larger.
    static let minRSABits: Int32 = 2048
    /// RFC 7518 §3.2: HS256 keys "MUST" be at least 256 bits.
    static let minHMACKeyBytes = 32
    /// A JWKS file larger than this is refused (real ones are a few KiB).
    static let maxFileBytes = 1 << 20

    /// Parses a JWKS document. Keys this verifier cannot use are skipped rather than refused, so
    /// an issuer's set may also publish other algorithms: `use` other than `sig`, `key_ops`
    /// without `verify`, `alg` other than RS256/ES256/HS256, `kty` other than RSA/EC/oct, and
    /// curves other than P-256. A usable key with bad members is an error. Private members
    /// (`d`, `p`, ...) are ignored: only public parts are loaded.
    static func parse(_ json: [UInt8]) throws(JWKSError) -> [JWTKey] {
        let document: JSONValueLite
        do {
            document = try JSONValueLite.parse(json)
        } catch {
            throw .malformed(error.description)
        }
        guard let top = document.objectValue else { throw .malformed("JWKS is not a JSON object") }
        guard let keys = top["keys"]?.arrayValue else { throw .malformed("JWKS has no \"keys\" array") }
        var result: [JWTKey] = []
        for entry in keys {
            guard let jwk = entry.objectValue else { throw .malformed("a JWKS key is not a JSON object") }
            if let key = try parseKey(jwk) { result.append(key) }
        }
        return result
    }

    /// Rejects sets where a `kid` would not name exactly one key.
    static func checkUniqueKids(_ keys: [JWTKey]) throws(JWKSError) {
        var seen = Set<String>()
        for key in keys {
            guard let kid = key.kid else { continue }
            guard seen.insert(kid).inserted else { throw .duplicateKid(kid) }
        }
    }

    private static func parseKey(_ jwk: [String: JSONValueLite]) throws(JWKSError) -> JWTKey? {
        var kid: String?
        if let value = jwk["kid"] {
            guard let s = value.stringValue else { throw .invalidKey(kid: nil, reason: "\"kid\" is not a string") }
            kid = s
        }
        guard let kty = jwk["kty"]?.stringValue else { throw .invalidKey(kid: kid, reason: "missing \"kty\"") }
        if let use = jwk["use"] {
            guard let s = use.stringValue else { throw .invalidKey(kid: kid, reason: "\"use\" is not a string") }
            if s != "sig" { return nil }
        }
        if let ops = jwk["key_ops"] {
            guard let list = ops.arrayValue else { throw .invalidKey(kid: kid, reason: "\"key_ops\" is not an array") }
            if !list.contains(.string("verify")) { return nil }
        }
        var declaredAlg: String?
        if let alg = jwk["alg"] {
            guard let s = alg.stringValue else { throw .invalidKey(kid: kid, reason: "\"alg\" is not a string") }
            declaredAlg = s
        }
        func accepts(_ algorithm: JWTAlgorithm) -> Bool { declaredAlg == nil || declaredAlg == algorithm.rawValue }

        switch kty {
        case "RSA":
            guard accepts(.rs256) else { return nil }
            let n = try member(jwk, "n", kid: kid)
            let e = try member(jwk, "e", kid: kid)
            return .rsa(kid: kid, try rsaKey(n: n, e: e, kid: kid))
        case "EC":
            guard accepts(.es256) else { return nil }
            guard let crv = jwk["crv"]?.stringValue else { throw .invalidKey(kid: kid, reason: "missing \"crv\"") }
            guard crv == "P-256" else { return nil }
            let x = try member(jwk, "x", kid: kid)
            let y = try member(jwk, "y", kid: kid)
            // RFC 7518 §6.2.1.2: coordinates are the full field size, 32 bytes for P-256.
            guard x.count == 32, y.count == 32 else {
                throw .invalidKey(kid: kid, reason: "P-256 \"x\" and \"y\" must be 32 bytes each")
            }
            return .p256(kid: kid, try p256Key(x: x, y: y, kid: kid))
        case "oct":
            guard accepts(.hs256) else { return nil }
            let k = try member(jwk, "k", kid: kid)
            guard k.count >= minHMACKeyBytes else { throw .weakSecret(kid: kid) }
            return .hmac(kid: kid, k)
        default:
            return nil
        }
    }

    private static func member(_ jwk: [String: JSONValueLite], _ name: String, kid: String?) throws(JWKSError) -> [UInt8] {
        guard let text = jwk[name]?.stringValue else { throw .invalidKey(kid: kid, reason: "missing \"\(name)\"") }
        guard let bytes = Base64URL.decode(text), !bytes.isEmpty else {
            throw .invalidKey(kid: kid, reason: "\"\(name)\" is not unpadded base64url")
        }
        return bytes
    }

    // OpenSSL 3 provider-based key import (EVP_PKEY_fromdata), done from Swift with
    // OSSL_PARAM_construct_*, so no BIGNUM or OSSL_PARAM_BLD juggling and no shim.h helpers.
    // Parameter names are those of <openssl/core_names.h>.
    private static let paramRSAN: StaticString = "n"  // OSSL_PKEY_PARAM_RSA_N
    private static let paramRSAE: StaticString = "e"  // OSSL_PKEY_PARAM_RSA_E
    private static let paramGroup: StaticString = "group"  // OSSL_PKEY_PARAM_GROUP_NAME
    private static let paramPub: StaticString = "pub"  // OSSL_PKEY_PARAM_PUB_KEY
    /// EVP_PKEY_PUBLIC_KEY = OSSL_KEYMGMT_SELECT_ALL_PARAMETERS (0x04 | 0x80) |
    /// OSSL_KEYMGMT_SELECT_PUBLIC_KEY (0x02); the macro is a compound expression Swift does not import.
    private static let selectPublicKey: Int32 = 0x86

    private static func cString(_ s: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    /// Runs EVP_PKEY_fromdata for a public key of `keyType` ("RSA", "EC").
    private static func publicKey(keyType: String, params: UnsafeMutablePointer<OSSL_PARAM>) -> OpaquePointer? {
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, keyType, nil) else { return nil }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_fromdata_init(ctx) == 1 else { return nil }
        var pkey: OpaquePointer?
        guard EVP_PKEY_fromdata(ctx, &pkey, selectPublicKey, params) == 1 else {
            if let pkey { EVP_PKEY_free(pkey) }
            return nil
        }
        return pkey
    }

    /// 1 when OpenSSL's public-key check passes (EC: point on the curve; RSA: sane n and e).
    private static func publicCheck(_ pkey: OpaquePointer) -> Bool {
        guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, pkey, nil) else { return false }
        defer { EVP_PKEY_CTX_free(ctx) }
        return EVP_PKEY_public_check(ctx) == 1
    }

    /// RSA public key from big-endian JWK `n` and `e` (RFC 7518 §6.3.1).
    static func rsaKey(n: [UInt8], e: [UInt8], kid: String?) throws(JWKSError) -> EVPPublicKey {
        // OSSL_PARAM unsigned integers are in native byte order.
        #if _endian(little)
        var nNative = Array(n.reversed()), eNative = Array(e.reversed())
        #else
        var nNative = n, eNative = e
        #endif
        let made = nNative.withUnsafeMutableBufferPointer { np in
            eNative.withUnsafeMutableBufferPointer { ep in
                var params = [
                    OSSL_PARAM_construct_BN(cString(paramRSAN), np.baseAddress, np.count),
                    OSSL_PARAM_construct_BN(cString(paramRSAE), ep.baseAddress, ep.count),
                    OSSL_PARAM_construct_end(),
                ]
                return params.withUnsafeMutableBufferPointer { publicKey(keyType: "RSA", params: $0.baseAddress!) }
            }
        }
        guard let pkey = made else {
            ERR_clear_error()
            throw .invalidKey(kid: kid, reason: "OpenSSL rejected the RSA key")
        }
        let key = EVPPublicKey(taking: pkey)
        guard EVP_PKEY_get_bits(pkey) >= minRSABits else {
            throw .invalidKey(kid: kid, reason: "RSA modulus shorter than \(minRSABits) bits")
        }
        guard publicCheck(pkey) else {
            ERR_clear_error()
            throw .invalidKey(kid: kid, reason: "RSA public key fails OpenSSL's check")
        }
        return key
    }

    /// P-256 public key from 32-byte big-endian `x` and `y`, as the SEC1 point 0x04||x||y.
    static func p256Key(x: [UInt8], y: [UInt8], kid: String?) throws(JWKSError) -> EVPPublicKey {
        var point = [0x04] + x + y
        var group = Array("prime256v1".utf8CString)  // SN_X9_62_prime256v1, NUL-terminated
        let made = point.withUnsafeMutableBytes { pt in
            group.withUnsafeMutableBufferPointer { g in
                var params = [
                    OSSL_PARAM_construct_utf8_string(cString(paramGroup), g.baseAddress, g.count - 1),
                    OSSL_PARAM_construct_octet_string(cString(paramPub), pt.baseAddress, pt.count),
                    OSSL_PARAM_construct_end(),
                ]
                return params.withUnsafeMutableBufferPointer { publicKey(keyType: "EC", params: $0.baseAddress!) }
            }
        }
        guard let pkey = made else {
            ERR_clear_error()
            throw .invalidKey(kid: kid, reason: "OpenSSL rejected the P-256 point")
        }
        let key = EVPPublicKey(taking: pkey)
        // Catches points that are not on the curve (invalid-curve inputs).
        guard publicCheck(pkey) else {
            ERR_clear_error()
            throw .invalidKey(kid: kid, reason: "P-256 point is not on the curve")
        }
        return key
    }

    /// Reads the whole file; the only I/O in the JWT code, done once at config load.
    static func readFile(_ path: String) throws(JWKSError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, errno: errno) }
        defer { close(fd) }
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: path, errno: errno)
            }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<n])
            guard data.count <= maxFileBytes else { throw .unreadable(path: path, errno: EFBIG) }
        }
        return data
    }
}
