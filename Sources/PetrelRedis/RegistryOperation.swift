import CLibUV

/// The registry's Redis calls by purpose, for the `op` label of `petrel_registry_*`: what an
/// operator needs is "registrations are failing", not "EVAL is failing".
public enum RegistryOperation: Int, CaseIterable, Sendable {
    case register, unregister, lookup, join, leave, members, touch, heartbeat, publish

    public var label: String {
        switch self {
        case .register: return "register"
        case .unregister: return "unregister"
        case .lookup: return "lookup"
        case .join: return "join"
        case .leave: return "leave"
        case .members: return "members"
        case .touch: return "touch"
        case .heartbeat: return "heartbeat"
        case .publish: return "publish"
        }
    }
}

/// How a registry call ended, for the `result` label.
public enum RegistryOutcome: Int, CaseIterable, Sendable {
    case ok, error, timeout, unavailable

    public init(_ result: Result<RedisReply, RedisError>) {
        switch result {
        case .success: self = .ok
        case .failure(.server): self = .error
        case .failure(.timeout): self = .timeout
        case .failure(.disconnected): self = .unavailable
        }
    }

    public var label: String {
        switch self {
        case .ok: return "ok"
        case .error: return "error"
        case .timeout: return "timeout"
        case .unavailable: return "unavailable"
        }
    }
}

/// Told of every registry call when it completes, on the client's loop: the operation, how it
/// ended and how long it took in nanoseconds. The gateway counts these in its loop-local metrics.
public typealias RegistryObserver = (RegistryOperation, RegistryOutcome, UInt64) -> Void

extension RedisClient {
    /// `command` timed and reported to `observer` (nil: plain `command`).
    public func command(_ operation: RegistryOperation, _ args: [[UInt8]], observer: RegistryObserver?,
                        completion: @escaping (Result<RedisReply, RedisError>) -> Void) {
        guard let observer else { return command(args, completion: completion) }
        let start = uv_hrtime()
        command(args) { result in
            observer(operation, RegistryOutcome(result), uv_hrtime() &- start)
            completion(result)
        }
    }
}
