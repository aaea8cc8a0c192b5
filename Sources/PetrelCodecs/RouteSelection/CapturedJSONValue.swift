/// Where a looked-up value sits inside the message, and what kind of JSON text it is, so that it
/// can be turned into the route key after the whole message proved valid.
struct CapturedJSONValue {
    enum Kind {
        /// `range` covers the characters between the quotes.
        case string(hasEscapes: Bool)
        /// A number, `true`, `false` or `null`: its text is the value.
        case literal
        /// An object or an array, as written (whitespace included).
        case container
    }

    static let missing = CapturedJSONValue(range: 0..<0, kind: nil)

    var range: Range<Int>
    /// `nil` when the path matched nothing.
    var kind: Kind?
}
