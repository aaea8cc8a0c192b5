#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Address checks the validator needs; the listeners do the real parsing when they bind.
enum NetworkAddresses {
    /// `127.0.0.0/8`, `::1` and `localhost`: an admin listener there needs no auth (DESIGN §6).
    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        var address = in_addr()
        guard inet_pton(AF_INET, host, &address) == 1 else { return false }
        return UInt32(bigEndian: address.s_addr) >> 24 == 127
    }

    /// `ADDRESS` or `ADDRESS/PREFIX` for IPv4 or IPv6.
    static func isCIDR(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { return false }
        let address = String(parts[0])
        let maximumPrefix: Int
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            maximumPrefix = 32
        } else if inet_pton(AF_INET6, address, &v6) == 1 {
            maximumPrefix = 128
        } else {
            return false
        }
        guard parts.count == 2 else { return true }
        guard let prefix = Int(parts[1]), parts[1].utf8.allSatisfy({ decimalDigit($0) != nil }) else { return false }
        return (0...maximumPrefix).contains(prefix)
    }
}
