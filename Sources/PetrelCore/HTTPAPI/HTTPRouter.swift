/// The HTTP API route table: built once from route keys, validated (a second key of the same
/// shape is refused), then frozen; a reload builds a new one and swaps it in whole.
///
/// Selection follows API Gateway's HTTP APIs: segment by segment, a literal beats a parameter,
/// which beats a greedy parameter; at the chosen path the exact method beats `ANY` (and `HEAD`
/// falls back to `GET`); when the most specific path has no route for the method, the next
/// less specific path is tried; `$default` takes what nothing else matched. There is no 405:
/// API Gateway answers 404 for a path whose routes do not take the method.
///
/// Matching walks the raw path's bytes with offsets and allocates nothing unless the route has
/// parameters (their byte ranges are returned, not Strings). The router knows routes by their
/// position in the keys it was built from; the caller keeps what each route does in an array of
/// its own, so no generic code runs per request.
public struct HTTPRouter: Sendable {
    /// One selected route: its position in the keys, and parameter values as byte ranges of the path.
    public struct Match {
        public let route: Int
        /// Name and UTF-8 byte range in the matched path, in key order.
        public let parameters: [(name: String, range: Range<Int>)]

        /// Parameter values as raw (still percent-encoded) text.
        public func rawParameters(in path: String) -> [(name: String, value: String)] {
            let bytes = Array(path.utf8)
            return parameters.map { ($0.name, String(decoding: bytes[$0.range], as: UTF8.self)) }
        }
    }

    public struct BuildError: Error, Sendable, Equatable, CustomStringConvertible {
        public let key: String
        public let reason: String
        public var description: String { "\(key): \(reason)" }
    }

    private struct Node: Sendable {
        var literals: [(bytes: [UInt8], node: Int)] = []
        var parameter: Int?
        /// Routes ending at this node, by method (`ANY` included).
        var methods: [(method: String, route: Int)] = []
        /// Routes whose greedy parameter starts below this node, by method.
        var greedy: [(method: String, route: Int)] = []
    }

    private var nodes: [Node] = [Node()]
    /// The keys the router was built from, in that order.
    public private(set) var keys: [HTTPRouteKey] = []
    private var parameterNames: [[String]] = []
    private var defaultRoute: Int?

    public var count: Int { keys.count }

    public init(_ keys: [HTTPRouteKey]) throws(BuildError) {
        var shapes: Set<String> = []
        for key in keys {
            guard shapes.insert(key.shape).inserted else {
                throw BuildError(key: key.text, reason: "another route has the same method and path (only parameter names differ)")
            }
            let index = self.keys.count
            var names: [String] = []
            for segment in key.segments {
                switch segment {
                case .parameter(let name), .greedy(let name): names.append(name)
                case .literal: break
                }
            }
            self.keys.append(key)
            parameterNames.append(names)
            guard let method = key.method else {
                defaultRoute = index
                continue
            }
            var node = 0
            for segment in key.segments {
                switch segment {
                case .literal(let text):
                    let bytes = Array(text.utf8)
                    if let child = nodes[node].literals.first(where: { $0.bytes == bytes })?.node {
                        node = child
                    } else {
                        nodes.append(Node())
                        nodes[node].literals.append((bytes, nodes.count - 1))
                        node = nodes.count - 1
                    }
                case .parameter:
                    if let child = nodes[node].parameter {
                        node = child
                    } else {
                        nodes.append(Node())
                        nodes[node].parameter = nodes.count - 1
                        node = nodes.count - 1
                    }
                case .greedy:
                    nodes[node].greedy.append((method, index))
                }
            }
            if case .greedy = key.segments.last {} else {
                nodes[node].methods.append((method, index))
            }
        }
    }

    /// The route for `method` and `path` (the raw path, stage removed, without query), or nil
    /// (404).
    public func match(method: String, path: String) -> Match? {
        var path = path
        return path.withUTF8 { bytes -> Match? in
            var captures: [Range<Int>] = []
            let start = bytes.first == UInt8(ascii: "/") ? 1 : 0
            if let route = walk(node: 0, bytes: bytes, position: start, method: method, captures: &captures) {
                return Match(route: route, parameters: captures.isEmpty ? [] : zip(parameterNames[route], captures).map { ($0, $1) })
            }
            guard let defaultRoute else { return nil }
            return Match(route: defaultRoute, parameters: [])
        }
    }

    private func walk(node index: Int, bytes: UnsafeBufferPointer<UInt8>, position: Int, method: String,
                      captures: inout [Range<Int>]) -> Int? {
        if position >= bytes.count {
            // The path ended here (`/` alone ends at the root).
            return Self.select(nodes[index].methods, method)
        }
        var end = position
        while end < bytes.count && bytes[end] != UInt8(ascii: "/") { end += 1 }
        let next = end < bytes.count ? end + 1 : end
        // `/a/` has an empty last segment: only a greedy parameter takes it.
        let atEnd = end >= bytes.count
        if end > position {
            for literal in nodes[index].literals where literal.bytes.count == end - position {
                if Self.equal(literal.bytes, bytes, position) {
                    if let found = walkOn(literal.node, bytes, next, atEnd: atEnd, end: end, method, &captures) { return found }
                    break
                }
            }
            if let parameter = nodes[index].parameter {
                captures.append(position..<end)
                if let found = walkOn(parameter, bytes, next, atEnd: atEnd, end: end, method, &captures) { return found }
                captures.removeLast()
            }
        }
        if !nodes[index].greedy.isEmpty, let route = Self.select(nodes[index].greedy, method) {
            captures.append(position..<bytes.count)
            return route
        }
        return nil
    }

    @inline(__always)
    private func walkOn(_ node: Int, _ bytes: UnsafeBufferPointer<UInt8>, _ next: Int, atEnd: Bool, end: Int, _ method: String,
                        _ captures: inout [Range<Int>]) -> Int? {
        if atEnd { return Self.select(nodes[node].methods, method) }
        // A trailing `/` leaves an empty last segment, which no literal or parameter takes (and a
        // greedy parameter needs at least one byte).
        if next >= bytes.count { return nil }
        return walk(node: node, bytes: bytes, position: next, method: method, captures: &captures)
    }

    @inline(__always)
    private static func select(_ candidates: [(method: String, route: Int)], _ method: String) -> Int? {
        if candidates.isEmpty { return nil }
        var any: Int?
        var get: Int?
        for candidate in candidates {
            if candidate.method == method { return candidate.route }
            if candidate.method == "ANY" { any = candidate.route }
            if candidate.method == "GET" { get = candidate.route }
        }
        return any ?? (method == "HEAD" ? get : nil)
    }

    @inline(__always)
    private static func equal(_ literal: [UInt8], _ bytes: UnsafeBufferPointer<UInt8>, _ position: Int) -> Bool {
        var i = 0
        while i < literal.count {
            if literal[i] != bytes[position + i] { return false }
            i += 1
        }
        return true
    }
}
