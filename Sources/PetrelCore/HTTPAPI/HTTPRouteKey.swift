/// An HTTP API route key (API Gateway HTTP API, "Working with routes"): `$default`, or
/// `METHOD /path` where METHOD is an HTTP method or `ANY`, and a path segment may be a whole
/// parameter `{name}` or, last only, a greedy parameter `{name+}` that takes the rest of the path.
public struct HTTPRouteKey: Sendable, Hashable, CustomStringConvertible {
    public enum Segment: Sendable, Hashable {
        case literal(String)
        case parameter(String)
        case greedy(String)
    }

    /// `nil` for `$default`.
    public let method: String?
    public let segments: [Segment]
    /// The key as written in the config (`routeKey` in events).
    public let text: String

    public var isDefault: Bool { method == nil }
    public var description: String { text }

    public static let methods: Set<String> = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY"]

    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    public init(parsing text: String) throws(ParseError) {
        self.text = text
        if text == "$default" {
            method = nil
            segments = []
            return
        }
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, Self.methods.contains(String(parts[0])) else {
            throw ParseError(description: "expected $default or METHOD /path with METHOD one of GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS, ANY")
        }
        let path = parts[1]
        guard path.hasPrefix("/") else { throw ParseError(description: "the path must start with /") }
        method = String(parts[0])
        var segments: [Segment] = []
        var names: Set<String> = []
        let raw = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        // `/` alone is the root route: no segments.
        let pieces = raw.count == 1 && raw[0].isEmpty ? [] : raw
        for (index, piece) in pieces.enumerated() {
            if piece.isEmpty { throw ParseError(description: "empty path segment (// or a trailing /)") }
            guard piece.contains("{") || piece.contains("}") else {
                segments.append(.literal(String(piece)))
                continue
            }
            guard piece.hasPrefix("{"), piece.hasSuffix("}"), piece.count > 2 else {
                throw ParseError(description: "a path parameter must be a whole segment, like /{id} or /{proxy+}")
            }
            var name = piece.dropFirst().dropLast()
            let greedy = name.hasSuffix("+")
            if greedy { name = name.dropLast() }
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else {
                throw ParseError(description: "parameter name \(piece) must be letters, digits, _, - or .")
            }
            guard names.insert(String(name)).inserted else {
                throw ParseError(description: "parameter {\(name)} appears twice")
            }
            if greedy {
                guard index == pieces.count - 1 else { throw ParseError(description: "a greedy parameter {name+} must be the last segment") }
                segments.append(.greedy(String(name)))
            } else {
                segments.append(.parameter(String(name)))
            }
        }
        self.segments = segments
    }

    /// The key's shape without parameter names: two keys with the same shape and method could
    /// never both be chosen (`GET /a/{x}` and `GET /a/{y}`), so a table refuses the second.
    public var shape: String {
        guard let method else { return "$default" }
        let path = segments.map { segment -> String in
            switch segment {
            case .literal(let text): return text
            case .parameter: return "{}"
            case .greedy: return "{+}"
            }
        }.joined(separator: "/")
        return method + " /" + path
    }
}
