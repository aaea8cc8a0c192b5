import Foundation
import PetrelCrypto

/// What one run of `petrel-loadtest` does (DESIGN §10). Parsed by the executable, read by every
/// loop thread, never mutated once the run starts.
public enum Scenario: String, Sendable, CaseIterable {
    case connect, echo, hold, fanout, chat, http
}

/// How the fanout scenario delivers its posts.
public enum FanoutAuth: Sendable {
    case none
    case bearer(String)
    /// AWS Signature Version 4 (service `execute-api`), checked against `admin.auth.sigv4`.
    case sigv4(SigV4Signer)
}

public struct LoadTestOptions: Sendable {
    public var scenario: Scenario
    public var target: TargetURL
    /// Connections kept open (echo, hold, http, fanout) or sockets busy at once (connect).
    public var connections = 100
    public var durationNs: UInt64 = 10_000_000_000
    public var rampUpNs: UInt64 = 0
    public var warmupNs: UInt64 = 0
    /// Messages (echo, fanout), requests (http) or handshakes (connect) per second in total;
    /// nil: closed loop, as fast as the server answers.
    public var rate: Double?
    public var size = 32
    public var binary = false
    /// Messages (echo) or requests (http, the pipelining depth) in flight per connection, closed loop.
    public var inflight = 1
    public var threads = 1
    public var sourceAddresses: [String] = []
    public var verify = true
    public var insecure = false
    /// Handshake and connect timeout.
    public var timeoutNs: UInt64 = 10_000_000_000
    /// hold: each connection sends one message this often (0: idle).
    public var intervalNs: UInt64 = 0
    public var serverPid: Int32?
    public var jsonPath: String?
    public var htmlPath: String?
    public var maxErrorRate: Double?
    public var maxP99Us: Double?
    /// HTTP scenario: method, extra headers and body of each request.
    public var method = "GET"
    public var headers: [(String, String)] = []
    public var body = ""
    /// fanout: admin endpoint (`http://HOST:PORT[/stage]`), auth, optional group.
    public var adminURL: TargetURL?
    public var auth: FanoutAuth = .none
    public var group: String?
    /// chat: `rooms` × `usersPerRoom` connections (user g is in room g % rooms); each sends
    /// `{"action":ROUTE,"room":"rN","u":g,"q":seq,"t":ns,"data":"…"}` after joining with
    /// `{"action":"join","room":"rN"}` (answered with anything containing `"joined"`).
    public var rooms = 1
    public var usersPerRoom = 2
    public var route = "sendmessage"
    /// Maximum handshakes pending at once per thread while opening connections.
    public var maxPendingHandshakes = 200
    /// Progress lines: nil = decide from isatty(2).
    public var progressTTY: Bool?
    public var quiet = false

    public init(scenario: Scenario, target: TargetURL) {
        self.scenario = scenario
        self.target = target
    }

    /// True when messages are scheduled at a fixed rate and latency is measured from the intended
    /// send time (coordinated-omission correction).
    public var isOpenLoop: Bool { rate != nil && scenario != .connect }
}

/// Parsing of the human-friendly values the CLI accepts.
public enum ValueParser {
    /// `500ms`, `30s`, `10m`, `2h`, `1h30m`, `250us`, or a bare number of seconds.
    public static func durationNs(_ text: String) -> UInt64? {
        let s = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(s), seconds >= 0 { return UInt64(seconds * 1e9) }
        var total: Double = 0
        var number = ""
        var unit = ""
        var sawAny = false
        func commit() -> Bool {
            guard let n = Double(number) else { return false }
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: return false
            }
            total += n * scale
            number = ""; unit = ""; sawAny = true
            return true
        }
        for ch in s {
            if ch.isNumber || ch == "." {
                if !unit.isEmpty { guard commit() else { return nil } }
                number.append(ch)
            } else {
                guard !number.isEmpty else { return nil }
                unit.append(ch)
            }
        }
        if !number.isEmpty || !unit.isEmpty { guard commit() else { return nil } }
        return sawAny ? UInt64(total) : nil
    }

    /// `32`, `16k`, `1KiB`, `1m` (bytes).
    public static func size(_ text: String) -> Int? {
        let s = text.lowercased()
        let digits = s.prefix { $0.isNumber }
        guard let n = Int(digits) else { return nil }
        switch s.dropFirst(digits.count) {
        case "", "b": return n
        case "k", "kb", "kib": return n * 1024
        case "m", "mb", "mib": return n * 1024 * 1024
        default: return nil
        }
    }

    /// `1%`, `0.5%` or a fraction `0.01`.
    public static func fraction(_ text: String) -> Double? {
        if text.hasSuffix("%") { return Double(text.dropLast()).map { $0 / 100 } }
        return Double(text)
    }

    /// `127.0.0.1-127.0.0.20`, `10.0.0.1,10.0.0.2`, or one address.
    public static func sourceAddresses(_ text: String) -> [String]? {
        var out: [String] = []
        for part in text.split(separator: ",") {
            let range = part.split(separator: "-")
            if range.count == 2 {
                guard let a = ipv4(String(range[0])), let b = ipv4(String(range[1])), a <= b, b - a < 65536 else { return nil }
                for v in a...b { out.append("\(v >> 24 & 255).\(v >> 16 & 255).\(v >> 8 & 255).\(v & 255)") }
            } else if range.count == 1 {
                out.append(String(part))
            } else {
                return nil
            }
        }
        return out.isEmpty ? nil : out
    }

    static func ipv4(_ s: String) -> UInt32? {
        let parts = s.split(separator: ".")
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard let b = UInt8(p) else { return nil }
            v = v << 8 | UInt32(b)
        }
        return v
    }
}

