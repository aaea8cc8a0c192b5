import PetrelCore

/// Every metric Petrel exports, in one table (STYLE habit 10): the exposition at `/metrics` and
/// `docs/metrics.md` (`petrel metrics-doc`, checked by a unit test) are both made from it.
/// The first six names and their labels are fixed by DESIGN §9.
public enum Metric: Int, CaseIterable, Sendable {
    case connects, disconnects, connectionsOpen, messages, httpRequests, integrationDuration
    case tcpConnections, messageBytes, handshakes, integrationFailures, limitHits, managementRequests
    case accessLogLines, accessLogDropped, loopLag
    case registryOperations, registryDuration, redisConnected, redisReconnects
    case processResidentMemory, processCPU, processOpenFDs, processMaxFDs, processStartTime

    public enum Kind: String, Sendable { case counter, gauge, histogram }

    public struct Info: Sendable {
        public let name: String
        public let kind: Kind
        public let help: String
        public let labels: [String]
        /// Histograms: the upper bounds of the buckets, in seconds (`+Inf` is implied).
        public let buckets: [Double]
    }

    static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    static let lagBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]
    /// Redis answers in well under a millisecond on a healthy network; the tail shows trouble.
    static let registryBuckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]

    public var info: Info {
        func m(_ name: String, _ kind: Kind, _ labels: [String], _ help: String, buckets: [Double] = []) -> Info {
            Info(name: name, kind: kind, help: help, labels: labels, buckets: buckets)
        }
        switch self {
        case .connects:
            return m("petrel_connects_total", .counter, [], "WebSocket connections accepted (101 sent).")
        case .disconnects:
            return m("petrel_disconnects_total", .counter, ["reason"],
                     "Accepted WebSocket connections that ended, by the close code's reason (see the reason table).")
        case .connectionsOpen:
            return m("petrel_connections_open", .gauge, ["loop"], "Open WebSocket connections per event loop.")
        case .messages:
            return m("petrel_messages_total", .counter, ["direction", "route"],
                     "WebSocket data messages: in = received from clients (by selected route), out = sent to clients (by the route that produced them; @connections for management posts).")
        case .httpRequests:
            return m("petrel_http_requests_total", .counter, ["route", "status"],
                     "Plain HTTP requests on the public listener (not upgrades) by route key and response status.")
        case .integrationDuration:
            return m("petrel_integration_duration_seconds", .histogram, ["route"],
                     "Time from starting an asynchronous integration call to its answer, by route.", buckets: Self.latencyBuckets)
        case .tcpConnections:
            return m("petrel_tcp_connections", .gauge, ["loop"], "TCP connections per event loop (HTTP, WebSocket, closing, admin).")
        case .messageBytes:
            return m("petrel_message_bytes_total", .counter, ["direction", "route"], "WebSocket message payload bytes, like petrel_messages_total.")
        case .handshakes:
            return m("petrel_handshakes_total", .counter, ["status"], "WebSocket upgrade requests by the status answered (101 = accepted).")
        case .integrationFailures:
            return m("petrel_integration_failures_total", .counter, ["route", "kind"],
                     "Asynchronous integration calls that failed, by route and kind (timeout, unreachable, bad_response).")
        case .limitHits:
            return m("petrel_limit_hits_total", .counter, ["limit"],
                     "Requests, messages or connections rejected or closed because a limit was reached.")
        case .managementRequests:
            return m("petrel_management_requests_total", .counter, ["operation", "status"],
                     "Admin API calls (@connections, groups, health, metrics) by operation and response status.")
        case .accessLogLines:
            return m("petrel_access_log_lines_total", .counter, [], "Access-log lines handed to the writer thread.")
        case .accessLogDropped:
            return m("petrel_access_log_dropped_lines_total", .counter, [], "Access-log lines dropped because the writer fell behind.")
        case .loopLag:
            return m("petrel_event_loop_lag_seconds", .histogram, ["loop"],
                     "How late each loop's sweep timer fired compared with its interval.", buckets: Self.lagBuckets)
        case .registryOperations:
            return m("petrel_registry_operations_total", .counter, ["op", "result"],
                     "Calls to the Redis registry (only with registry.redis) by operation and result; errors are every result but ok.")
        case .registryDuration:
            return m("petrel_registry_duration_seconds", .histogram, ["op"],
                     "Time from sending a registry call to its answer (or its failure), by operation.", buckets: Self.registryBuckets)
        case .redisConnected:
            return m("petrel_redis_connected", .gauge, ["loop"],
                     "1 while the loop's Redis command connection is up (handshake done), else 0; absent without registry.redis.")
        case .redisReconnects:
            return m("petrel_redis_reconnects_total", .counter, [],
                     "Redis command connections made again after one was lost.")
        case .processResidentMemory:
            return m("petrel_process_resident_memory_bytes", .gauge, [], "Resident set size of the process.")
        case .processCPU:
            return m("petrel_process_cpu_seconds_total", .counter, [], "User and system CPU time of the process.")
        case .processOpenFDs:
            return m("petrel_process_open_fds", .gauge, [], "Open file descriptors.")
        case .processMaxFDs:
            return m("petrel_process_max_fds", .gauge, [], "The open-file limit (RLIMIT_NOFILE, soft).")
        case .processStartTime:
            return m("petrel_process_start_time_seconds", .gauge, [], "Process start time, seconds since the Unix epoch.")
        }
    }
}

