import ArgumentParser
import Foundation
import Glibc
import PetrelCrypto
import PetrelLoadTestKit

struct LoadTestCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "petrel-loadtest",
        abstract: "Drive a running WebSocket/HTTP gateway and measure it (DESIGN §10).",
        discussion: """
        Scenarios: connect (handshake storm), echo (round trips, closed loop or --rate), hold (idle \
        or telemetry connections), fanout (posts through @connections, measured to the receiving \
        client), chat (R rooms × U users; each message goes through a route to a backend that \
        broadcasts it to the room; measured to every other member), http (requests on an HTTP route).
        Examples:
          petrel-loadtest echo -c 1000 -k 4 -d 30s ws://127.0.0.1:8080/
          petrel-loadtest echo -c 1000 --rate 50000 --json out.json ws://127.0.0.1:8080/
          petrel-loadtest connect -c 200 -d 10s ws://127.0.0.1:8080/
          petrel-loadtest hold -c 50000 --source-addrs 127.0.0.1-127.0.0.4 -d 60s --server-pid 1234 ws://127.0.0.1:8080/
          petrel-loadtest chat --rooms 50 --users-per-room 20 --rate 2000 -d 30s ws://127.0.0.1:8080/
          petrel-loadtest http -c 64 --pipeline 4 http://127.0.0.1:8080/health
          petrel-loadtest fanout -c 1000 --rate 10000 --admin-url http://127.0.0.1:9090 --token T ws://127.0.0.1:8080/
          petrel-loadtest fanout -c 100 --admin-url http://127.0.0.1:9090/prod --access-key AKID --secret-key S ws://127.0.0.1:8080/
        Exit code: 0, or 1 when --max-error-rate or --max-p99 fails, 2 for bad usage.
        """)

    @Argument(help: "connect | echo | hold | fanout | chat | http") var scenario: String
    @Argument(help: "ws://, wss://, http:// or https:// URL of the target") var url: String

    @Option(name: [.short, .long], help: "Connections (connect: sockets busy at once).") var connections = 100
    @Option(name: [.short, .long], help: "Measured duration (500ms, 30s, 2m).") var duration = "10s"
    @Option(name: .customLong("ramp-up"), help: "Spread opening the connections over this time; traffic starts as each opens.") var rampUp = "0s"
    @Option(name: [.short, .long], help: "Traffic before the measured window, not counted.") var warmup = "0s"
    @Option(name: [.short, .long], help: "Fixed total rate per second (open loop, latency corrected for coordinated omission). Default: closed loop (chat: 1 message/s per user).") var rate: Double?
    @Option(name: [.short, .long], help: "Message size in bytes (16k accepted).") var size = "32"
    @Flag(name: .long, help: "Binary messages (default: text).") var binary = false
    @Option(name: [.customShort("k"), .long], help: "Messages in flight per connection (closed loop).") var inflight = 1
    @Option(name: .long, help: "HTTP requests in flight per connection (pipelining); same as --inflight.") var pipeline: Int?
    @Option(name: [.short, .long], help: "Event-loop threads.") var threads = 1
    @Option(name: .customLong("source-addrs"), help: "Spread connections over source addresses: 127.0.0.1-127.0.0.20 or a,b,c.") var sourceAddrs: String?
    @Flag(name: .customLong("no-verify"), help: "Do not compare echoed payloads with what was sent.") var noVerify = false
    @Flag(name: .long, help: "wss/https: accept any server certificate (self-signed).") var insecure = false
    @Option(name: .long, help: "Connect + handshake timeout.") var timeout = "10s"
    @Option(name: .long, help: "hold: each connection sends one message this often (0: idle).") var interval = "0s"
    @Option(name: .customLong("server-pid"), help: "Server pid: report its CPU, and RSS per held connection.") var serverPid: Int32?
    @Option(name: .long, help: "Write the JSON report here.") var json: String?
    @Option(name: .long, help: "Write the HTML report here.") var html: String?
    @Option(name: .customLong("max-error-rate"), help: "Fail (exit 1) above this error rate: 1% or 0.01.") var maxErrorRate: String?
    @Option(name: .customLong("max-p99"), help: "Fail (exit 1) when p99 latency is above this (5ms).") var maxP99: String?
    @Option(name: [.customShort("X"), .long], help: "http: request method.") var method = "GET"
    @Option(name: [.customShort("H"), .customLong("header")], help: "http/fanout: extra request header 'Name: value' (repeatable).") var headers: [String] = []
    @Option(name: .long, help: "http: request body.") var body = ""
    @Option(name: .customLong("admin-url"), help: "fanout: the admin listener, http://HOST:PORT[/stage].") var adminURL: String?
    @Option(name: .long, help: "fanout: bearer token for the admin API.") var token: String?
    @Option(name: .customLong("access-key"), help: "fanout: sign admin calls with AWS SigV4 (service execute-api) with this access key id.") var accessKey: String?
    @Option(name: .customLong("secret-key"), help: "fanout: the SigV4 secret access key.") var secretKey: String?
    @Option(name: .long, help: "fanout: the SigV4 region.") var region = "us-east-1"
    @Option(name: .long, help: "fanout: post to this group (members join through PUT) instead of each connection.") var group: String?
    @Option(name: .long, help: "chat: rooms (connections = rooms × users per room).") var rooms = 10
    @Option(name: .customLong("users-per-room"), help: "chat: users in each room.") var usersPerRoom = 10
    @Option(name: .long, help: "chat: route key (the message's action) the backend broadcasts.") var route = "sendmessage"
    @Option(name: .customLong("max-pending"), help: "Handshakes pending at once per thread while opening.") var maxPending = 200
    @Flag(name: .long, help: "No progress lines.") var quiet = false
    @Option(name: .long, help: "LiveProgress display: auto, tty (one updating line) or plain (a line per second).") var progress = "auto"

    func validate() throws {
        guard Scenario(rawValue: scenario) != nil else { throw ValidationError("unknown scenario '\(scenario)' (connect, echo, hold, fanout, chat, http)") }
    }

    func makeOptions() throws -> LoadTestOptions {
        guard let scenario = Scenario(rawValue: scenario) else { throw CLIFailure("unknown scenario '\(self.scenario)'") }
        guard let target = TargetURL(url) else { throw CLIFailure("cannot parse URL '\(url)' (ws://, wss://, http://, https://)") }
        if scenario == .http, target.isWebSocket { throw CLIFailure("the http scenario needs an http:// or https:// URL") }
        if scenario != .http, !target.isWebSocket { throw CLIFailure("the \(scenario.rawValue) scenario needs a ws:// or wss:// URL") }
        var o = LoadTestOptions(scenario: scenario, target: target)
        guard connections >= 1 else { throw CLIFailure("--connections must be at least 1") }
        o.connections = connections
        o.durationNs = try duration(duration, "--duration")
        guard o.durationNs > 0 else { throw CLIFailure("--duration must be positive") }
        o.rampUpNs = try self.duration(rampUp, "--ramp-up")
        o.warmupNs = try self.duration(warmup, "--warmup")
        o.timeoutNs = try self.duration(timeout, "--timeout")
        o.intervalNs = try self.duration(interval, "--interval")
        if let rate {
            guard rate > 0 else { throw CLIFailure("--rate must be positive") }
            o.rate = rate
        }
        guard let s = ValueParser.size(size), s >= 0, s <= 64 * 1024 * 1024 else { throw CLIFailure("--size: expected bytes like 32 or 16k, got \(size)") }
        o.size = s
        o.binary = binary
        let k = pipeline ?? inflight
        guard k >= 1 else { throw CLIFailure("--inflight must be at least 1") }
        o.inflight = k
        guard threads >= 1, threads <= 256 else { throw CLIFailure("--threads must be between 1 and 256") }
        o.threads = threads
        if let sourceAddrs {
            guard let list = ValueParser.sourceAddresses(sourceAddrs) else { throw CLIFailure("--source-addrs: expected 127.0.0.1-127.0.0.20 or a,b,c") }
            o.sourceAddresses = list
        }
        o.verify = !noVerify
        o.insecure = insecure
        o.serverPid = serverPid
        o.jsonPath = json
        o.htmlPath = html
        if let maxErrorRate {
            guard let f = ValueParser.fraction(maxErrorRate), f >= 0 else { throw CLIFailure("--max-error-rate: expected 1% or 0.01") }
            o.maxErrorRate = f
        }
        if let maxP99 {
            guard let ns = ValueParser.durationNs(maxP99) else { throw CLIFailure("--max-p99: expected a duration like 5ms") }
            o.maxP99Us = Double(ns) / 1000
        }
        o.method = method.uppercased()
        for h in headers {
            guard let colon = h.firstIndex(of: ":") else { throw CLIFailure("--header: expected 'Name: value', got \(h)") }
            o.headers.append((String(h[..<colon]), String(h[h.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
        }
        o.body = body
        if scenario == .fanout {
            guard let adminURL else { throw CLIFailure("fanout needs --admin-url http://HOST:PORT (the admin listener)") }
            guard let a = TargetURL(adminURL), !a.isWebSocket else { throw CLIFailure("--admin-url: expected http://HOST:PORT[/stage], got \(adminURL)") }
            o.adminURL = a
            if let token { o.auth = .bearer(token) }
            switch (accessKey, secretKey) {
            case (nil, nil): break
            case (let key?, let secret?):
                guard token == nil else { throw CLIFailure("--token and --access-key/--secret-key exclude each other") }
                o.auth = .sigv4(SigV4Signer(credentials: SigV4Credentials(accessKeyId: key, secretAccessKey: secret), region: region))
            default: throw CLIFailure("SigV4 needs both --access-key and --secret-key")
            }
            o.group = group
        }
        if scenario == .chat {
            guard rooms >= 1, usersPerRoom >= 2 else { throw CLIFailure("chat needs --rooms ≥ 1 and --users-per-room ≥ 2") }
            guard !route.isEmpty, route.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x22 && $0 != 0x5C && $0 < 0x7F }) else {
                throw CLIFailure("--route: a plain route key such as sendmessage")
            }
            guard !binary else { throw CLIFailure("chat messages are JSON text: --binary does not apply") }
            o.rooms = rooms
            o.usersPerRoom = usersPerRoom
            o.route = route
            // -c is rooms × users; --rate is the total over all users (default: 1 message/s each).
            o.connections = rooms * usersPerRoom
            if o.rate == nil { o.rate = Double(o.connections) }
        }
        o.maxPendingHandshakes = max(1, maxPending)
        o.quiet = quiet
        switch progress {
        case "auto": o.progressTTY = nil
        case "tty": o.progressTTY = true
        case "plain": o.progressTTY = false
        default: throw CLIFailure("--progress: auto, tty or plain")
        }
        return o
    }

    func duration(_ text: String, _ flag: String) throws -> UInt64 {
        guard let ns = ValueParser.durationNs(text) else { throw CLIFailure("\(flag): expected a duration like 500ms, 30s or 2m, got \(text)") }
        return ns
    }

    func run() throws {
        let options = try makeOptions()
        let tty = options.progressTTY ?? (isatty(2) != 0)
        let printer = ProgressPrinter(tty: tty, quiet: options.quiet, scenario: options.scenario)
        let result: RunResult
        do {
            result = try Runner(options: options).run { printer.show($0) }
        } catch let error as RunError {
            throw CLIFailure(error.description)
        }
        printer.finish()
        print(Report.table(result), terminator: "")
        if let path = options.jsonPath {
            do { try (Report.json(result).render() + "\n").write(toFile: path, atomically: true, encoding: .utf8) } catch {
                throw CLIFailure("--json: cannot write \(path): \(error.localizedDescription)")
            }
        }
        if let path = options.htmlPath {
            do { try HTMLReport.render(result).write(toFile: path, atomically: true, encoding: .utf8) } catch {
                throw CLIFailure("--html: cannot write \(path): \(error.localizedDescription)")
            }
        }
        var failed: [String] = []
        if let max = options.maxErrorRate, result.errorRate > max {
            failed.append(String(format: "error rate %.3f%% is above --max-error-rate %.3f%%", result.errorRate * 100, max * 100))
        }
        if let max = options.maxP99Us, result.percentileUs(99) > max {
            failed.append("p99 \(Report.formatUs(result.percentileUs(99))) is above --max-p99 \(Report.formatUs(max))")
        }
        if options.maxP99Us != nil, result.messages == 0 { failed.append("no latency measured, --max-p99 cannot pass") }
        for f in failed { printError("threshold failed: \(f)") }
        if !failed.isEmpty { throw ExitCode(1) }
    }

    static func main() {
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exit as ExitCode {
            Glibc.exit(exit.rawValue)
        } catch let failure as CLIFailure {
            printError(failure.message)
            Glibc.exit(2)
        } catch {
            if exitCode(for: error) == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            let message = message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
            printError(message)
            Glibc.exit(2)
        }
    }
}

struct CLIFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

func printError(_ message: String) {
    let line = "petrel-loadtest: \(message)\n"
    _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
}

/// The live progress line on stderr: one line rewritten in place on a TTY, a line per second
/// otherwise (CI logs).
final class ProgressPrinter: @unchecked Sendable {
    let tty: Bool
    let quiet: Bool
    let scenario: Scenario
    private var wroteTTYLine = false

    init(tty: Bool, quiet: Bool, scenario: Scenario) {
        self.tty = tty
        self.quiet = quiet
        self.scenario = scenario
    }

    func show(_ p: LiveProgress) {
        guard !quiet else { return }
        let unit: String
        switch scenario {
        case .connect: unit = "hs/s"
        case .http: unit = "req/s"
        default: unit = "msg/s"
        }
        let line = String(format: "[%6.1fs] %-7@ open %7d | %10.0f %@ | errors %d | p99 %@",
                          p.elapsed, p.phase as NSString, p.open, p.ratePerS, unit as NSString, p.errors,
                          Report.formatUs(p.p99Us) as NSString)
        if tty {
            write("\r\u{1B}[2K" + line)
            wroteTTYLine = true
        } else {
            write(line + "\n")
        }
    }

    func finish() {
        if wroteTTYLine { write("\n") }
    }

    private func write(_ s: String) {
        _ = s.withCString { Glibc.write(2, $0, strlen($0)) }
    }
}
