/// One step of a `$request.body.PATH` lookup: an object member or an array element.
enum BodyPathComponent: Equatable, Sendable {
    /// Member name as UTF-8 bytes, compared against the message's (unescaped) member names.
    case key([UInt8])
    case index(Int)
}

/// A whole lookup path; empty means the message body itself.
typealias BodyPath = [BodyPathComponent]
