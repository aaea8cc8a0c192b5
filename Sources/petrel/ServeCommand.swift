import ArgumentParser
import Foundation
import PetrelConfig
import PetrelGateway
import PetrelRedis

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the gateway.")

    @Option(name: .long, help: "YAML config file; without it the embedded default runs.") var config: String?
    @Option(name: .long, help: "Public listener HOST:PORT (overrides listeners.public.address).") var listen: String?
    @Option(name: .long, help: "Admin listener HOST:PORT (overrides listeners.admin.address).") var admin: String?
    @Option(name: .long, help: "Redis URL for the cluster registry (overrides registry.redis).") var redis: String?
    @Option(name: .customLong("node-id"), help: "This node's id (overrides node.id).") var nodeId: String?
    @Option(name: .long, help: "Event-loop threads (default: one per core).") var threads: Int?
    @Flag(name: .long, help: "Bind beside a running petrel on the same port and tell it to drain.") var takeover = false

    func run() throws {
        var loaded: PetrelConfig
        if let config {
            switch ConfigLoader.load(path: config) {
            case .success(let c): loaded = c
            case .failure(let errors):
                throw CLIFailure(message: errors.problems.first.map { "\(config): \($0.description)" } ?? "\(config): invalid")
            }
        } else {
            loaded = ConfigLoader.embeddedDefault()
        }
        if let listen {
            guard let (host, port) = parseHostPort(listen) else { throw CLIFailure(message: "--listen: expected HOST:PORT, got \(listen)") }
            loaded.listeners.public.host = host
            loaded.listeners.public.port = port
        }
        if let admin {
            guard let (host, port) = parseHostPort(admin) else { throw CLIFailure(message: "--admin: expected HOST:PORT, got \(admin)") }
            loaded.listeners.admin.host = host
            loaded.listeners.admin.port = port
        }
        if let redis { loaded.registry.redis = redis }
        if let url = loaded.registry.redis, RedisEndpoint(url: url) == nil {
            throw CLIFailure(message: "registry.redis: cannot parse \(url) (expected redis://HOST:PORT/DB)")
        }
        if let threads, threads < 1 { throw CLIFailure(message: "--threads: must be at least 1") }
        let threadCount = threads ?? loaded.node.threads ?? ProcessInfo.processInfo.activeProcessorCount
        let nodeId = nodeId ?? loaded.node.id ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        raiseOpenFileLimit()
        let gateway = Gateway(config: loaded, options: .init(configPath: config, threads: threadCount,
                                                             takeover: takeover, nodeId: nodeId))
        do {
            let code = try gateway.run()
            throw ExitCode(code)
        } catch let error as Gateway.StartError {
            throw CLIFailure(message: error.description)
        }
    }

    /// Long-lived connections each hold a descriptor: use the hard limit, not the soft default.
    private func raiseOpenFileLimit() {
        var limit = rlimit()
        if getrlimit(RLIMIT_NOFILE_CONST, &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(RLIMIT_NOFILE_CONST, &limit)
        }
    }
}

private let RLIMIT_NOFILE_CONST = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
