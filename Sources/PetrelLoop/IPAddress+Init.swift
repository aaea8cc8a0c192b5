/// Building addresses from parsed text or a PROXY header, not only from a socket.
extension IPAddress {
    /// An IPv4 address, most significant byte first (192.0.2.1 is 0xC000_0201).
    public init(v4: UInt32) {
        high = UInt64(v4)
        low = 0
        isV4 = true
    }

    /// An IPv6 address as two 64-bit halves, most significant first. A v4-mapped address
    /// (`::ffff:a.b.c.d`) becomes plain IPv4, as for peers of a dual-stack socket.
    public init(v6High: UInt64, low: UInt64) {
        if v6High == 0, low >> 32 == 0xFFFF {
            high = low & 0xFFFF_FFFF
            self.low = 0
            isV4 = true
        } else {
            high = v6High
            self.low = low
            isV4 = false
        }
    }
}
