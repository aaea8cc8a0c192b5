import CLibUV
import Foundation
import Glibc
import Histogram
import PetrelLoop

/// One point of the per-interval series (DESIGN §10 `series`).
public struct SeriesPoint: Sendable {
    /// Seconds since the run started, at the end of the interval.
    public var t: Double
    public var seconds: Double
    public var phase: String
    public var messages: Int
    public var errors: Int
    public var open: Int
    public var p50Us: Double
    public var p99Us: Double
    public var maxUs: Double
    public var throughputPerS: Double { seconds > 0 ? Double(messages) / seconds : 0 }
}

/// Everything the report needs.
public struct RunResult: Sendable {
    public var options: LoadTestOptions
    public var messages = 0
    public var sent = 0
    public var opened = 0
    public var errorsByKind: [String: Int] = [:]
    public var errors: Int { errorsByKind.values.reduce(0, +) }
    public var histogram = makeLatencyHistogram()
    public var measuredSeconds = 0.0
    public var series: [SeriesPoint] = []
    public var openAtEnd = 0
    public var maxOpen = 0
    public var inFlightAtEnd = 0
    /// chat: deliveries the measured sends should make (sends × (users per room − 1)).
    public var deliveriesExpected = 0
    public var clientCPUPercent = 0.0
    public var clientCores = 1
    public var serverCPUPercent: Double?
    public var serverRSSBeforeBytes: Int?
    public var serverRSSHeldBytes: Int?
    public var fileLimit = 0
    public var warnings: [String] = []
    public var startedAt = Date()

    public var throughputPerS: Double { measuredSeconds > 0 ? Double(messages) / measuredSeconds : 0 }
    public var errorRate: Double {
        let total = messages + errors
        return total > 0 ? Double(errors) / Double(total) : 0
    }
    public func percentileUs(_ p: Double) -> Double {
        histogram.totalCount == 0 ? 0 : Double(histogram.valueAtPercentile(p)) / 1000
    }
    public var maxUs: Double { histogram.totalCount == 0 ? 0 : Double(histogram.max) / 1000 }
    public var serverBytesPerConnection: Int? {
        guard let a = serverRSSBeforeBytes, let b = serverRSSHeldBytes, openAtEnd > 0 else { return nil }
        return (b - a) / openAtEnd
    }
}

public enum RunError: Error, CustomStringConvertible {
    case resolve(String)
    case tls(String)
    case usage(String)
    public var description: String {
        switch self {
        case .resolve(let s): return "cannot resolve \(s)"
        case .tls(let s): return "TLS: \(s)"
        case .usage(let s): return s
        }
    }
}

/// A live view of the run for the progress line.
public struct LiveProgress: Sendable {
    public var elapsed: Double
    public var phase: String
    public var open: Int
    public var ratePerS: Double
    public var messages: Int
    public var errors: Int
    public var p99Us: Double
}

/// The conductor: starts one loop thread per `--threads`, walks the phases (opening, warm-up,
/// measurement), collects each loop's counters once per second through its mailbox, and
/// finally stops the loops and joins them.
public final class Runner {
    let options: LoadTestOptions
    private var threads: [LoopThread] = []
    private var shared: RunShared!

    public init(options: LoadTestOptions) {
        self.options = options
    }

