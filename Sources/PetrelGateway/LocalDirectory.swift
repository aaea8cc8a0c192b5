import PetrelCore
import Synchronization

/// Which loop of this node holds each open connection, and this node's groups. Written at
/// upgrade and close (not per message), read by the admin API to route `@connections` calls.
final class LocalDirectory: Sendable {
    private struct State {
        var loopOf: [ConnectionID: Int] = [:]
        var members: [String: Set<ConnectionID>] = [:]
        var groupsOf: [ConnectionID: Set<String>] = [:]
    }
    private let state = Mutex(State())

    func register(_ id: ConnectionID, loop: Int) {
        state.withLock { $0.loopOf[id] = loop }
    }

    /// Forgets the connection and takes it out of every group it joined.
    func unregister(_ id: ConnectionID) {
        state.withLock { s in
            s.loopOf.removeValue(forKey: id)
            for group in s.groupsOf.removeValue(forKey: id) ?? [] {
                s.members[group]?.remove(id)
                if s.members[group]?.isEmpty == true { s.members.removeValue(forKey: group) }
            }
        }
    }

    func loop(of id: ConnectionID) -> Int? {
        state.withLock { $0.loopOf[id] }
    }

    var count: Int { state.withLock { $0.loopOf.count } }

    /// Ids in a stable order, after `cursor`, at most `limit`.
    func page(after cursor: String?, limit: Int) -> (ids: [String], next: String?) {
        let all = state.withLock { $0.loopOf.keys.map(\.description) }.sorted()
        let start = cursor.map { c in all.firstIndex { $0 > c } ?? all.count } ?? 0
        let slice = Array(all[start..<min(all.count, start + limit)])
        let next = start + limit < all.count ? slice.last : nil
        return (slice, next)
    }

    /// False when the connection is not open on this node.
    func join(_ id: ConnectionID, group: String) -> Bool {
        state.withLock { s in
            guard s.loopOf[id] != nil else { return false }
            s.members[group, default: []].insert(id)
            s.groupsOf[id, default: []].insert(group)
            return true
        }
    }

    func leave(_ id: ConnectionID, group: String) -> Bool {
        state.withLock { s in
            guard s.loopOf[id] != nil else { return false }
            s.members[group]?.remove(id)
            if s.members[group]?.isEmpty == true { s.members.removeValue(forKey: group) }
            s.groupsOf[id]?.remove(group)
            return true
        }
    }

    func groups(of id: ConnectionID) -> [String] {
        state.withLock { Array($0.groupsOf[id] ?? []) }
    }

    /// Members of a group with the loop each lives on.
    func members(of group: String) -> [(ConnectionID, Int)] {
        state.withLock { s in
            (s.members[group] ?? []).compactMap { id in s.loopOf[id].map { (id, $0) } }
        }
    }
}
