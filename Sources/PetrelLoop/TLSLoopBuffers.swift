/// A loop's TLS memory, made when its first TLS connection reads or writes, shared by all its
/// TLS connections (one callback runs at a time), so a connection owns no TLS buffers.
final class TLSLoopBuffers {
    /// Decrypted bytes of one read, handed to `streamDidRead` (valid during that call only).
    let plaintext: UnsafeMutableRawBufferPointer
    static let plaintextSize = EventLoop.readBufferSize

    /// Joins a frame header and the start of its payload into one record for uncorked writes.
    let staging: UnsafeMutableRawPointer
    static let stagingSize = 16 * 1024

    /// Ciphertext produced by one TLS operation, sent with one write when the operation ends.
    let out: UnsafeMutableRawPointer
    var outCount = 0
    static let outCapacity = 256 * 1024

    init() {
        plaintext = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.plaintextSize, alignment: 16)
        staging = UnsafeMutableRawPointer.allocate(byteCount: Self.stagingSize, alignment: 16)
        out = UnsafeMutableRawPointer.allocate(byteCount: Self.outCapacity, alignment: 16)
    }

    deinit {
        plaintext.deallocate()
        staging.deallocate()
        out.deallocate()
    }
}

extension EventLoop {
    @inline(__always) var tls: TLSLoopBuffers {
        if let buffers = tlsBuffers { return buffers }
        let buffers = TLSLoopBuffers()
        tlsBuffers = buffers
        return buffers
    }
}
