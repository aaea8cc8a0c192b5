import PetrelConfig
import PetrelRedis

/// A histogram's state: per-bucket counts (not cumulative; the last slot is `+Inf`), the sum in
/// seconds and the count. Loops keep theirs in nanoseconds and convert when they snapshot.
public struct HistogramValue: Sendable, Equatable {
    public var buckets: [Int]
    public var sum: Double
    public var count: Int

    public init(bucketCount: Int) {
        buckets = [Int](repeating: 0, count: bucketCount + 1)
        sum = 0
        count = 0
    }

    public init(buckets: [Int], sum: Double, count: Int) {
        self.buckets = buckets
        self.sum = sum
        self.count = count
    }

    /// Counts one observation into the bucket of the first bound it does not exceed.
    mutating func record(_ seconds: Double, bounds: [Double]) {
        buckets[bounds.firstIndex { seconds <= $0 } ?? bounds.count] += 1
        sum += seconds
        count += 1
    }

    mutating func merge(_ other: HistogramValue) {
        if buckets.count < other.buckets.count {
            buckets += [Int](repeating: 0, count: other.buckets.count - buckets.count)
        }
        for (i, n) in other.buckets.enumerated() { buckets[i] += n }
        sum += other.sum
        count += other.count
    }
}

public enum SampleValue: Sendable, Equatable {
    case scalar(Double)
    case histogram(HistogramValue)
}

/// Samples of every metric by label values: what one loop reports for a scrape, and what the
/// scrape renders once every loop's set is merged (counters and gauges add up; loop-labelled
/// gauges never collide).
public struct MetricSet: Sendable {
    public private(set) var values: [Metric: [[String]: SampleValue]] = [:]

    public init() {}

    public mutating func add(_ metric: Metric, _ labels: [String] = [], _ value: Double) {
        precondition(labels.count == metric.info.labels.count, "\(metric.info.name): label count")
        switch values[metric, default: [:]][labels] {
        case .scalar(let old)?: values[metric, default: [:]][labels] = .scalar(old + value)
        default: values[metric, default: [:]][labels] = .scalar(value)
        }
    }

    public mutating func add(_ metric: Metric, _ labels: [String] = [], _ value: Int) {
        add(metric, labels, Double(value))
    }

    public mutating func add(_ metric: Metric, _ labels: [String] = [], histogram: HistogramValue) {
        precondition(labels.count == metric.info.labels.count, "\(metric.info.name): label count")
        if case .histogram(var old)? = values[metric, default: [:]][labels] {
            old.merge(histogram)
            values[metric, default: [:]][labels] = .histogram(old)
        } else {
            values[metric, default: [:]][labels] = .histogram(histogram)
        }
    }

    public mutating func merge(_ other: MetricSet) {
        for (metric, samples) in other.values {
            for (labels, value) in samples {
                switch value {
                case .scalar(let v): add(metric, labels, v)
                case .histogram(let h): add(metric, labels, histogram: h)
                }
            }
        }
    }
}

/// The Prometheus text exposition format, version 0.0.4, written by hand: families in the
/// table's order, samples sorted by label values, so two scrapes of the same state are equal.
public enum PrometheusText {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(_ set: MetricSet) -> String {
        var out = ""
        out.reserveCapacity(8192)
        for metric in Metric.allCases {
            let info = metric.info
            out += "# HELP \(info.name) \(escapeHelp(info.help))\n# TYPE \(info.name) \(info.kind.rawValue)\n"
            guard let samples = set.values[metric] else { continue }
            for labels in samples.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                switch samples[labels]! {
                case .scalar(let v):
                    out += info.name + labelText(info.labels, labels) + " " + number(v) + "\n"
                case .histogram(let h):
                    var cumulative = 0
                    for (i, bound) in info.buckets.enumerated() {
                        cumulative += i < h.buckets.count ? h.buckets[i] : 0
                        out += info.name + "_bucket" + labelText(info.labels + ["le"], labels + [number(bound)]) + " \(cumulative)\n"
                    }
                    out += info.name + "_bucket" + labelText(info.labels + ["le"], labels + ["+Inf"]) + " \(h.count)\n"
                    out += info.name + "_sum" + labelText(info.labels, labels) + " " + number(h.sum) + "\n"
                    out += info.name + "_count" + labelText(info.labels, labels) + " \(h.count)\n"
                }
            }
        }
        return out
    }

    static func labelText(_ names: [String], _ values: [String]) -> String {
        guard !names.isEmpty else { return "" }
        var out = "{"
        for (i, name) in names.enumerated() {
            if i > 0 { out += "," }
            out += name + "=\"" + escapeLabelValue(values[i]) + "\""
        }
        return out + "}"
    }

    /// Label values: backslash, double quote and line feed are escaped.
    public static func escapeLabelValue(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 0x5C || $0 == 0x22 || $0 == 0x0A }) else { return s }
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// HELP text: backslash and line feed are escaped (quotes stay as they are).
    public static func escapeHelp(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Integers without a fraction, others as Swift's shortest round-trip text; `+Inf`, `-Inf`, `NaN`.
    public static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return v.description
    }
}