/// `limit` label values of `petrel_limit_hits_total`, one per limit of DESIGN §3–4.
public enum LimitName: Int, CaseIterable, Sendable {
    case connectRate, maxPendingMessages, sendBufferBytes, maxMessageBytes, idleTimeout, maxConnectionDuration
    case handshakeTimeout, maxConnections, maxConnectionsPerIP, allowedOrigins, ipRules, maxHeaderBytes, maxBodyBytes

    public var label: String {
        switch self {
        case .connectRate: return "connect_rate"
        case .maxPendingMessages: return "max_pending_messages"
        case .sendBufferBytes: return "send_buffer_bytes"
        case .maxMessageBytes: return "max_message_bytes"
        case .idleTimeout: return "idle_timeout"
        case .maxConnectionDuration: return "max_connection_duration"
        case .handshakeTimeout: return "handshake_timeout"
        case .maxConnections: return "max_connections"
        case .maxConnectionsPerIP: return "max_connections_per_ip"
        case .allowedOrigins: return "allowed_origins"
        case .ipRules: return "ip_rules"
        case .maxHeaderBytes: return "max_header_bytes"
        case .maxBodyBytes: return "max_body_bytes"
        }
    }

    var meaning: String {
        switch self {
        case .connectRate: return "handshake answered 429 by the node-wide connect rate"
        case .maxPendingMessages: return "message answered `Too Many Requests` because too many wait behind an integration call"
        case .sendBufferBytes: return "connection closed 1008 because the client does not read"
        case .maxMessageBytes: return "connection closed 1009 for a message or frame over the size limits"
        case .idleTimeout: return "connection closed 1001 after no traffic for idle_timeout"
        case .maxConnectionDuration: return "connection closed 1001 at max_connection_duration"
        case .handshakeTimeout: return "HTTP connection closed because no complete request arrived in time (slow handshakes and idle keep-alive connections)"
        case .maxConnections: return "handshake answered 503 because the node holds max_connections WebSockets"
        case .maxConnectionsPerIP: return "handshake answered 503 because the client address holds max_connections_per_ip WebSockets"
        case .allowedOrigins: return "handshake answered 403 for an Origin not in allowed_origins"
        case .ipRules: return "connection closed at accept, or request answered 403, by a listener's allow_ips/deny_ips"
        case .maxHeaderBytes: return "request answered 431 (414 for the request line) over max_header_bytes"
        case .maxBodyBytes: return "request answered 413 for a body over the payload limit"
        }
    }
}

/// `reason` label values of `petrel_disconnects_total`, from the close code the connection
/// ended with (the same code `$disconnect` and the access log report).
public enum DisconnectReason: Int, CaseIterable, Sendable {
    case normal, goingAway, protocolError, unsupportedData, noStatus, abnormal, invalidPayload, policyViolation
    case messageTooBig, internalError, application, other

