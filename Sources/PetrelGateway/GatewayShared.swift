import Synchronization

/// What every loop of one gateway process shares: node-wide limiters and the drain flag.
final class GatewayShared: Sendable {
    let nodeId: String
    let connectRate: Mutex<SharedTokenBucket?>
    let draining = Atomic<Bool>(false)

    init(nodeId: String) {
        self.nodeId = nodeId
        connectRate = Mutex(nil)
    }
}
