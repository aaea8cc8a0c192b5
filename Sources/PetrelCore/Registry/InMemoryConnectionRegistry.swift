import Synchronization

/// The default, single-node registry: one store shared by every loop of the process; completions
/// run at once, inside the call.
public final class InMemoryConnectionRegistry: ConnectionRegistry, @unchecked Sendable {
    private struct State {
        var records: [ConnectionID: (record: ConnectionRecord, expiresMs: Int64)] = [:]
        var members: [String: Set<ConnectionID>] = [:]
        var groupsOf: [ConnectionID: Set<String>] = [:]
    }
    private let state = Mutex(State())
    private let clock: @Sendable () -> Int64

    /// `clock` gives milliseconds for expiry (injected so tests can move time).
    public init(clock: @escaping @Sendable () -> Int64) {
        self.clock = clock
    }

    public var isAvailable: Bool { true }

    public func register(_ record: ConnectionRecord, ttlMs: Int64, completion: @escaping (Bool) -> Void) {
        let now = clock()
        state.withLock { $0.records[record.id] = (record, now + ttlMs) }
        completion(true)
    }

    public func unregister(_ id: ConnectionID, node: String, completion: @escaping (Bool) -> Void) {
        state.withLock { s in
            if s.records[id]?.record.node == node { s.records.removeValue(forKey: id) }
            for group in s.groupsOf.removeValue(forKey: id) ?? [] {
                s.members[group]?.remove(id)
                if s.members[group]?.isEmpty == true { s.members.removeValue(forKey: group) }
            }
        }
        completion(true)
    }

    public func lookup(_ id: ConnectionID, completion: @escaping (RegistryLookup) -> Void) {
        let now = clock()
        let found = state.withLock { s -> ConnectionRecord? in
            guard let entry = s.records[id] else { return nil }
            if entry.expiresMs <= now {
                s.records.removeValue(forKey: id)
                return nil
            }
            return entry.record
        }
        completion(found.map { .found($0) } ?? .gone)
    }

    public func join(_ id: ConnectionID, group: String, completion: @escaping (Bool) -> Void) {
        let ok = state.withLock { s -> Bool in
            guard s.records[id] != nil else { return false }
            s.members[group, default: []].insert(id)
            s.groupsOf[id, default: []].insert(group)
            return true
        }
        completion(ok)
    }

    public func leave(_ id: ConnectionID, group: String, completion: @escaping (Bool) -> Void) {
        let ok = state.withLock { s -> Bool in
            guard s.records[id] != nil else { return false }
            s.members[group]?.remove(id)
            if s.members[group]?.isEmpty == true { s.members.removeValue(forKey: group) }
            s.groupsOf[id]?.remove(group)
            return true
        }
        completion(ok)
    }

    public func members(of group: String, completion: @escaping ([ConnectionID]?) -> Void) {
        completion(state.withLock { Array($0.members[group] ?? []) })
    }

    public func touch(_ ids: [ConnectionID], atMs: Int64, ttlMs: Int64) {
        let now = clock()
        state.withLock { s in
            for id in ids {
                guard var entry = s.records[id] else { continue }
                entry.record.lastActiveAtMs = atMs
                entry.expiresMs = now + ttlMs
                s.records[id] = entry
            }
        }
    }
}
