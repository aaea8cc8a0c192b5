import PetrelCore

/// The cluster registry in Redis (DESIGN §7). Keys:
/// - `petrel:conn:{id}` hash (node, connectedAt, sourceIp, userAgent, domainName, lastActiveAt),
///   expiring `ttl` after the last refresh;
/// - `petrel:node:{node}:conns` set of the node's ids (what a survivor reaps when the node dies);
/// - `petrel:group:{g}` set of member ids and `petrel:conn:{id}:groups` set of its groups.
/// Multi-key updates run as Lua scripts, so each is atomic and one round trip.
public final class RedisConnectionRegistry: ConnectionRegistry {
    public let client: RedisClient
    /// Told of every call's outcome and latency (metrics); set before the first call.
    public var observer: RegistryObserver?

    public init(client: RedisClient) {
        self.client = client
    }

    /// Every registry call goes through here, so each is counted under its operation.
    public func command(_ operation: RegistryOperation, _ args: [String],
                        completion: @escaping (Result<RedisReply, RedisError>) -> Void) {
        client.command(operation, args.map { Array($0.utf8) }, observer: observer, completion: completion)
    }

    public var isAvailable: Bool { client.isConnected }

    public static func connKey(_ id: ConnectionID) -> String { "petrel:conn:\(id)" }
    public static func groupsKey(_ id: ConnectionID) -> String { "petrel:conn:\(id):groups" }
    public static func nodeConnsKey(_ node: String) -> String { "petrel:node:\(node):conns" }
    public static func groupKey(_ group: String) -> String { "petrel:group:\(group)" }

    static let registerScript = """
        redis.call('HSET', KEYS[1], 'node', ARGV[3], 'connectedAt', ARGV[4], 'sourceIp', ARGV[5], \
        'userAgent', ARGV[6], 'domainName', ARGV[7], 'lastActiveAt', ARGV[8])
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        redis.call('SADD', KEYS[2], ARGV[2])
        return 1
        """

    public func register(_ record: ConnectionRecord, ttlMs: Int64, completion: @escaping (Bool) -> Void) {
        let id = record.id
        command(.register, ["EVAL", Self.registerScript, "2", Self.connKey(id), Self.nodeConnsKey(record.node),
                        String(ttlMs), id.description, record.node, String(record.connectedAtMs), record.sourceIp,
                        record.userAgent, record.domainName, String(record.lastActiveAtMs)]) { result in
            if case .success(.integer(1)) = result { completion(true) } else { completion(false) }
        }
    }

    /// Removes the record only if `node` still owns it, takes the id out of its node's set and of
    /// every group. Returns 1 when the record existed (so a reaper can claim each id once).
    static let unregisterScript = """
        local owner = redis.call('HGET', KEYS[1], 'node')
        local existed = 0
        if owner == ARGV[2] then existed = redis.call('DEL', KEYS[1]) end
        redis.call('SREM', KEYS[3], ARGV[1])
        for _, g in ipairs(redis.call('SMEMBERS', KEYS[2])) do redis.call('SREM', 'petrel:group:' .. g, ARGV[1]) end
        redis.call('DEL', KEYS[2])
        return existed
        """

    public func unregister(_ id: ConnectionID, node: String, completion: @escaping (Bool) -> Void) {
        claim(id, node: node) { completion($0 != nil) }
    }

    /// Unregisters; the completion says whether this call removed the record (true), found it
    /// already gone (false), or could not reach Redis (nil).
    public func claim(_ id: ConnectionID, node: String, completion: @escaping (Bool?) -> Void) {
        command(.unregister, ["EVAL", Self.unregisterScript, "3", Self.connKey(id), Self.groupsKey(id),
                        Self.nodeConnsKey(node), id.description, node]) { result in
            switch result {
            case .success(.integer(let n)): completion(n == 1)
            default: completion(nil)
            }
        }
    }

    public func lookup(_ id: ConnectionID, completion: @escaping (RegistryLookup) -> Void) {
        command(.lookup, ["HGETALL", Self.connKey(id)]) { result in
            guard case .success(let reply) = result, let items = reply.array else {
                completion(.unavailable)
                return
            }
            completion(Self.record(id, items).map { .found($0) } ?? .gone)
        }
    }

    public static func record(_ id: ConnectionID, _ items: [RedisReply]) -> ConnectionRecord? {
        guard !items.isEmpty else { return nil }
        var fields: [String: String] = [:]
        var i = 0
        while i + 1 < items.count {
            if let key = items[i].text, let value = items[i + 1].text { fields[key] = value }
            i += 2
        }
        guard let node = fields["node"] else { return nil }
        return ConnectionRecord(id: id, node: node, connectedAtMs: Int64(fields["connectedAt"] ?? "") ?? 0,
                                sourceIp: fields["sourceIp"] ?? "", userAgent: fields["userAgent"] ?? "",
                                domainName: fields["domainName"] ?? "",
                                lastActiveAtMs: Int64(fields["lastActiveAt"] ?? "") ?? 0)
    }

    static let joinScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        redis.call('SADD', KEYS[2], ARGV[1])
        redis.call('SADD', KEYS[3], ARGV[2])
        redis.call('PEXPIRE', KEYS[3], redis.call('PTTL', KEYS[1]))
        return 1
        """

    public func join(_ id: ConnectionID, group: String, completion: @escaping (Bool) -> Void) {
        command(.join, ["EVAL", Self.joinScript, "3", Self.connKey(id), Self.groupKey(group), Self.groupsKey(id),
                        id.description, group]) { result in
            if case .success(.integer(1)) = result { completion(true) } else { completion(false) }
        }
    }

    static let leaveScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        redis.call('SREM', KEYS[2], ARGV[1])
        redis.call('SREM', KEYS[3], ARGV[2])
        return 1
        """

    public func leave(_ id: ConnectionID, group: String, completion: @escaping (Bool) -> Void) {
        command(.leave, ["EVAL", Self.leaveScript, "3", Self.connKey(id), Self.groupKey(group), Self.groupsKey(id),
                        id.description, group]) { result in
            if case .success(.integer(1)) = result { completion(true) } else { completion(false) }
        }
    }

    public func members(of group: String, completion: @escaping ([ConnectionID]?) -> Void) {
        command(.members, ["SMEMBERS", Self.groupKey(group)]) { result in
            guard case .success(let reply) = result, let items = reply.array else {
                completion(nil)
                return
            }
            completion(items.compactMap { $0.text.flatMap(ConnectionID.init) })
        }
    }

    public func touch(_ ids: [ConnectionID], atMs: Int64, ttlMs: Int64) {
        for id in ids {
            let key = Self.connKey(id)
            // HSET on a key that expired would resurrect a partial record: only refresh live ones.
            command(.touch, ["EVAL", "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'lastActiveAt', ARGV[1]); redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 1",
                            "1", key, String(atMs), String(ttlMs)]) { _ in }
        }
    }
}
