/// Header names compared in place: a request has a few names to look for, and a set of
/// lowercased copies would cost a hash and an allocation per header.
public enum HeaderName {
    /// `name` equals `lower` (lowercase ASCII) ignoring ASCII case.
    public static func `is`(_ name: String, _ lower: StaticString) -> Bool {
        guard name.utf8.count == lower.utf8CodeUnitCount else { return false }
        var i = 0
        for byte in name.utf8 {
            let folded: UInt8 = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
            if folded != lower.utf8Start[i] { return false }
            i += 1
        }
        return true
    }
}
