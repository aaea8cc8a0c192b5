import COpenSSL

/// RFC 6455 §4.2.2: Sec-WebSocket-Accept = base64(SHA-1(key + GUID)).
public enum WebSocketAccept {
    static let guid: [UInt8] = Array("258EAFA5-E914-47DA-95CA-C5AB0DC85B11".utf8)

    /// Computes the accept value for a client key; `key` is the header value as received.
    public static func value(forKey key: String) -> String {
        var input = [UInt8]()
        input.reserveCapacity(key.utf8.count + guid.count)
        input.append(contentsOf: key.utf8)
        input.append(contentsOf: guid)
        var digest = [UInt8](repeating: 0, count: Int(SHA_DIGEST_LENGTH))
        _ = input.withUnsafeBufferPointer { inp in
            digest.withUnsafeMutableBufferPointer { out in
                SHA1(inp.baseAddress, inp.count, out.baseAddress)
            }
        }
        return Base64.encode(digest)
    }
}
