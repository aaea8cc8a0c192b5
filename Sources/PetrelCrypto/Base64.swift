import COpenSSL

/// Standard base64 (RFC 4648 §4) with padding, through OpenSSL's EVP encoder.
public enum Base64 {
    public static func encode(_ bytes: [UInt8]) -> String {
        let outLength = 4 * ((bytes.count + 2) / 3)
        return String(unsafeUninitializedCapacity: outLength + 1) { out in
            let written = bytes.withUnsafeBufferPointer { inp in
                EVP_EncodeBlock(out.baseAddress, inp.baseAddress, Int32(inp.count))
            }
            return Int(written)
        }
    }
}
