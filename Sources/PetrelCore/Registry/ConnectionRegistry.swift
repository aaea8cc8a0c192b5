/// What the cluster knows about one open connection (DESIGN §7: `petrel:conn:{id}`).
public struct ConnectionRecord: Sendable, Equatable {
    public var id: ConnectionID
    public var node: String
    public var connectedAtMs: Int64
    public var sourceIp: String
    public var userAgent: String
    public var domainName: String
    public var lastActiveAtMs: Int64

    public init(id: ConnectionID, node: String, connectedAtMs: Int64, sourceIp: String, userAgent: String,
                domainName: String, lastActiveAtMs: Int64) {
        self.id = id
        self.node = node
        self.connectedAtMs = connectedAtMs
        self.sourceIp = sourceIp
        self.userAgent = userAgent
        self.domainName = domainName
        self.lastActiveAtMs = lastActiveAtMs
    }
}

public enum RegistryLookup: Sendable, Equatable {
    case found(ConnectionRecord)
    /// No such connection anywhere in the cluster (410).
    case gone
    /// The registry cannot be asked right now (503).
    case unavailable
}

/// The cluster-wide connection registry, behind which the gateway does not know whether it runs
/// alone (in memory) or with other nodes (Redis). Local connections are found without asking it.
///
/// Guarantees every implementation gives (checked by one shared contract suite):
/// - An instance belongs to one event loop; completions run on that loop, exactly once.
/// - `register` then `lookup` from any node finds the record until `unregister` or expiry.
/// - A connection leaves every group it joined when it is unregistered.
/// - When the backing store is unreachable, calls complete with `.unavailable`/`false`/`nil`
///   quickly instead of waiting; the caller keeps serving local connections.
public protocol ConnectionRegistry: AnyObject {
    var isAvailable: Bool { get }
    /// Completes with true once the record is stored cluster-wide.
    func register(_ record: ConnectionRecord, ttlMs: Int64, completion: @escaping (Bool) -> Void)
    func unregister(_ id: ConnectionID, node: String, completion: @escaping (Bool) -> Void)
    func lookup(_ id: ConnectionID, completion: @escaping (RegistryLookup) -> Void)
    func join(_ id: ConnectionID, group: String, completion: @escaping (Bool) -> Void)
    func leave(_ id: ConnectionID, group: String, completion: @escaping (Bool) -> Void)
    /// Members of a group across the cluster; nil when unavailable.
    func members(of group: String, completion: @escaping ([ConnectionID]?) -> Void)
    /// Batched `lastActiveAt` refresh that also extends the records' expiry.
    func touch(_ ids: [ConnectionID], atMs: Int64, ttlMs: Int64)
}
