import Foundation

/// A JSON value with ordered object keys, so `--json` output is stable for diffs and CI.
public indirect enum JSON {
    case object([(String, JSON)])
    case array([JSON])
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case null

    public func render(indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent + 1)
        let closePad = String(repeating: "  ", count: indent)
        switch self {
        case .object(let pairs):
            if pairs.isEmpty { return "{}" }
            return "{\n" + pairs.map { "\(pad)\(JSON.quote($0.0)): \($0.1.render(indent: indent + 1))" }.joined(separator: ",\n") + "\n\(closePad)}"
        case .array(let items):
            if items.isEmpty { return "[]" }
            // Series points on one line each: compact and still diffable.
            return "[\n" + items.map { pad + $0.renderCompact() }.joined(separator: ",\n") + "\n\(closePad)]"
        default:
            return renderCompact()
        }
    }

    public func renderCompact() -> String {
        switch self {
        case .object(let pairs): return "{" + pairs.map { "\(JSON.quote($0.0)):\($0.1.renderCompact())" }.joined(separator: ",") + "}"
        case .array(let items): return "[" + items.map { $0.renderCompact() }.joined(separator: ",") + "]"
        case .string(let s): return JSON.quote(s)
        case .int(let v): return String(v)
        case .double(let v): return v.isFinite ? JSON.number(v) : "null"
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }

    static func number(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
        return String(format: "%.3f", v).replacingOccurrences(of: #"\.?0+$"#, with: "", options: .regularExpression)
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

/// The final table, `--json` (DESIGN §10's fixed top level) and the `--html` report.
public enum Report {
    public static func params(_ o: LoadTestOptions) -> JSON {
        var p: [(String, JSON)] = [
            ("url", .string(o.target.description)),
            ("connections", .int(o.connections)),
            ("threads", .int(o.threads)),
            ("duration_s", .double(Double(o.durationNs) / 1e9)),
            ("ramp_up_s", .double(Double(o.rampUpNs) / 1e9)),
            ("warmup_s", .double(Double(o.warmupNs) / 1e9)),
            ("rate", o.rate.map { .double($0) } ?? .null),
            ("size", .int(o.size)),
            ("binary", .bool(o.binary)),
            ("inflight", .int(o.inflight)),
            ("verify", .bool(o.verify)),
            ("source_addrs", .int(max(1, o.sourceAddresses.count))),
            ("corrected_for_coordinated_omission", .bool(o.isOpenLoop)),
        ]
        if o.scenario == .hold { p.append(("interval_s", .double(Double(o.intervalNs) / 1e9))) }
        if o.scenario == .http {
            p.append(("method", .string(o.method)))
            p.append(("pipeline", .int(o.inflight)))
        }
        if o.scenario == .fanout {
            p.append(("admin_url", o.adminURL.map { .string($0.description) } ?? .null))
            p.append(("group", o.group.map { .string($0) } ?? .null))
            p.append(("auth", .string(authName(o.auth))))
        }
        if o.scenario == .chat {
            p.append(("rooms", .int(o.rooms)))
            p.append(("users_per_room", .int(o.usersPerRoom)))
            p.append(("route", .string(o.route)))
            p.append(("rate_per_user", o.rate.map { .double($0 / Double(max(1, o.connections))) } ?? .null))
        }
        if o.target.isTLS { p.append(("insecure", .bool(o.insecure))) }
        return .object(p)
    }

    public static func json(_ r: RunResult) -> JSON {
        let errors = r.errorsByKind.sorted { $0.key < $1.key }.map { ($0.key, JSON.int($0.value)) }
        var totals: [(String, JSON)] = [
            ("messages", .int(r.messages)),
            ("errors", .int(r.errors)),
            ("errors_by_kind", .object(errors)),
            ("error_rate", .double(r.errorRate)),
            ("sent", .int(r.sent)),
            ("connections_opened", .int(r.opened)),
            ("open_at_end", .int(r.openAtEnd)),
            ("max_open", .int(r.maxOpen)),
            ("in_flight_at_end", .int(r.inFlightAtEnd)),
            ("measured_s", .double(r.measuredSeconds)),
            ("client_cpu_pct", .double(r.clientCPUPercent.rounded())),
            ("client_cores", .int(r.clientCores)),
            ("file_limit", .int(r.fileLimit)),
        ]
        if r.options.scenario == .chat { totals.append(("deliveries_expected", .int(r.deliveriesExpected))) }
        if let v = r.serverCPUPercent { totals.append(("server_cpu_pct", .double(v.rounded()))) }
        if let v = r.serverRSSBeforeBytes { totals.append(("server_rss_before_bytes", .int(v))) }
        if let v = r.serverRSSHeldBytes { totals.append(("server_rss_held_bytes", .int(v))) }
        if let v = r.serverBytesPerConnection { totals.append(("server_bytes_per_connection", .int(v))) }
        totals.append(("warnings", .array(r.warnings.map { .string($0) })))
        let series = r.series.map { p -> JSON in
            .object([
                ("t", .double((p.t * 1000).rounded() / 1000)),
                ("phase", .string(p.phase)),
                ("messages", .int(p.messages)),
                ("throughput_per_s", .double(p.throughputPerS.rounded())),
                ("errors", .int(p.errors)),
                ("open", .int(p.open)),
                ("p50_us", .double(round1(p.p50Us))),
                ("p99_us", .double(round1(p.p99Us))),
                ("max_us", .double(round1(p.maxUs))),
            ])
        }
        return .object([
            ("scenario", .string(r.options.scenario.rawValue)),
            ("params", params(r.options)),
            ("totals", .object(totals)),
            ("latency_us", .object([
                ("p50", .double(round1(r.percentileUs(50)))),
                ("p90", .double(round1(r.percentileUs(90)))),
                ("p99", .double(round1(r.percentileUs(99)))),
                ("p999", .double(round1(r.percentileUs(99.9)))),
                ("max", .double(round1(r.maxUs))),
            ])),
            ("throughput_per_s", .double((r.throughputPerS * 10).rounded() / 10)),
            ("series", .array(series)),
        ])
    }

    static func authName(_ a: FanoutAuth) -> String {
        switch a {
        case .none: return "none"
        case .bearer: return "bearer"
        case .sigv4: return "sigv4"
        }
    }

    static func round1(_ v: Double) -> Double { (v * 10).rounded() / 10 }

    static func unitName(_ s: Scenario) -> String {
        switch s {
        case .connect: return "handshakes"
        case .http: return "requests"
        case .fanout, .chat: return "deliveries"
        default: return "messages"
        }
    }

    public static func formatUs(_ us: Double) -> String {
        if us >= 1_000_000 { return String(format: "%.2f s", us / 1_000_000) }
        if us >= 1000 { return String(format: "%.2f ms", us / 1000) }
        return String(format: "%.1f µs", us)
    }

    static func grouped(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, ch) in s.enumerated() {
            if i > 0, (s.count - i) % 3 == 0, ch != "-" { out.append(",") }
            out.append(ch)
        }
        return out
    }

    public static func table(_ r: RunResult) -> String {
        let o = r.options
        var lines: [String] = []
        var shape = "\(o.connections) connection\(o.connections == 1 ? "" : "s")"
        switch o.scenario {
        case .echo:
            shape += o.rate.map { String(format: ", open loop at %.0f msg/s", $0) } ?? ", \(o.inflight) in flight each"
            shape += ", \(o.size) B \(o.binary ? "binary" : "text")"
        case .http:
            shape += o.rate.map { String(format: ", open loop at %.0f req/s", $0) } ?? ", pipeline \(o.inflight)"
        case .hold:
            shape += o.intervalNs > 0 ? ", one \(o.size) B message every \(Double(o.intervalNs) / 1e9) s each" : ", idle"
        case .connect:
            shape = "\(o.connections) at once" + (o.rate.map { String(format: ", at most %.0f/s", $0) } ?? "")
        case .fanout:
            shape += o.rate.map { String(format: ", %.0f posts/s", $0) } ?? ", \(o.inflight) posts in flight"
        case .chat:
            shape = "\(o.rooms) room\(o.rooms == 1 ? "" : "s") × \(o.usersPerRoom) users"
                + String(format: ", %.0f msg/s in total (%.3g per user)", o.rate ?? 0, (o.rate ?? 0) / Double(max(1, o.connections)))
                + ", \(o.size) B data"
        }
        lines.append("petrel-loadtest \(o.scenario.rawValue) \(o.target)")
        lines.append("  \(shape); \(o.threads) thread\(o.threads == 1 ? "" : "s"); measured \(String(format: "%.1f", r.measuredSeconds)) s")
        lines.append("")
        let unit = unitName(o.scenario)
        lines.append(pad("  \(unit)", 16) + pad(grouped(r.messages), 14) + String(format: "%12.1f /s", r.throughputPerS))
        if o.scenario != .connect {
            lines.append(pad("  connections", 16) + pad(grouped(r.openAtEnd), 14) + "open at end (max \(r.maxOpen), \(grouped(r.opened)) opened)")
        }
        if o.scenario == .chat {
            lines.append(pad("  expected", 16) + pad(grouped(r.deliveriesExpected), 14) + "deliveries (\(grouped(r.sent)) sent × \(o.usersPerRoom - 1) other members)")
        }
        lines.append(pad("  errors", 16) + pad(grouped(r.errors), 14) + String(format: "%11.3f %%", r.errorRate * 100))
        for (k, v) in r.errorsByKind.sorted(by: { $0.value > $1.value }) {
            lines.append(pad("    \(k)", 16) + grouped(v))
        }
        lines.append("")
        let latencyName = o.scenario == .connect ? "handshake latency" : (o.isOpenLoop ? "latency (from intended send time)" : "latency")
        lines.append("  \(latencyName)")
        lines.append("    " + ["p50", "p90", "p99", "p99.9", "max"].map { pad($0, 12) }.joined())
        let values = [r.percentileUs(50), r.percentileUs(90), r.percentileUs(99), r.percentileUs(99.9), r.maxUs]
        lines.append("    " + values.map { pad(formatUs($0), 12) }.joined())
        lines.append("")
        var cpu = String(format: "  client CPU %.0f%% of %d core%@", r.clientCPUPercent, r.clientCores, r.clientCores == 1 ? "" : "s")
        if let s = r.serverCPUPercent { cpu += String(format: "; server CPU %.0f%% (100 = one core)", s) }
        lines.append(cpu)
        if let b = r.serverBytesPerConnection {
            lines.append("  server RSS \(grouped((r.serverRSSHeldBytes ?? 0) / 1024)) KiB held, \(grouped(b)) B per connection")
        }
        for w in r.warnings { lines.append("  warning: \(w)") }
        return lines.joined(separator: "\n") + "\n"
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
