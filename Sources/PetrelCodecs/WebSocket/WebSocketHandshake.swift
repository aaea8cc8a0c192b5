/// Server-side validation of the opening handshake (RFC 6455 §4.2.1) — everything but the SHA-1.
public enum WebSocketHandshake {
    /// Appended to the client's key before hashing (RFC 6455 §1.3, §4.2.2).
    public static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    /// The only version this server speaks (RFC 6455 §4.2.2, §11.6).
    public static let supportedVersion = "13"

    /// True when the request asks for an upgrade to websocket at all (so non-upgrade GETs go to HTTP routes).
    public static func isUpgradeRequest(_ head: HTTPRequestHead) -> Bool {
        head.headers.containsToken("Upgrade", "websocket")
    }

    /// Checks §4.2.1 items 1-6 in order. Choices where the RFC leaves room:
    /// - a method other than GET is a malformed upgrade: 400 (DESIGN §4), not 405;
    /// - a missing `Sec-WebSocket-Version` is answered like a wrong one, 426 with
    ///   `Sec-WebSocket-Version: 13`, so the client learns what to send (§4.2.2 allows either);
    /// - the key must be 24 base64 characters ending in "==" (16 bytes, §4.1 item 7); the 4 unused
    ///   bits of its last character are not checked, as common decoders ignore them.
    public static func validate(_ head: HTTPRequestHead) -> WebSocketHandshakeOutcome {
        // §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
        guard head.method == "GET" else { return badRequest("WebSocket upgrade must use GET") }
        guard head.versionMinor >= 1 else { return badRequest("WebSocket upgrade needs HTTP/1.1") }
        // Item 2.
        guard head.headers.count("Host") == 1 else { return badRequest("Missing Host header") }
        // Items 3 and 4.
        guard head.headers.containsToken("Upgrade", "websocket") else {
            return badRequest("Upgrade header must contain websocket")
        }
        guard head.headers.containsToken("Connection", "upgrade") else {
            return badRequest("Connection header must contain Upgrade")
        }
        // Item 6, checked before the key so that any client of another version learns ours.
        let versions = head.headers.all("Sec-WebSocket-Version")
        guard versions.count == 1, versions[0] == supportedVersion else {
            return .reject(
                status: 426, reason: "Unsupported WebSocket version",
                extraHeaders: [("Sec-WebSocket-Version", supportedVersion)])
        }
        // Item 5.
        let keys = head.headers.all("Sec-WebSocket-Key")
        guard keys.count == 1, isBase64OfSixteenBytes(keys[0]) else {
            return badRequest("Sec-WebSocket-Key must be base64 of 16 bytes")
        }
        return .accept(key: keys[0], protocols: requestedProtocols(head.headers))
    }

    /// Sec-WebSocket-Protocol tokens in the order offered, over every field line (§4.1 item 10).
    static func requestedProtocols(_ headers: HTTPHeaders) -> [String] {
        var protocols: [String] = []
        for value in headers.all("Sec-WebSocket-Protocol") {
            _ = HTTPSyntax.firstListElement(in: value) { element in
                protocols.append(String(Substring(element)))
                return false
            }
        }
        return protocols
    }

    /// 16 bytes encode to 22 base64 characters plus "==" (RFC 4648 §4).
    static func isBase64OfSixteenBytes(_ key: String) -> Bool {
        let utf8 = key.utf8
        guard utf8.count == 24 else { return false }
        for (position, byte) in utf8.enumerated() {
            if position >= 22 {
                if byte != UInt8(ascii: "=") { return false }
            } else if !isBase64Alphabet(byte) {
                return false
            }
        }
        return true
    }

    private static func isBase64Alphabet(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }

    private static func badRequest(_ reason: String) -> WebSocketHandshakeOutcome {
        .reject(status: 400, reason: reason, extraHeaders: [])
    }
}
