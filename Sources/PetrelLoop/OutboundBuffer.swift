/// A growable byte buffer in malloc'd memory, for bytes a socket has not yet taken.
/// Allocated only when a write could not complete at once, so idle connections own none.
struct OutboundBuffer {
    private(set) var base: UnsafeMutableRawPointer?
    private(set) var count = 0
    private var capacity = 0

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserve(count + bytes.count)
        (base! + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count += bytes.count
    }

    private mutating func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        let newCapacity = max(needed, capacity * 2, 4096)
        let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if let base {
            newBase.copyMemory(from: base, byteCount: count)
            base.deallocate()
        }
        base = newBase
        capacity = newCapacity
    }

    /// Hands the memory to the caller (who deallocates it) and leaves the buffer empty.
    mutating func take() -> (UnsafeMutableRawPointer, Int)? {
        guard let base, count > 0 else { return nil }
        let taken = (base, count)
        self.base = nil
        count = 0
        capacity = 0
        return taken
    }

    mutating func free() {
        base?.deallocate()
        base = nil
        count = 0
        capacity = 0
    }
}
