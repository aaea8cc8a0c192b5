import PetrelLoop
import Synchronization

/// What every loop of one gateway process shares: node-wide limiters and the drain flag.
final class GatewayShared: Sendable {
    let nodeId: String
    let connectRate: Mutex<SharedTokenBucket?>
    let draining = Atomic<Bool>(false)
    let directory = LocalDirectory()
    /// Every worker loop's mailbox, by loop index; set once all loops run.
    let mailboxes = Mutex<[LoopMailbox]>([])

    init(nodeId: String) {
        self.nodeId = nodeId
        connectRate = Mutex(nil)
    }
}
