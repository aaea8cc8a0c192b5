/// A growable heap buffer with a stable address, for payloads that do not arrive in one read.
///
/// A class so that its memory is freed by `deinit` whatever happens to the decoder, and so that a
/// pointer handed out in an event stays valid until the decoder drops the buffer on its next call.
/// Not `Sendable`: it belongs to one connection on one loop.
final class ByteAccumulator {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var count = 0
    private(set) var capacity: Int

    init(capacity: Int) {
        self.capacity = Swift.max(capacity, 16)
        base = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Appends, growing geometrically but never beyond `limit` (the largest size the caller allows),
    /// so a message limit of 128 KiB never reserves 256 KiB.
    func append(_ source: UnsafeRawBufferPointer, limit: Int) {
        guard let sourceBase = source.baseAddress, !source.isEmpty else { return }
        let needed = count + source.count
        if needed > capacity {
            var newCapacity = Swift.max(needed, Swift.min(capacity * 2, limit))
            newCapacity = Swift.max(newCapacity, needed)
            let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
            newBase.copyMemory(from: base, byteCount: count)
            base.deallocate()
            base = newBase
            capacity = newCapacity
        }
        (base + count).copyMemory(from: sourceBase, byteCount: source.count)
        count = needed
    }
}
