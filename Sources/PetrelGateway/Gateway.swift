import Glibc
import PetrelConfig
import PetrelLoop
import PetrelRedis
import Synchronization

/// Starts the loops, serves until SIGTERM/SIGINT, reloads on SIGHUP (DESIGN §2).
public final class Gateway: Sendable {
    public struct Options: Sendable {
        public var configPath: String?
        public var threads: Int
        public var takeover: Bool
        public var nodeId: String
        /// How long a drain waits for clients to finish their closing handshakes.
        public var drainTimeoutMs: Int64 = 10_000

        public init(configPath: String?, threads: Int, takeover: Bool, nodeId: String) {
            self.configPath = configPath
            self.threads = threads
            self.takeover = takeover
            self.nodeId = nodeId
        }
    }

    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    private let options: Options
    private let shared: GatewayShared
    private let config: Mutex<PetrelConfig>
    private let workers: Mutex<[LoopThread]> = Mutex([])
    /// TLS contexts of the listeners that have `tls` (reloaded on SIGHUP).
    private let tlsContexts: Mutex<[(listener: String, context: TLSServerContext)]> = Mutex([])

    public init(config: PetrelConfig, options: Options) {
        self.options = options
        self.config = Mutex(config)
        shared = GatewayShared(nodeId: options.nodeId, redis: config.registry.redis.flatMap(RedisEndpoint.init(url:)))
    }

    /// Runs until drained; returns the process exit code.
    public func run() throws(StartError) -> Int32 {
        let config = self.config.withLock { $0 }
        let settings: GatewaySettings
        do { settings = try GatewaySettings(config) } catch { throw StartError(description: error.description) }
        AccessLog.configure(config.accessLog)
        installConnectRate(settings, nowMs: 0)

        let pub = config.listeners.public
        let admin = config.listeners.admin
        if !options.takeover {
            for (name, host, port) in [("listeners.public", pub.host, pub.port), ("listeners.admin", admin.host, admin.port)]
            where addressAnswers(host: host, port: port) {
                throw StartError(description: "\(name).address: \(host):\(port) already answers (another petrel?); use --takeover for a zero-downtime upgrade")
            }
        }

        // TLS: one context per listener, shared by every loop.
        let publicTLS = try Self.makeTLSContext(pub.tls, listener: "public")
        let adminTLS = try Self.makeTLSContext(admin.tls, listener: "admin")
        tlsContexts.withLock { list in
            if let publicTLS { list.append(("public", publicTLS)) }
            if let adminTLS { list.append(("admin", adminTLS)) }
        }

        var threads: [LoopThread] = []
        var publicPort = pub.port
        var adminPort = admin.port
        for index in 0..<max(1, options.threads) {
            let (thread, result) = LoopThread.start(index: index) { [shared] loop -> Result<(Int, Int), TCPListener.BindError> in
                let worker = Worker(loop: loop, shared: shared, settings: settings)
                loop.owner = worker
                worker.onDrained = { [unowned loop] in loop.closeMailbox() }
                do throws(TCPListener.BindError) {
                    let boundPublic = try worker.listen(host: pub.host, port: publicPort, kind: .publicAPI, reusePort: true, tls: publicTLS)
                    var boundAdmin = adminPort
                    if index == 0 {
                        boundAdmin = try worker.listen(host: admin.host, port: adminPort, kind: .admin, reusePort: true, tls: adminTLS)
                    }
                    return .success((boundPublic, boundAdmin))
                } catch {
                    worker.beginDrain(timeoutMs: 0)
                    return .failure(error)
                }
            }
            threads.append(thread)
            switch result {
            case .success(let (p, a)):
                // Port 0: the first loop picks a port and the others join it.
                publicPort = p
                adminPort = a
            case .failure(let error):
                for t in threads { t.mailbox.post { loop in (loop.owner as? Worker)?.beginDrain(timeoutMs: 0) } }
                for t in threads { t.join() }
                throw StartError(description: "listeners: \(error)")
            }
        }
        workers.withLock { $0 = threads }
        shared.mailboxes.withLock { $0 = threads.map(\.mailbox) }

        // Signals are watched before the ready lines go out, so whoever acts on them can signal
        // at once. The watchers stay until the end: a second SIGTERM during a drain is ignored.
        let (control, _) = LoopThread.start(index: -1) { [self] loop -> Void in
            let watchers = SignalWatchers()
            loop.owner = watchers
            let stop: (Int32) -> Void = { [self] signal in
                guard !shared.draining.load(ordering: .relaxed) else {
                    Log.info("already draining", ["signal": .int(Int(signal))])
                    return
                }
                Log.info("draining", ["signal": .int(Int(signal))])
                self.drain()
            }
            watchers.all.append(SignalWatcher(loop: loop, signal: SIGTERM, action: stop))
            watchers.all.append(SignalWatcher(loop: loop, signal: SIGINT, action: stop))
            watchers.all.append(SignalWatcher(loop: loop, signal: SIGHUP) { [self] _ in self.reload() })
        }
        let pidFile = PidFile(port: publicPort)
        if options.takeover { pidFile.signalPrevious() }
        // Written before the ready lines, so a successor started on them finds it.
        pidFile.write()
        Log.info("listener ready", ["listener": "public", "address": .string(Self.format(pub.host, publicPort)),
                                    "threads": .int(threads.count), "nodeId": .string(options.nodeId)])
        Log.info("listener ready", ["listener": "admin", "address": .string(Self.format(admin.host, adminPort))])

        for t in threads { t.join() }
        control.mailbox.post { loop in
            (loop.owner as? SignalWatchers)?.closeAll()
            loop.closeMailbox()
        }
        control.join()
        AccessLog.shutdown()
        pidFile.remove()
        Log.info("stopped", [:])
        return 0
    }

