import COpenSSL

/// SHA-256 (FIPS 180-4) through OpenSSL's EVP interface.
///
/// Note: inside this module the name `SHA256` is this enum, which shadows OpenSSL's C function
/// of the same name; use `EVP_Digest` (as here) for raw digests.
public enum SHA256 {
    public static let digestLength = 32

    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { hash($0) }
    }

    public static func hash(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: digestLength)
        digest.withUnsafeMutableBufferPointer { out in
            var length: UInt32 = 0
            // EVP_Digest accepts a NULL pointer for zero bytes.
            let ok = EVP_Digest(input.baseAddress, input.count, out.baseAddress, &length, EVP_sha256(), nil)
            precondition(ok == 1 && length == 32, "EVP_Digest(SHA-256) failed")
        }
        return digest
    }

    /// Lowercase hex of the digest, as SigV4 and most HTTP APIs write it.
    public static func hex(_ bytes: [UInt8]) -> String {
        Hex.lowercase(hash(bytes))
    }

    public static func hex(_ string: String) -> String {
        hex(Array(string.utf8))
    }
}

/// HMAC-SHA-256 (RFC 2104, RFC 4231) through OpenSSL's one-shot `HMAC`.
public enum HMACSHA256 {
    public static func authenticationCode(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var mac = [UInt8](repeating: 0, count: SHA256.digestLength)
        key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                mac.withUnsafeMutableBufferPointer { out in
                    var length: UInt32 = 0
                    // A NULL key pointer means "reuse the previous key" to OpenSSL; give it a
                    // valid address for the empty key.
                    let keyPointer = k.baseAddress ?? UnsafeRawPointer(out.baseAddress!)
                    let messagePointer = m.baseAddress?.assumingMemoryBound(to: UInt8.self)
                        ?? UnsafePointer(out.baseAddress!)
                    let result = HMAC(EVP_sha256(), keyPointer, Int32(k.count), messagePointer, m.count, out.baseAddress, &length)
                    precondition(result != nil && length == 32, "HMAC(SHA-256) failed")
                }
            }
        }
        return mac
    }

    public static func authenticationCode(key: [UInt8], message: String) -> [UInt8] {
        authenticationCode(key: key, message: Array(message.utf8))
    }
}

public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func lowercase(_ bytes: some Sequence<UInt8>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Compares two byte strings in time that depends only on their lengths (OpenSSL `CRYPTO_memcmp`).
public enum ConstantTime {
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in
                guard x.count == y.count else { return false }
                guard x.count > 0 else { return true }
                return CRYPTO_memcmp(x.baseAddress, y.baseAddress, x.count) == 0
            }
        }
    }
}
