/// Makes connection and request ids from a pool of random bytes, refilled in batches so one
/// id costs no system call. Owned by one event loop; not thread-safe by design.
///
/// 96 random bits per id make ids unique across a cluster without coordination.
public struct IDGenerator {
    private var pool: [UInt8]
    private var next: Int
    private let refill: (UnsafeMutableRawBufferPointer) -> Void

    /// `refill` fills a buffer with cryptographically strong random bytes.
    public init(batch: Int = 12 * 256, refill: @escaping (UnsafeMutableRawBufferPointer) -> Void) {
        pool = [UInt8](repeating: 0, count: batch)
        next = batch
        self.refill = refill
    }

    public mutating func makeID() -> ConnectionID {
        if next + 12 > pool.count {
            pool.withUnsafeMutableBytes { refill($0) }
            next = 0
        }
        let id = pool.withUnsafeBytes { ConnectionID(bytes: UnsafeRawBufferPointer(rebasing: $0[next..<next + 12])) }
        next += 12
        return id
    }
}
