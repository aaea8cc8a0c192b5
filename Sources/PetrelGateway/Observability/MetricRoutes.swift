import Synchronization

/// Numbers for route keys, so loops count per route with an array index instead of hashing a
/// string per message. Process-wide and append-only: a key keeps its number across SIGHUP
/// reloads, so counters never change meaning. Only settings builds and scrapes take the lock.
enum MetricRoutes {
    static let none = 0
    static let management = 1
    static let authorizer = 2
    private static let table = Mutex<(names: [String], numbers: [String: Int])>(
        (["(none)", "@connections", "(authorizer)"], ["(none)": 0, "@connections": 1, "(authorizer)": 2]))

    static func number(_ key: String) -> Int {
        table.withLock { t in
            if let n = t.numbers[key] { return n }
            t.names.append(key)
            t.numbers[key] = t.names.count - 1
            return t.names.count - 1
        }
    }

    static func names() -> [String] { table.withLock { $0.names } }

    /// Called by `GatewaySettings.init` on the routes it builds.
    static func number(_ routes: inout [String: GatewaySettings.WebSocketRoute]) {
        for key in routes.keys { routes[key]!.metricIndex = number(key) }
    }
}
