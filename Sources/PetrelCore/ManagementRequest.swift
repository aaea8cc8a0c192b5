/// The admin listener's requests, parsed from method and raw path (DESIGN §6). Pure, so every
/// path form boto3 and curl send is unit-tested without sockets.
public enum ManagementRequest: Equatable, Sendable {
    case postToConnection(id: String)
    case getConnection(id: String)
    case deleteConnection(id: String)
    case listConnections
    case joinGroup(id: String, group: String)
    case leaveGroup(id: String, group: String)
    case postToGroup(group: String)
    case getGroup(group: String)
    case healthz
    case readyz
    case metrics
    /// `GET /`: the dashboard page. Its data (`/dashboard/snapshot`, `/dashboard/events`) needs auth.
    case dashboard
    case dashboardSnapshot
    case dashboardEvents
    /// The path names a management resource but not with this method.
    case methodNotAllowed
    case notFound

    /// Health endpoints never need auth, so probes work without credentials.
    public var needsAuth: Bool {
        switch self {
        case .healthz, .readyz, .notFound, .dashboard: return false
        default: return true
        }
    }

    /// `rawPath` as on the wire; an optional leading `/{stage}` is accepted, `%40connections` is
    /// read as `@connections`, and ids and group names are percent-decoded (`%3D` → `=`).
    public static func parse(method: String, rawPath: String, stage: String) -> ManagementRequest {
        // Split as bytes: splitting the String itself walks grapheme clusters, per request.
        var segments = rawPath.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            .map { Substring($0) }.dropFirst()
        if segments.last == "" && segments.count > 1 { segments = segments.dropLast() }
        if let first = segments.first, stage != "$default", first == Substring(stage), segments.count > 1 {
            segments = segments.dropFirst()
        }
        let parts = Array(segments)
        func decoded(_ s: Substring) -> String? { PercentDecoding.decode(s) }
        guard let head = parts.first.flatMap(decoded) else { return .notFound }
        switch (head, parts.count) {
        case ("healthz", 1): return method == "GET" || method == "HEAD" ? .healthz : .methodNotAllowed
        case ("readyz", 1): return method == "GET" || method == "HEAD" ? .readyz : .methodNotAllowed
        case ("metrics", 1): return method == "GET" ? .metrics : .methodNotAllowed
        case ("", 1): return method == "GET" || method == "HEAD" ? .dashboard : .methodNotAllowed
        case ("dashboard", 2) where parts[1] == "snapshot": return method == "GET" ? .dashboardSnapshot : .methodNotAllowed
        case ("dashboard", 2) where parts[1] == "events": return method == "GET" ? .dashboardEvents : .methodNotAllowed
        case ("@connections", 1):
            return method == "GET" ? .listConnections : .methodNotAllowed
        case ("@connections", 2):
            guard let id = decoded(parts[1]) else { return .notFound }
            switch method {
            case "POST": return .postToConnection(id: id)
            case "GET": return .getConnection(id: id)
            case "DELETE": return .deleteConnection(id: id)
            default: return .methodNotAllowed
            }
        case ("@connections", 4) where parts[2] == "groups":
            guard let id = decoded(parts[1]), let group = decoded(parts[3]), !group.isEmpty else { return .notFound }
            switch method {
            case "PUT": return .joinGroup(id: id, group: group)
            case "DELETE": return .leaveGroup(id: id, group: group)
            default: return .methodNotAllowed
            }
        case ("@groups", 2):
            guard let group = decoded(parts[1]), !group.isEmpty else { return .notFound }
            switch method {
            case "POST": return .postToGroup(group: group)
            case "GET": return .getGroup(group: group)
            default: return .methodNotAllowed
            }
        default:
            return .notFound
        }
    }
}
