/// Why a route-selection expression was rejected when the configuration was loaded.
public struct RouteSelectionParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The expression as written.
    public var expression: String
    /// UTF-8 byte offset into `expression` where the problem was found.
    public var offset: Int
    public var reason: String

    public init(expression: String, offset: Int, reason: String) {
        self.expression = expression
        self.offset = offset
        self.reason = reason
    }

    public var description: String {
        "route selection expression \"\(expression)\" at offset \(offset): \(reason)"
    }
}
