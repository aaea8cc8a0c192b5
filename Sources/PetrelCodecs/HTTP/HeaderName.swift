/// Header names compared with a lowercase literal in place (the HTTP client's and the proxy's
/// per-request checks): a request has a few names to look for, and a set of
/// lowercased copies would cost a hash and an allocation per header.
public enum HeaderName {
    /// `name` equals `lower` (lowercase ASCII) ignoring ASCII case.
    public static func `is`(_ name: String, _ lower: StaticString) -> Bool {
        guard name.utf8.count == lower.utf8CodeUnitCount else { return false }
        var i = 0
        for byte in name.utf8 {
            if HTTPSyntax.lowercased(byte) != lower.utf8Start[i] { return false }
            i += 1
        }
        return true
    }
}