    public init(code: Int) {
        switch code {
        case 1000: self = .normal
        case 1001: self = .goingAway
        case 1002: self = .protocolError
        case 1003: self = .unsupportedData
        case 1005: self = .noStatus
        case 1006: self = .abnormal
        case 1007: self = .invalidPayload
        case 1008: self = .policyViolation
        case 1009: self = .messageTooBig
        case 1011: self = .internalError
        case 3000...4999: self = .application
        default: self = .other
        }
    }

    public var label: String {
        switch self {
        case .normal: return "normal"
        case .goingAway: return "going_away"
        case .protocolError: return "protocol_error"
        case .unsupportedData: return "unsupported_data"
        case .noStatus: return "no_status"
        case .abnormal: return "abnormal"
        case .invalidPayload: return "invalid_payload"
        case .policyViolation: return "policy_violation"
        case .messageTooBig: return "message_too_big"
        case .internalError: return "internal_error"
        case .application: return "application"
        case .other: return "other"
        }
    }

    var meaning: String {
        switch self {
        case .normal: return "1000, either side (also DELETE @connections without a code)"
        case .goingAway: return "1001: idle timeout, max duration, drain, or a client navigating away"
        case .protocolError: return "1002"
        case .unsupportedData: return "1003"
        case .noStatus: return "1005: a close frame without a code"
        case .abnormal: return "1006: TCP ended without a closing handshake"
        case .invalidPayload: return "1007: invalid UTF-8 in a text message"
        case .policyViolation: return "1008: e.g. the send buffer filled up"
        case .messageTooBig: return "1009"
        case .internalError: return "1011"
        case .application: return "3000–4999 (application codes, e.g. DELETE @connections?code=4000)"
        case .other: return "any other code"
        }
    }
}

/// `kind` label values of `petrel_integration_failures_total`.
enum IntegrationFailureKind: Int, CaseIterable {
    case timeout, unreachable, badResponse
    var label: String {
        switch self {
        case .timeout: return "timeout"
        case .unreachable: return "unreachable"
        case .badResponse: return "bad_response"
        }
    }
}

/// `operation` label values of `petrel_management_requests_total`.
enum ManagementOperation: Int, CaseIterable {
    case postToConnection, getConnection, deleteConnection, listConnections, joinGroup, leaveGroup, postToGroup
    case getGroup, healthz, readyz, metrics, methodNotAllowed, notFound
    case dashboard, dashboardSnapshot, dashboardEvents

    init(_ request: ManagementRequest) {
        switch request {
        case .postToConnection: self = .postToConnection
        case .getConnection: self = .getConnection
        case .deleteConnection: self = .deleteConnection
        case .listConnections: self = .listConnections
        case .joinGroup: self = .joinGroup
        case .leaveGroup: self = .leaveGroup
        case .postToGroup: self = .postToGroup
        case .getGroup: self = .getGroup
        case .healthz: self = .healthz
        case .readyz: self = .readyz
        case .metrics: self = .metrics
        case .dashboard: self = .dashboard
        case .dashboardSnapshot: self = .dashboardSnapshot
        case .dashboardEvents: self = .dashboardEvents
        case .methodNotAllowed: self = .methodNotAllowed
        case .notFound: self = .notFound
        }
    }

    var label: String {
        switch self {
        case .postToConnection: return "post_to_connection"
        case .getConnection: return "get_connection"
        case .deleteConnection: return "delete_connection"
        case .listConnections: return "list_connections"
        case .joinGroup: return "join_group"
        case .leaveGroup: return "leave_group"
        case .postToGroup: return "post_to_group"
        case .getGroup: return "get_group"
        case .healthz: return "healthz"
        case .readyz: return "readyz"
        case .metrics: return "metrics"
        case .methodNotAllowed: return "method_not_allowed"
        case .notFound: return "not_found"
        case .dashboard: return "dashboard"
        case .dashboardSnapshot: return "dashboard_snapshot"
        case .dashboardEvents: return "dashboard_events"
        }
    }
}