/// `docs/metrics.md`, generated from the table (`petrel metrics-doc > docs/metrics.md`).
public enum MetricsDoc {
    public static func markdown() -> String {
        var out = """
        # Metrics

        <!-- Generated by `petrel metrics-doc > docs/metrics.md` from Sources/PetrelGateway/Observability/MetricCatalog.swift; a unit test fails when they differ. -->

        `GET /metrics` on the admin listener answers in the Prometheus text exposition format
        (version 0.0.4). It needs the admin auth (bearer token or SigV4) unless
        `listeners.admin.auth.public_metrics: true`. The first six names are fixed by DESIGN §9.

        How it is counted: every event loop owns its counters as plain `Int`s (no atomics, no
        locks on the message path); per-route counters are an array indexed by a number given to
        each route key when the configuration is built. A scrape asks every loop for a snapshot
        through its mailbox, merges them on the admin loop and renders the text there. This is why
        Petrel does not use swift-metrics with swift-prometheus: their counters are shared objects
        updated under a lock (or atomics) on every increment, which would sit on the echo path
        measured in docs/benchmarks.md. Route label values are route keys; `(none)` counts messages
        that matched no route, `@connections` counts messages posted through the management API.
        Counters keep their values across SIGHUP reloads (route numbers are stable per key).


        """
        out += "| name | type | labels | help |\n|---|---|---|---|\n"
        for metric in Metric.allCases {
            let info = metric.info
            var help = info.help.replacingPipes()
            if info.kind == .histogram {
                help += " Buckets (s): " + info.buckets.map(PrometheusText.number).joined(separator: ", ") + "."
            }
            out += "| `\(info.name)` | \(info.kind.rawValue) | \(info.labels.map { "`\($0)`" }.joined(separator: ", ")) | \(help) |\n"
        }
        out += "\n## `limit` values of `petrel_limit_hits_total`\n\n| limit | counted when |\n|---|---|\n"
        for limit in LimitName.allCases { out += "| `\(limit.label)` | \(limit.meaning) |\n" }
        out += "\n## `reason` values of `petrel_disconnects_total`\n\n| reason | close code |\n|---|---|\n"
        for reason in DisconnectReason.allCases { out += "| `\(reason.label)` | \(reason.meaning) |\n" }
        out += "\n## `kind` values of `petrel_integration_failures_total`\n\n"
        out += IntegrationFailureKind.allCases.map { "`\($0.label)`" }.joined(separator: ", ") + ".\n"
        out += "\n## `operation` values of `petrel_management_requests_total`\n\n"
        out += ManagementOperation.allCases.map { "`\($0.label)`" }.joined(separator: ", ") + ".\n"
        out += "\n## `op` and `result` values of `petrel_registry_operations_total`\n\n"
        out += "op: " + RegistryOperation.allCases.map { "`\($0.label)`" }.joined(separator: ", ") + " (`heartbeat` and `publish` are the "
            + "cluster agent's node heartbeat and forwarded calls). result: "
            + RegistryOutcome.allCases.map { "`\($0.label)`" }.joined(separator: ", ") + " (`error` = Redis answered with an error, "
            + "`unavailable` = no connection at the time).\n"
        out += """

        # Access log

        `access_log: {path: stdout | stderr | FILE, sample_rate: 0..1, fields: [...]}`: one JSON line per
        plain HTTP request (`eventType` `HTTP`), WebSocket handshake (`CONNECT`, also when refused),
        sampled message (`MESSAGE`; `sample_rate` defaults to 0, so none) and disconnect
        (`DISCONNECT`). Names are API Gateway's `$context` variables. Loops buffer lines and a
        writer thread writes them, so a slow disk or a full stdout pipe never blocks a loop; when
        more than 8 MiB wait, lines are dropped and counted in
        `petrel_access_log_dropped_lines_total`. Lines reach the destination within one sweep
        interval (at most 1 s). A file is reopened on SIGHUP (for logrotate). A field with no value
        for that kind of line is left out; `null` means unknown.

        | field | meaning |
        |---|---|

        """
        for field in AccessLogField.allCases { out += "| `\(field.rawValue)` | \(field.meaning) |\n" }
        out += """

        # Tracing

        W3C Trace Context: a valid `traceparent` (and its `tracestate`) on a handshake or HTTP
        request is kept; without one the gateway makes a trace id from its random id generator.
        Every HTTP integration call and `http` authorizer call gets `traceparent` with the same
        trace id, the sampled flag as received, and a new span id per call (the client's span is
        the parent), plus `tracestate` when the client sent one. The access log's `traceparent` is
        the connection's (or request's) context. Messages of one WebSocket share its trace id.

        """
        return out
    }
}

extension AccessLogField {
    var meaning: String {
        switch self {
        case .requestId: return "id of this request or event (messages: the id their integration event carries)"
        case .requestTime: return "CLF time, as API Gateway's `requestTime`"
        case .requestTimeEpoch: return "epoch milliseconds"
        case .eventType: return "`HTTP`, `CONNECT`, `MESSAGE` or `DISCONNECT`"
        case .routeKey: return "the route: `$connect`, `$default`, a selected key, `$disconnect`, or an HTTP route key"
        case .connectionId: return "the WebSocket's id (as in `@connections`)"
        case .messageId: return "MESSAGE lines"
        case .status: return "HTTP status; 101 for an accepted handshake; for messages the integration's status (200 for echo/none, 502/504 on failure)"
        case .integrationLatency: return "ms spent in an asynchronous integration call (`$connect` on CONNECT lines, the message's call on MESSAGE lines)"
        case .responseLatency: return "ms from the request (or message) to the answer"
        case .sourceIp: return "client address"
        case .userAgent: return "client `User-Agent`"
        case .httpMethod: return "HTTP lines"
        case .path: return "HTTP lines: the request path"
        case .disconnectStatusCode: return "DISCONNECT lines: the close code (1006 when TCP ended without one)"
        case .disconnectReason: return "DISCONNECT lines: the close reason"
        case .errorMessage: return "why a request failed (the error body's message, or the reason phrase)"
        case .traceparent: return "W3C trace context of the connection or request"
        }
    }
}

private extension String {
    func replacingPipes() -> String {
        var out = ""
        for c in self { if c == "|" { out += "\\|" } else { out.append(c) } }
        return out
    }
}
