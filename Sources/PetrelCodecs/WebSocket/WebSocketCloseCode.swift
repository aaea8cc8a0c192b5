/// A close status code (RFC 6455 §7.4). A struct rather than an enum so that application codes
/// (3000-4999) and future registry entries can be carried without a catch-all case.
public struct WebSocketCloseCode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16

    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let normal = WebSocketCloseCode(1000)
    public static let goingAway = WebSocketCloseCode(1001)
    public static let protocolError = WebSocketCloseCode(1002)
    public static let unsupportedData = WebSocketCloseCode(1003)
    /// Reported locally when a close frame had no status; never sent (RFC 6455 §7.4.1).
    public static let noStatus = WebSocketCloseCode(1005)
    /// Reported locally when the TCP connection ended without a close frame; never sent (§7.4.1).
    public static let abnormal = WebSocketCloseCode(1006)
    public static let invalidPayload = WebSocketCloseCode(1007)
    public static let policyViolation = WebSocketCloseCode(1008)
    public static let messageTooBig = WebSocketCloseCode(1009)
    public static let mandatoryExtension = WebSocketCloseCode(1010)
    public static let internalError = WebSocketCloseCode(1011)

    /// Codes a peer may legally send in a close frame (RFC 6455 §7.4.1/§7.4.2 + IANA registry):
    /// 1000-1003, 1007-1014, 3000-4999. 1004 is reserved, 1005/1006/1015 are local-only,
    /// 1016-2999 are unassigned or reserved for future RFCs, 0-999 are unused.
    public static func isValidOnWire(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }
}