    private func drain() {
        shared.draining.store(true, ordering: .relaxed)
        let timeout = options.drainTimeoutMs
        for t in workers.withLock({ $0 }) {
            t.mailbox.post { loop in (loop.owner as? Worker)?.beginDrain(timeoutMs: timeout) }
        }
    }

    /// SIGHUP: a bad file is logged and the running config stays (DESIGN §2).
    private func reload() {
        AccessLog.reopenFiles()
        reloadTLS()
        guard let path = options.configPath else {
            Log.warn("reload ignored: running the embedded default, no config file", [:])
            return
        }
        switch ConfigLoader.load(path: path) {
        case .failure(let errors):
            for problem in errors.problems {
                Log.error("reload rejected", ["path": .string(path), "problem": .string(problem.description)])
            }
        case .success(var newConfig):
            let running = config.withLock { $0 }
            // Listeners stay bound as started; routes, integrations and limits change.
            newConfig.listeners = running.listeners
            do {
                let settings = try GatewaySettings(newConfig)
                config.withLock { $0 = newConfig }
                installConnectRate(settings, nowMs: 0)
                AccessLog.configure(newConfig.accessLog)
                for t in workers.withLock({ $0 }) {
                    t.mailbox.post { loop in (loop.owner as? Worker)?.apply(settings) }
                }
                Log.info("config reloaded", ["path": .string(path)])
            } catch {
                Log.error("reload rejected", ["path": .string(path), "problem": .string(error.description)])
            }
        }
    }

    private func installConnectRate(_ settings: GatewaySettings, nowMs: Int64) {
        let bucket = settings.limits.connectRate.map {
            SharedTokenBucket(rate: $0.rate, burst: $0.burst, nowMs: Int64(MonotonicClock.nowMs()))
        }
        shared.connectRate.withLock { $0 = bucket }
    }

    static func format(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// The control loop's signal watchers, owned by that loop.
private final class SignalWatchers {
    var all: [SignalWatcher] = []

    func closeAll() {
        for watcher in all { watcher.close() }
        all.removeAll()
    }
}

// MARK: TLS (listeners.*.tls)

extension Gateway {
    /// The listeners' TLS files loaded as `serve` loads them, for `check-config`. A file that is
    /// absent here is a warning (deploy configs are often checked away from their host); one
    /// that is present but unusable (not PEM, key not matching, bad CA or CRL) is a problem.
    public static func tlsFileCheck(_ config: PetrelConfig) -> (problems: [String], warnings: [String]) {
        var problems: [String] = [], warnings: [String] = []
        for (name, tls) in [("public", config.listeners.public.tls), ("admin", config.listeners.admin.tls)] {
            guard let tls else { continue }
            var files: [(String, String)] = []
            for (i, source) in certificateSources(tls).enumerated() {
                // The first source is the listener's own `certificate`/`private_key`.
                let key = i == 0 ? "" : "certificates[\(i - 1)]."
                files.append((key + "certificate", source.certificatePath))
                if let path = source.privateKeyPath { files.append((key + "private_key", path)) }
            }
            if let ca = tls.clientCA { files.append(("client_ca", ca)) }
            if let crl = tls.crl { files.append(("crl", crl)) }
            let absent = files.filter { access($0.1, F_OK) != 0 }
            if !absent.isEmpty {
                for (key, path) in absent {
                    warnings.append("listeners.\(name).tls.\(key): \(path) does not exist here (serve refuses to start without it)")
                }
                continue
            }
            do throws(StartError) { _ = try makeTLSContext(tls, listener: name) } catch { problems.append(error.description) }
        }
        return (problems, warnings)
    }

    static func makeTLSContext(_ tls: TLSConfig?, listener: String) throws(StartError) -> TLSServerContext? {
        guard let tls else { return nil }
        let settings = TLSServerSettings(certificates: certificateSources(tls), clientCAPath: tls.clientCA, crlPath: tls.crl)
        do {
            return try TLSServerContext(settings: settings)
        } catch {
            throw StartError(description: "listeners.\(listener).tls: \(error.description)")
        }
    }

    /// The listener's default certificate, then its per-host-name ones (SNI).
    private static func certificateSources(_ tls: TLSConfig) -> [TLSCertificateSource] {
        [TLSCertificateSource(certificatePath: tls.certificate, privateKey: tls.privateKey)]
            + tls.certificates.map { TLSCertificateSource(serverName: $0.serverName, certificatePath: $0.certificate, privateKey: $0.privateKey) }
    }

    /// SIGHUP: certificates, keys, CA and CRL are re-read for new connections; open connections
    /// keep theirs. A broken file keeps the running context.
    fileprivate func reloadTLS() {
        for (listener, context) in tlsContexts.withLock({ $0 }) {
            do {
                try context.reload()
                Log.info("tls reloaded", ["listener": .string(listener),
                                          "fingerprint": .string(context.defaultCertificateFingerprint)])
            } catch {
                Log.error("tls reload rejected", ["listener": .string(listener), "problem": .string(error.description)])
            }
        }
    }
}
