import PetrelCore

/// The registry of a node that runs alone: its local directory already knows every connection
/// there is, so registering stores nothing more (a full record per connection would cost about
/// 200 bytes of the ~1 KiB idle-connection budget) and a lookup that reaches the registry — an id
/// not on this node — is gone.
final class SingleNodeRegistry: ConnectionRegistry {
    let directory: LocalDirectory

    init(directory: LocalDirectory) {
        self.directory = directory
    }

    var isAvailable: Bool { true }

    func register(_ record: ConnectionRecord, ttlMs: Int64, completion: @escaping (Bool) -> Void) { completion(true) }
    func unregister(_ id: ConnectionID, node: String, completion: @escaping (Bool) -> Void) { completion(true) }

    func lookup(_ id: ConnectionID, completion: @escaping (RegistryLookup) -> Void) {
        completion(.gone)
    }

    func join(_ id: ConnectionID, group: String, completion: @escaping (Bool) -> Void) {
        completion(directory.join(id, group: group))
    }

    func leave(_ id: ConnectionID, group: String, completion: @escaping (Bool) -> Void) {
        completion(directory.leave(id, group: group))
    }

    func members(of group: String, completion: @escaping ([ConnectionID]?) -> Void) {
        completion(directory.members(of: group).map(\.0))
    }

    func touch(_ ids: [ConnectionID], atMs: Int64, ttlMs: Int64) {}
}
