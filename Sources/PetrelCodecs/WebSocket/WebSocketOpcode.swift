/// Frame opcodes defined by RFC 6455 §5.2 (§11.8 registry). 3-7 and 0xB-0xF are reserved and never
/// decoded into this type: the decoder fails the connection on them.
public enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0
    case text = 1
    case binary = 2
    case close = 8
    case ping = 9
    case pong = 10

    /// Control frames have the high bit of the opcode set (RFC 6455 §5.5).
    public var isControl: Bool { rawValue & 0x8 != 0 }
}
