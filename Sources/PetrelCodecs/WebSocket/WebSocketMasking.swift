/// XOR masking of client payloads (RFC 6455 §5.3): octet i of the payload is XORed with octet
/// (i mod 4) of the 4-byte masking key. Unmasking is the same operation.
enum WebSocketMasking {
    /// XORs `count` bytes at `bytes` in place with `key`, where the first byte is payload octet number
    /// `payloadIndex` of its frame. `payloadIndex` matters when a payload spans reads: the key keeps
    /// rotating from where the previous read stopped.
    ///
    /// `key` holds the 4 key octets in wire order in memory (as loaded from the frame).
    @inline(__always)
    static func unmask(_ bytes: UnsafeMutableRawPointer, count: Int, key: UInt32, payloadIndex: Int) {
        let rotatedKey = rotate(key, byOctets: payloadIndex & 3)
        // Both halves are the same key, so the word is right whatever the byte order.
        let wideKey = UInt64(rotatedKey) | (UInt64(rotatedKey) << 32)
        var index = 0
        while index &+ 8 <= count {
            let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            bytes.storeBytes(of: word ^ wideKey, toByteOffset: index, as: UInt64.self)
            index &+= 8
        }
        let tailCount = count &- index
        if tailCount > 0 {
            // index is a multiple of 8 here, so the tail starts at key octet 0 of the rotated key.
            var tail: UInt64 = 0
            withUnsafeMutableBytes(of: &tail) { scratch in
                let scratchBase = scratch.baseAddress!
                scratchBase.copyMemory(from: bytes + index, byteCount: tailCount)
                scratch.storeBytes(of: scratch.load(as: UInt64.self) ^ wideKey, as: UInt64.self)
                (bytes + index).copyMemory(from: scratchBase, byteCount: tailCount)
            }
        }
    }

    /// Returns the key as it looks in memory when starting `octets` bytes into it.
    @inline(__always)
    static func rotate(_ key: UInt32, byOctets octets: Int) -> UInt32 {
        if octets == 0 { return key }
        let bits = UInt32(truncatingIfNeeded: octets &* 8)
        #if _endian(little)
        return (key >> bits) | (key << (32 &- bits))
        #else
        return (key << bits) | (key >> (32 &- bits))
        #endif
    }
}
