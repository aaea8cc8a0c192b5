/// A text with `${context.NAME}` placeholders, parsed once at config load so rendering is a
/// concatenation. Unknown names are kept literally, as API Gateway leaves them.
public struct ContextTemplate: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        case literal([UInt8])
        case connectionId, requestId, routeKey, stage
    }

    let parts: [Part]

    public init(_ text: String) {
        var parts: [Part] = []
        var literal: [UInt8] = []
        let bytes = Array(text.utf8)
        var i = 0
        let names: [(String, Part)] = [("connectionId", .connectionId), ("requestId", .requestId),
                                        ("routeKey", .routeKey), ("stage", .stage)]
        outer: while i < bytes.count {
            if bytes[i] == UInt8(ascii: "$"), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "{") {
                for (name, part) in names {
                    let token = Array("${context.\(name)}".utf8)
                    if bytes.count - i >= token.count, Array(bytes[i..<i + token.count]) == token {
                        if !literal.isEmpty { parts.append(.literal(literal)); literal = [] }
                        parts.append(part)
                        i += token.count
                        continue outer
                    }
                }
            }
            literal.append(bytes[i])
            i += 1
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    /// The text when it has no placeholder (the same for every request), else nil.
    public var fixedBytes: [UInt8]? {
        if parts.isEmpty { return [] }
        if parts.count == 1, case .literal(let bytes) = parts[0] { return bytes }
        return nil
    }

    public func render(connectionId: ConnectionID, requestId: RequestID, routeKey: String, stage: String) -> [UInt8] {
        // Most mock bodies have no placeholder: the stored bytes are shared, not copied.
        if parts.count == 1, case .literal(let bytes) = parts[0] { return bytes }
        var out: [UInt8] = []
        for part in parts {
            switch part {
            case .literal(let bytes): out.append(contentsOf: bytes)
            case .connectionId: out.append(contentsOf: connectionId.description.utf8)
            case .requestId: out.append(contentsOf: requestId.description.utf8)
            case .routeKey: out.append(contentsOf: routeKey.utf8)
            case .stage: out.append(contentsOf: stage.utf8)
            }
        }
        return out
    }
}
