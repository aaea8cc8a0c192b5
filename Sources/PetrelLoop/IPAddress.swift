import CLibUV

/// An IPv4 or IPv6 address in 17 bytes, kept per connection instead of a formatted string.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// IPv6 bytes, or an IPv4 address in the first 4 bytes.
    public var high: UInt64
    public var low: UInt64
    public var isV4: Bool

    init?(_ storage: sockaddr_storage) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let addr = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in.self) }
            high = UInt64(UInt32(bigEndian: addr.sin_addr.s_addr))
            low = 0
            isV4 = true
        case AF_INET6:
            let addr = withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in6.self) }
            let bytes = withUnsafeBytes(of: addr.sin6_addr) { Array($0) }
            high = bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
            low = bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
            isV4 = false
            // Report v4-mapped peers of a dual-stack socket as plain IPv4, as users expect.
            if high == 0, low >> 32 == 0xFFFF {
                high = low & 0xFFFF_FFFF
                low = 0
                isV4 = true
            }
        default:
            return nil
        }
    }

    public var isLoopback: Bool {
        isV4 ? (high >> 24) == 127 : (high == 0 && low == 1)
    }

    public var description: String {
        if isV4 {
            return "\(high >> 24 & 255).\(high >> 16 & 255).\(high >> 8 & 255).\(high & 255)"
        }
        var sin6 = sockaddr_in6()
        withUnsafeMutableBytes(of: &sin6.sin6_addr) { buf in
            for i in 0..<8 { buf[i] = UInt8(truncatingIfNeeded: high >> UInt64(56 - 8 * i)) }
            for i in 0..<8 { buf[8 + i] = UInt8(truncatingIfNeeded: low >> UInt64(56 - 8 * i)) }
        }
        var text = [CChar](repeating: 0, count: 64)
        _ = withUnsafePointer(to: &sin6) { uv_ip6_name($0, &text, text.count) }
        return String(cString: text)
    }
}
