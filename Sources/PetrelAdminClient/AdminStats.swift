import PetrelCore

/// `petrel admin stats`: the dashboard snapshot as a few lines for a terminal. Totals since the
/// node started (rates need two snapshots; the dashboard page shows those).
public enum AdminStats {
    public static func summary(_ snapshot: [UInt8]) -> String? {
        guard let s = JSONValue.parse(snapshot), let node = s["node"] else { return nil }
        func number(_ value: JSONValue?) -> String {
            if case .number(_, let lexeme)? = value { return lexeme }
            return "-"
        }
        func ms(_ value: JSONValue?) -> String {
            guard case .number(let seconds, _)? = value else { return "-" }
            let tenths = Int((seconds * 10_000).rounded())
            return "\(tenths / 10).\(tenths % 10) ms"
        }
        let errors = s["errors"]
        var lines: [String] = []
        let ready = node["ready"] == .bool(true)
        lines.append("node               \(node["id"]?.stringValue ?? "?") (\(ready ? "ready" : "not ready"), registry \(node["registry"]?.stringValue ?? "?"))")
        lines.append("connections open   \(number(s["connectionsOpen"]))")
        lines.append("connects           \(number(s["connects"])) (disconnects \(number(s["disconnects"])))")
        lines.append("messages in / out  \(number(s["messagesIn"])) / \(number(s["messagesOut"]))")
        lines.append("@connections posts \(number(s["posts"]))")
        lines.append("errors             HTTP 4xx \(number(errors?["http4xx"])), 5xx \(number(errors?["http5xx"])), "
                     + "throttled \(number(errors?["throttled"])), rejected \(number(errors?["rejected"])), "
                     + "integration failures \(number(errors?["integrationFailures"])), registry \(number(errors?["registryErrors"]))")
        if case .array(let routes)? = s["routes"] {
            for route in routes {
                lines.append("route \(route["route"]?.stringValue ?? "?"): \(number(route["count"])) calls, "
                             + "p50 \(ms(route["p50"])), p90 \(ms(route["p90"])), p99 \(ms(route["p99"]))")
            }
        }
        if case .array(let nodes)? = s["nodes"], nodes.count > 1 {
            let described = nodes.map { "\($0["id"]?.stringValue ?? "?") \($0["status"]?.stringValue ?? "?")" }
            lines.append("cluster            " + described.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }
}