    public func run(progress: ((LiveProgress) -> Void)? = nil) throws -> RunResult {
        var options = self.options
        var result = RunResult(options: options)
        result.fileLimit = raiseFileLimit()
        let needed = options.connections + 2 * options.threads + 64
        if needed > result.fileLimit {
            let capped = max(1, result.fileLimit - 2 * options.threads - 64)
            result.warnings.append("open-file limit \(result.fileLimit) caps the run at \(capped) connections (asked \(options.connections)); raise `ulimit -n`")
            options.connections = capped
        }
        if options.scenario != .connect, options.connections > 28_000 * max(1, options.sourceAddresses.count) {
            result.warnings.append("\(options.connections) connections need more than ~28k ephemeral ports per source address; use --source-addrs")
        }
        options.threads = max(1, min(options.threads, max(1, options.connections)))
        result.options = options

        guard let target = SocketAddress.resolve(host: options.target.host, port: options.target.port) else {
            throw RunError.resolve("\(options.target.host):\(options.target.port)")
        }
        var admin: SocketAddress?
        if let url = options.adminURL {
            guard let a = SocketAddress.resolve(host: url.host, port: url.port) else { throw RunError.resolve("\(url.host):\(url.port)") }
            admin = a
        }
        var sources: [SocketAddress] = []
        for s in options.sourceAddresses {
            guard let a = SocketAddress.numeric(s) else { throw RunError.usage("--source-addrs: not a numeric address: \(s)") }
            sources.append(a)
        }
        var tls: ClientTLS.Context?
        if options.target.isTLS {
            guard let ctx = ClientTLS.Context(insecure: options.insecure) else { throw RunError.tls("cannot create a client context") }
            tls = ctx
        }
        var adminTLS: ClientTLS.Context?
        if options.adminURL?.isTLS == true { adminTLS = ClientTLS.Context(insecure: options.insecure) }
        shared = RunShared(target: target, admin: admin, sources: sources, tls: tls, adminTLS: adminTLS)
        let opensFirst = options.scenario != .connect
        shared.unsettled.store(opensFirst ? options.connections : 0, ordering: .relaxed)

        if let pid = options.serverPid { result.serverRSSBeforeBytes = ProcessStats.rssBytes(pid: pid) }

        let startNs = uv_hrtime()
        result.startedAt = Date()
        let frozen = options
        let shared = self.shared!
        for i in 0..<options.threads {
            let (thread, _) = LoopThread.start(index: i) { loop in
                let worker = Worker(options: frozen, loop: loop, index: i, shared: shared, startNs: startNs)
                loop.owner = worker
                worker.start()
            }
            threads.append(thread)
        }

        // Phases: opening (until every initial connection settled, and at least the ramp-up),
        // warm-up, then the measured window.
        var phase = opensFirst ? "opening" : (options.warmupNs > 0 ? "warmup" : "measure")
        var phaseStart = startNs
        var lastTick = startNs
        var nextTick = startNs + 1_000_000_000
        var cumulative = makeLatencyHistogram()
        var measureStart: UInt64 = 0
        var cpuStart = ProcessStats.selfCPUSeconds()
        var serverCPUStart = options.serverPid.flatMap { ProcessStats.cpuSeconds(pid: $0) }
        let openingLimitNs = options.rampUpNs + max(options.timeoutNs, 30_000_000_000) + UInt64(options.connections) * 1_000_000
        if phase == "measure" { measureStart = startNs }
        if !opensFirst { broadcastBeginTraffic() }

        func absorb(_ snap: WorkerSnapshot, now: UInt64, phase: String) {
            let seconds = Double(now - lastTick) / 1e9
            lastTick = now
            for (k, v) in snap.errors { result.errorsByKind[k, default: 0] += v }
            result.opened += snap.opened
            result.maxOpen = max(result.maxOpen, snap.open)
            let h = snap.histogram
            let point = SeriesPoint(
                t: Double(now - startNs) / 1e9, seconds: seconds, phase: phase, messages: snap.messages,
                errors: snap.errors.values.reduce(0, +), open: snap.open,
                p50Us: h.totalCount > 0 ? Double(h.valueAtPercentile(50)) / 1000 : 0,
                p99Us: h.totalCount > 0 ? Double(h.valueAtPercentile(99)) / 1000 : 0,
                maxUs: h.totalCount > 0 ? Double(h.max) / 1000 : 0)
            result.series.append(point)
            if phase == "measure" {
                result.messages += snap.messages
                result.sent += snap.sent
                result.deliveriesExpected += snap.expected
                result.histogram.add(h)
                cumulative.add(h)
            }
            progress?(LiveProgress(elapsed: point.t, phase: phase, open: snap.open, ratePerS: point.throughputPerS,
                               messages: result.messages, errors: result.errors,
                               p99Us: cumulative.totalCount > 0 ? Double(cumulative.valueAtPercentile(99)) / 1000 : point.p99Us))
        }

        while true {
            let now = uv_hrtime()
            switch phase {
            case "opening":
                let done = shared.unsettled.load(ordering: .relaxed) <= 0 && now - startNs >= options.rampUpNs
                if done || now - startNs > openingLimitNs {
                    if !done { result.warnings.append("gave up waiting for every connection to open after \(Int(Double(now - startNs) / 1e9)) s") }
                    absorb(collect(), now: now, phase: phase)
                    if let pid = options.serverPid, options.scenario == .hold {
                        // Before the hold: nothing else to measure for RSS.
                        _ = pid
                    }
                    phase = options.warmupNs > 0 ? "warmup" : "measure"
                    phaseStart = now
                    nextTick = now + 1_000_000_000
                    if phase == "measure" {
                        measureStart = now
                        cpuStart = ProcessStats.selfCPUSeconds()
                        serverCPUStart = options.serverPid.flatMap { ProcessStats.cpuSeconds(pid: $0) }
                    }
                    broadcastBeginTraffic()
                    continue
                }
            case "warmup":
                if now >= phaseStart + options.warmupNs {
                    absorb(collect(), now: now, phase: phase)
                    phase = "measure"
                    measureStart = now
                    nextTick = now + 1_000_000_000
                    cpuStart = ProcessStats.selfCPUSeconds()
                    serverCPUStart = options.serverPid.flatMap { ProcessStats.cpuSeconds(pid: $0) }
                    continue
                }
            default:
                if now >= measureStart + options.durationNs {
                    var final = collect()
                    let end = uv_hrtime()
                    let cpu = ProcessStats.selfCPUSeconds() - cpuStart
                    result.measuredSeconds = Double(end - measureStart) / 1e9
                    if let pid = options.serverPid {
                        if let s0 = serverCPUStart, let s1 = ProcessStats.cpuSeconds(pid: pid) {
                            result.serverCPUPercent = (s1 - s0) / result.measuredSeconds * 100
                        }
                        result.serverRSSHeldBytes = ProcessStats.rssBytes(pid: pid)
                    }
                    if options.scenario == .chat { drainChat(&final, result: result) }
                    absorb(final, now: end, phase: phase)
                    result.openAtEnd = final.open
                    result.inFlightAtEnd = final.inFlight
                    if options.scenario == .chat {
                        // What the drain did not bring is lost (gaps seen by receivers already are).
                        let missing = result.deliveriesExpected - result.messages - (result.errorsByKind["lost"] ?? 0)
                        if missing > 0 { result.errorsByKind["lost", default: 0] += missing }
                    }
                    let cores = min(options.threads, ProcessInfo.processInfo.activeProcessorCount)
                    result.clientCores = cores
                    result.clientCPUPercent = cpu / result.measuredSeconds / Double(cores) * 100
                    if result.clientCPUPercent >= 90 {
                        result.warnings.append(String(format: "petrel-loadtest used %.0f%% of its %d core(s): the client, not the server, may be the bottleneck (try --threads)", result.clientCPUPercent, cores))
                    }
                    stopAll()
                    return result
                }
            }
            if now >= nextTick {
                absorb(collect(), now: now, phase: phase)
                nextTick += 1_000_000_000
                if nextTick <= now { nextTick = now + 1_000_000_000 }
                continue
            }
            var wake = nextTick
            if phase == "opening" { wake = min(wake, now + 10_000_000) }
            if phase == "warmup" { wake = min(wake, phaseStart + options.warmupNs) }
            if phase == "measure" { wake = min(wake, measureStart + options.durationNs) }
            if wake > now { usleep(UInt32(min((wake - now) / 1000, 1_000_000))) }
        }
    }

