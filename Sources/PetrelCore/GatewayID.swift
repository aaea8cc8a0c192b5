/// A gateway id (connection ids and request ids): 12 bytes, shown as 16 characters of base64url
/// without padding (DESIGN §4).
///
/// Kept as raw bytes rather than a `String`: a 16-character string is past Swift's 15-byte
/// small-string limit and would cost a heap allocation per connection.
public struct GatewayID: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt32

    public init(high: UInt64, low: UInt32) {
        self.high = high
        self.low = low
    }

    /// Reads 12 bytes.
    public init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count >= 12)
        high = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        low = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
    }

    /// Parses the 16-character form; also accepts API Gateway-style padding-free input only.
    public init?(_ text: some StringProtocol) {
        var raw = [UInt8]()
        raw.reserveCapacity(12)
        guard text.utf8.count == 16, Base64URL.decode(text.utf8, into: &raw), raw.count == 12 else { return nil }
        self = raw.withUnsafeBytes { GatewayID(bytes: $0) }
    }

    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 12)
        out.withUnsafeMutableBytes { buf in
            buf.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
            buf.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt32.self)
        }
        return out
    }

    public var description: String {
        var out: [UInt8] = []
        out.reserveCapacity(16)
        appendText(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The 16 characters of `description`, appended straight from the two words: the form
    /// written into every HTTP answer's `apigw-requestid`.
    public func appendText(to out: inout [UInt8]) {
        // Four groups of three bytes, four characters each.
        func emit(_ group: UInt32) {
            out.append(Base64URL.alphabet[Int(group >> 18 & 63)])
            out.append(Base64URL.alphabet[Int(group >> 12 & 63)])
            out.append(Base64URL.alphabet[Int(group >> 6 & 63)])
            out.append(Base64URL.alphabet[Int(group & 63)])
        }
        emit(UInt32(truncatingIfNeeded: high >> 40) & 0xFF_FFFF)
        emit(UInt32(truncatingIfNeeded: high >> 16) & 0xFF_FFFF)
        emit(UInt32(truncatingIfNeeded: high & 0xFFFF) << 8 | low >> 24)
        emit(low & 0xFF_FFFF)
    }
}

/// Connection ids are 12 random bytes.
public typealias ConnectionID = GatewayID
/// Request ids share the shape of connection ids, as API Gateway's do.
public typealias RequestID = GatewayID
