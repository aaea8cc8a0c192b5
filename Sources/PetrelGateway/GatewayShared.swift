import PetrelCore
import PetrelLoop
import PetrelRedis
import Synchronization

/// What every loop of one gateway process shares: node-wide limiters and the drain flag.
final class GatewayShared: Sendable {
    let nodeId: String
    let connectRate: Mutex<SharedTokenBucket?>
    let draining = Atomic<Bool>(false)
    let directory = LocalDirectory()
    /// Open WebSockets per node and per client address (`max_connections`, `max_connections_per_ip`).
    let admission = ConnectionAdmission()
    /// Every worker loop's mailbox, by loop index; set once all loops run.
    let mailboxes = Mutex<[LoopMailbox]>([])

    /// Set with `registry.redis`: every loop then keeps its own Redis command connection.
    let redis: RedisEndpoint?
    /// Loop 0's view of Redis, for `/readyz` (DESIGN §7: the registry must be reachable).
    let registryReachable = Atomic<Bool>(true)

    init(nodeId: String, redis: RedisEndpoint?) {
        self.nodeId = nodeId
        self.redis = redis
        if redis != nil { registryReachable.store(false, ordering: .relaxed) }
        connectRate = Mutex(nil)
    }
}
