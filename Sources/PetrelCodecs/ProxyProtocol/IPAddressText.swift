/// Textual IPv4 and IPv6 addresses (RFC 4291 §2.2), parsed without the C library so codecs stay
/// pure. Strict where ambiguity could matter: IPv4 octets with leading zeros (octal in some
/// parsers) are refused.
public enum IPAddressText {
    /// `a.b.c.d`, each 0-255 in decimal without leading zeros.
    public static func parseIPv4<C: Collection>(_ text: C) -> UInt32? where C.Element == UInt8 {
        var value: UInt32 = 0
        var octets = 0
        var current: UInt32 = 0
        var digits = 0
        var leadingZero = false
        for byte in text {
            if byte >= 0x30 && byte <= 0x39 {
                if digits == 0 { leadingZero = byte == 0x30 } else if leadingZero { return nil }
                current = current * 10 + UInt32(byte - 0x30)
                digits += 1
                if digits > 3 || current > 255 { return nil }
            } else if byte == UInt8(ascii: ".") {
                guard digits > 0, octets < 3 else { return nil }
                value = value << 8 | current
                octets += 1
                current = 0
                digits = 0
            } else {
                return nil
            }
        }
        guard digits > 0, octets == 3 else { return nil }
        return value << 8 | current
    }

    /// Eight groups of 1-4 hex digits, `::` once for a run of zero groups, and an optional
    /// dotted IPv4 address in place of the last two groups. No zone (`%eth0`), no brackets.
    public static func parseIPv6<C: Collection>(_ text: C) -> (high: UInt64, low: UInt64)? where C.Element == UInt8 {
        let bytes = Array(text)
        guard bytes.count >= 2, bytes.count <= 45 else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var compressed = false
        var i = 0
        let colon = UInt8(ascii: ":")
        if bytes[0] == colon {
            guard bytes[1] == colon else { return nil }
            compressed = true
            i = 2
        }
        while i < bytes.count {
            var j = i
            var group: UInt32 = 0
            while j < bytes.count, j - i < 4, let digit = hexValue(bytes[j]) {
                group = group << 4 | UInt32(digit)
                j += 1
            }
            if j < bytes.count, bytes[j] == UInt8(ascii: ".") {
                // The dotted IPv4 tail: the rest of the text, worth two groups.
                guard let v4 = parseIPv4(bytes[i...]) else { return nil }
                let groups = [UInt16(v4 >> 16), UInt16(v4 & 0xFFFF)]
                if compressed { tail += groups } else { head += groups }
                i = bytes.count
                break
            }
            guard j > i else { return nil }
            if j < bytes.count, hexValue(bytes[j]) != nil { return nil }
            if compressed { tail.append(UInt16(group)) } else { head.append(UInt16(group)) }
            if head.count + tail.count > 8 { return nil }
            if j == bytes.count { i = j; break }
            guard bytes[j] == colon else { return nil }
            j += 1
            guard j < bytes.count else { return nil }
            if bytes[j] == colon {
                guard !compressed else { return nil }
                compressed = true
                j += 1
            }
            i = j
        }
        let count = head.count + tail.count
        if compressed { guard count <= 7 else { return nil } } else { guard count == 8 else { return nil } }
        let groups = head + [UInt16](repeating: 0, count: 8 - count) + tail
        var high: UInt64 = 0
        var low: UInt64 = 0
        for k in 0..<4 { high = high << 16 | UInt64(groups[k]) }
        for k in 4..<8 { low = low << 16 | UInt64(groups[k]) }
        return (high, low)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}
