import PetrelCore
import Synchronization

/// A node-wide token bucket shared by every loop (connect rate, DESIGN §4). Taken once per
/// handshake, so a lock is cheap enough here.
final class SharedTokenBucket: Sendable {
    private let bucket: Mutex<TokenBucket>

    init(rate: Double, burst: Int, nowMs: Int64) {
        bucket = Mutex(TokenBucket(rate: rate, burst: burst, nowMs: nowMs))
    }

    /// Nil when a token was taken, else the seconds to wait (for Retry-After).
    func take(nowMs: Int64) -> Int? {
        bucket.withLock { b in b.tryTake(nowMs: nowMs) ? nil : b.secondsUntilNextToken() }
    }
}
