/// Request header fields in arrival order, with case-insensitive lookup (RFC 9110 §5.1).
///
/// A plain array: a request has a dozen fields, for which a linear scan beats hashing and keeps
/// the order that proxies must preserve.
public struct HTTPHeaders: Sendable {
    public var entries: [(name: String, value: String)]

    public init(_ entries: [(name: String, value: String)] = []) {
        self.entries = entries
    }

    /// The first value of the field `name`, or nil.
    public func first(_ name: String) -> String? {
        for entry in entries where Self.isNamed(entry.name, name) {
            return entry.value
        }
        return nil
    }

    /// Most lookups miss (a request has few of the fields asked about): names of another length
    /// are passed over without a call.
    @inline(__always)
    private static func isNamed(_ entryName: String, _ name: String) -> Bool {
        entryName.utf8.count == name.utf8.count && HTTPSyntax.equalsIgnoringASCIICase(entryName.utf8, name.utf8)
    }

    /// Every value of the field `name`, in order.
    public func all(_ name: String) -> [String] {
        entries.lazy.filter { Self.isNamed($0.name, name) }.map(\.value)
    }

    /// How many field lines named `name` the request had.
    public func count(_ name: String) -> Int {
        var count = 0
        for entry in entries where Self.isNamed(entry.name, name) {
            count += 1
        }
        return count
    }

    /// Comma-separated token list contains token (case-insensitive), e.g. Connection: keep-alive, Upgrade.
    /// Every field line of that name is searched, since a list may be split over lines (RFC 9110 §5.3).
    public func containsToken(_ name: String, _ token: String) -> Bool {
        for entry in entries where Self.isNamed(entry.name, name) {
            let found = HTTPSyntax.firstListElement(in: entry.value) { element in
                HTTPSyntax.equalsIgnoringASCIICase(element, token.utf8)
            }
            if found { return true }
        }
        return false
    }
}