    /// chat: stops sending, then keeps receiving until every expected delivery arrived (or was seen
    /// lost) or `--timeout` passed, so that deliveries still in flight when the window ended are
    /// counted instead of being taken for losses.
    private func drainChat(_ final: inout WorkerSnapshot, result: RunResult) {
        for t in threads {
            t.mailbox.post { loop in (loop.owner as? Worker)?.stopTraffic() }
        }
        let deadline = uv_hrtime() + options.timeoutNs
        while uv_hrtime() < deadline {
            let outstanding = result.deliveriesExpected + final.expected - result.messages - final.messages
                - (result.errorsByKind["lost"] ?? 0) - (final.errors["lost"] ?? 0)
            if outstanding <= 0 { break }
            usleep(20_000)
            let next = collect()
            Self.merge(next, into: &final)
            final.open = next.open
        }
        final.inFlight = 0
    }

    private func broadcastBeginTraffic() {
        for t in threads {
            t.mailbox.post { loop in (loop.owner as? Worker)?.beginTraffic() }
        }
    }

    /// Every loop's counters since the last call, merged.
    private func collect() -> WorkerSnapshot {
        let box = SnapshotBox()
        var posted = 0
        for t in threads {
            if t.mailbox.post({ loop in
                if let w = loop.owner as? Worker { box.add(w.snapshot()) } else { box.add(nil) }
            }) { posted += 1 }
        }
        for _ in 0..<posted { _ = box.ready.wait(timeout: .now() + 5) }
        var merged = WorkerSnapshot(histogram: makeLatencyHistogram())
        for s in box.take() { Self.merge(s, into: &merged) }
        return merged
    }

    /// Adds one snapshot's counters to another (`open` and `inFlight` are the latest, not sums over time).
    private static func merge(_ s: WorkerSnapshot, into merged: inout WorkerSnapshot) {
        merged.messages += s.messages
        merged.sent += s.sent
        merged.opened += s.opened
        merged.open += s.open
        merged.inFlight += s.inFlight
        merged.expected += s.expected
        for (k, v) in s.errors { merged.errors[k, default: 0] += v }
        merged.histogram.add(s.histogram)
    }

    private func stopAll() {
        for t in threads {
            t.mailbox.post { loop in (loop.owner as? Worker)?.shutdown() }
        }
        for t in threads { t.join() }
        threads.removeAll()
    }

    /// Raises the soft open-file limit to the hard limit; returns the limit in force.
    private func raiseFileLimit() -> Int {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        return Int(min(UInt64(limit.rlim_cur), UInt64(Int32.max)))
    }
}

private final class SnapshotBox: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [WorkerSnapshot] = []
    let ready = DispatchSemaphore(value: 0)

    func add(_ s: WorkerSnapshot?) {
        lock.lock()
        if let s { items.append(s) }
        lock.unlock()
        ready.signal()
    }

    func take() -> [WorkerSnapshot] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

/// CPU and memory of this process and of the server under test, from getrusage and /proc.
public enum ProcessStats {
    public static func selfCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 +
            Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    /// utime + stime of every thread of `pid` (fields 14 and 15 of /proc/PID/stat).
    public static func cpuSeconds(pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is the state (field 3), so utime (14) is fields[11].
        guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { return nil }
        return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    public static func rssBytes(pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first
            return kb.map { $0 * 1024 }
        }
        return nil
    }
}
