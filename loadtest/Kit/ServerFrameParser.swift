/// Parses the frames a server sends (RFC 6455 §5.2): unmasked, any length, fragmented or not.
///
/// The gateway's `WebSocketFrameDecoder` is written for the server side and rejects unmasked
/// frames (§5.1), so the client needs its own. A pure state machine: it never copies payload
/// bytes, it hands out the slices that arrived, so a payload spanning several reads is verified
/// piece by piece and nothing is allocated per message.
public struct ServerFrameParser {
    public enum Event: Equatable {
        /// More bytes are needed; everything up to the end of the input was consumed.
        case needMore
        /// A frame header: opcode (raw), FIN bit, payload length.
        case frameStart(opcode: UInt8, fin: Bool, length: Int)
        /// Payload bytes of the current frame: `count` bytes at `offset` in the input.
        case payload(offset: Int, count: Int)
        /// The current frame's payload is complete.
        case frameEnd
        /// The bytes break the protocol; the connection must be dropped.
        case protocolError(ProtocolError)
    }

    public enum ProtocolError: String, Equatable, Sendable {
        case maskedServerFrame = "masked_server_frame"
        case reservedBits = "reserved_bits"
        case badOpcode = "bad_opcode"
        case controlTooLong = "control_frame_too_long"
        case fragmentedControl = "fragmented_control_frame"
        case badLength = "bad_length"
    }

    private var header: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    private var headerCount = 0
    private var remaining = 0
    private var inPayload = false
    private var endPending = false

    public init() {}

    /// The next event from `input` starting at `offset`; advances `offset` past what it used.
    public mutating func next(_ input: UnsafeRawBufferPointer, offset: inout Int) -> Event {
        if endPending {
            endPending = false
            inPayload = false
            return .frameEnd
        }
        if inPayload {
            if remaining == 0 { inPayload = false; return .frameEnd }
            let available = input.count - offset
            if available <= 0 { return .needMore }
            let take = min(available, remaining)
            let start = offset
            offset += take
            remaining -= take
            if remaining == 0 { endPending = true }
            return .payload(offset: start, count: take)
        }
        // Gather the header: 2 bytes, then 0, 2 or 8 length bytes.
        while offset < input.count {
            let byte = input[offset]
            offset += 1
            withUnsafeMutableBytes(of: &header) { $0[headerCount] = byte }
            headerCount += 1
            let need = headerLength
            if headerCount == need { return finishHeader() }
        }
        return .needMore
    }

    private var headerLength: Int {
        guard headerCount >= 2 else { return 2 }
        switch header.1 & 0x7F {
        case 126: return 4
        case 127: return 10
        default: return 2
        }
    }

    private mutating func finishHeader() -> Event {
        headerCount = 0
        let b0 = header.0, b1 = header.1
        if b1 & 0x80 != 0 { return .protocolError(.maskedServerFrame) }
        if b0 & 0x70 != 0 { return .protocolError(.reservedBits) }
        let opcode = b0 & 0x0F
        let fin = b0 & 0x80 != 0
        switch opcode {
        case 0, 1, 2, 8, 9, 10: break
        default: return .protocolError(.badOpcode)
        }
        var length: Int
        switch b1 & 0x7F {
        case 126:
            length = Int(header.2) << 8 | Int(header.3)
        case 127:
            var v: UInt64 = 0
            withUnsafeBytes(of: header) { raw in for i in 2..<10 { v = v << 8 | UInt64(raw[i]) } }
            if v >> 62 != 0 { return .protocolError(.badLength) }
            length = Int(v)
        default:
            length = Int(b1 & 0x7F)
        }
        if opcode >= 8 {
            if length > 125 { return .protocolError(.controlTooLong) }
            if !fin { return .protocolError(.fragmentedControl) }
        }
        remaining = length
        inPayload = true
        return .frameStart(opcode: opcode, fin: fin, length: length)
    }
}

/// Writes masked client frames (RFC 6455 §5.3) into caller memory: header, key, payload XORed
/// with the key. No allocation: the caller hands the destination (the loop's cork buffer).
public enum ClientFrameWriter {
    /// Bytes a frame needs: header (2, 4 or 10) + 4 key bytes + payload.
    @inline(__always)
    public static func frameSize(payloadLength n: Int) -> Int {
        (n <= 125 ? 2 : (n <= 0xFFFF ? 4 : 10)) + 4 + n
    }

    /// Writes one FIN frame at `dst`; returns its size. `key` is the 4 masking octets as a word
    /// in memory order.
    @inline(__always)
    public static func write(into dst: UnsafeMutableRawPointer, opcode: UInt8, payload: UnsafeRawBufferPointer, key: UInt32) -> Int {
        let n = payload.count
        dst.storeBytes(of: 0x80 | opcode, as: UInt8.self)
        var h: Int
        if n <= 125 {
            dst.storeBytes(of: UInt8(0x80 | n), toByteOffset: 1, as: UInt8.self)
            h = 2
        } else if n <= 0xFFFF {
            dst.storeBytes(of: UInt8(0x80 | 126), toByteOffset: 1, as: UInt8.self)
            dst.storeBytes(of: UInt16(n).bigEndian, toByteOffset: 2, as: UInt16.self)
            h = 4
        } else {
            dst.storeBytes(of: UInt8(0x80 | 127), toByteOffset: 1, as: UInt8.self)
            dst.storeBytes(of: UInt64(n).bigEndian, toByteOffset: 2, as: UInt64.self)
            h = 10
        }
        dst.storeBytes(of: key, toByteOffset: h, as: UInt32.self)
        h += 4
        if n > 0 {
            (dst + h).copyMemory(from: payload.baseAddress!, byteCount: n)
            mask(dst + h, count: n, key: key)
        }
        return h + n
    }

    /// XORs `count` bytes in place with the key, 8 bytes at a time.
    @inline(__always)
    public static func mask(_ bytes: UnsafeMutableRawPointer, count: Int, key: UInt32) {
        let wide = UInt64(key) | UInt64(key) << 32
        var i = 0
        while i &+ 8 <= count {
            let w = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            bytes.storeBytes(of: w ^ wide, toByteOffset: i, as: UInt64.self)
            i &+= 8
        }
        // i is a multiple of 8 (and of 4), so the tail starts at key octet 0.
        var k = key
        withUnsafeBytes(of: &k) { keyBytes in
            var j = 0
            while i < count {
                let b = bytes.load(fromByteOffset: i, as: UInt8.self)
                bytes.storeBytes(of: b ^ keyBytes[j & 3], toByteOffset: i, as: UInt8.self)
                i &+= 1
                j &+= 1
            }
        }
    }
}

/// A small fast PRNG for masking keys (RFC 6455 §5.3 asks for unpredictable keys to defeat cache
/// poisoning by proxies; a load generator needs them cheap rather than cryptographic).
public struct XorShift64 {
    private var state: UInt64
    public init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    @inline(__always)
    public mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
