import COpenSSL

/// Cryptographically strong random bytes from OpenSSL's DRBG.
public enum SecureRandom {
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard buffer.count > 0 else { return }
        let ok = RAND_bytes(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(buffer.count))
        precondition(ok == 1, "OpenSSL RAND_bytes failed: the system has no entropy source")
    }
}
