/// base64url without padding (RFC 4648 §5, as JWS uses it: RFC 7515 §2 and Appendix C).
///
/// Decoding is strict: only `A-Z a-z 0-9 - _`, no `=` padding, no whitespace, no length that
/// leaves a single trailing character, and the unused bits of the last character must be zero,
/// so every byte string has exactly one accepted encoding (no signature-preserving variants).
public enum Base64URL {
    private static let table: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8.enumerated() {
            t[Int(c)] = UInt8(i)
        }
        return t
    }()

    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// The decoded bytes, or `nil` when `text` is not canonical unpadded base64url.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        if let r = text.utf8.withContiguousStorageIfAvailable({ decode($0) }) { return r }
        return Array(text.utf8).withUnsafeBufferPointer { decode($0) }
    }

    /// The decoded bytes, or `nil` when `input` is not canonical unpadded base64url.
    public static func decode(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let n = input.count
        if n % 4 == 1 { return nil }
        var out = [UInt8]()
        out.reserveCapacity(n / 4 * 3 + 2)
        var i = 0
        while i + 4 <= n {
            let a = table[Int(input[i])], b = table[Int(input[i + 1])]
            let c = table[Int(input[i + 2])], d = table[Int(input[i + 3])]
            if (a | b | c | d) > 63 { return nil }  // 0xFF marks an invalid character
            out.append(a << 2 | b >> 4)
            out.append(b << 4 | c >> 2)
            out.append(c << 6 | d)
            i += 4
        }
        switch n - i {
        case 0:
            break
        case 2:
            let a = table[Int(input[i])], b = table[Int(input[i + 1])]
            if (a | b) > 63 || b & 0x0F != 0 { return nil }
            out.append(a << 2 | b >> 4)
        case 3:
            let a = table[Int(input[i])], b = table[Int(input[i + 1])], c = table[Int(input[i + 2])]
            if (a | b | c) > 63 || c & 0x03 != 0 { return nil }
            out.append(a << 2 | b >> 4)
            out.append(b << 4 | c >> 2)
        default:
            return nil
        }
        return out
    }

    /// Unpadded base64url of `bytes`.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(alphabet[Int(v >> 6 & 63)])
            out.append(alphabet[Int(v & 63)])
            i += 3
        }
        switch bytes.count - i {
        case 1:
            let v = UInt32(bytes[i]) << 16
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
        case 2:
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(alphabet[Int(v >> 6 & 63)])
        default:
            break
        }
        return String(decoding: out, as: UTF8.self)
    }
}
