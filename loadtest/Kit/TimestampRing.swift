/// A FIFO of send times for messages in flight on one connection. TCP keeps order and the
/// server answers in order, so the oldest entry belongs to the next answer. Memory is allocated
/// when the ring first fills to a new size, never per message.
struct TimestampRing {
    private var base: UnsafeMutablePointer<UInt64>?
    private var capacity = 0
    private var head = 0
    private(set) var count = 0

    init() {}

    @inline(__always)
    mutating func push(_ value: UInt64) {
        if count == capacity { grow() }
        base![(head &+ count) & (capacity &- 1)] = value
        count &+= 1
    }

    @inline(__always)
    mutating func pop() -> UInt64? {
        guard count > 0 else { return nil }
        let v = base![head]
        head = (head &+ 1) & (capacity &- 1)
        count &-= 1
        return v
    }

    mutating func reserve(_ n: Int) {
        while capacity < n { grow() }
    }

    private mutating func grow() {
        let newCapacity = max(4, capacity * 2)
        let newBase = UnsafeMutablePointer<UInt64>.allocate(capacity: newCapacity)
        for i in 0..<count { newBase[i] = base![(head + i) & (capacity - 1)] }
        base?.deallocate()
        base = newBase
        capacity = newCapacity
        head = 0
    }

    mutating func removeAll() {
        head = 0
        count = 0
    }

    mutating func free() {
        base?.deallocate()
        base = nil
        capacity = 0
        head = 0
        count = 0
    }
}

/// Bytes the socket has not taken yet; allocated only when a write backs up.
struct ByteQueue {
    private(set) var base: UnsafeMutableRawPointer?
    private(set) var count = 0
    private var capacity = 0

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if count + bytes.count > capacity {
            let newCapacity = max(count + bytes.count, capacity * 2, 4096)
            let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
            if let base { newBase.copyMemory(from: base, byteCount: count); base.deallocate() }
            base = newBase
            capacity = newCapacity
        }
        (base! + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count += bytes.count
    }

    /// Hands the memory to the caller, who deallocates it.
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
