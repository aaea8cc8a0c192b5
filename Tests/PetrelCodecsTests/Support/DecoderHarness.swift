import PetrelCodecs
import Testing

/// A decoder event with its payload copied out, so it can outlive the call and be compared.
enum DecodedEvent: Equatable, CustomStringConvertible {
    case message(WebSocketOpcode, [UInt8])
    case ping([UInt8])
    case pong([UInt8])
    case close(code: UInt16?, reason: [UInt8])
    case failure(code: UInt16)

    static func text(_ text: String) -> DecodedEvent { .message(.text, Array(text.utf8)) }

    var description: String {
        switch self {
        case .message(let opcode, let payload): return "message(\(opcode), \(payload.count) bytes)"
        case .ping(let payload): return "ping(\(payload))"
        case .pong(let payload): return "pong(\(payload))"
        case .close(let code, let reason): return "close(\(code.map(String.init) ?? "nil"), \(reason))"
        case .failure(let code): return "failure(\(code))"
        }
    }
}

/// Feeds reads to a `WebSocketFrameDecoder` the way the event loop does: one mutable read buffer
/// per read, `next` until `.needMore`, nothing after a failure.
struct DecoderHarness {
    var decoder: WebSocketFrameDecoder
    private(set) var events: [DecodedEvent] = []
    private(set) var hasFailed = false

    init(maxFrameBytes: Int = 1 << 20, maxMessageBytes: Int = 1 << 20) {
        decoder = WebSocketFrameDecoder(maxFrameBytes: maxFrameBytes, maxMessageBytes: maxMessageBytes)
    }

    mutating func feed(_ read: [UInt8]) {
        guard !hasFailed else { return }
        var buffer = read
        buffer.withUnsafeMutableBytes { input in
            var offset = 0
            while true {
                let event = decoder.next(input, offset: &offset)
                switch event {
                case .needMore:
                    #expect(offset == input.count, "needMore must mean the whole read was consumed")
                    return
                case .message(let opcode, let payload):
                    events.append(.message(opcode, Array(payload)))
                case .ping(let payload):
                    events.append(.ping(Array(payload)))
                case .pong(let payload):
                    events.append(.pong(Array(payload)))
                case .close(let code, let reason):
                    events.append(.close(code: code, reason: Array(reason)))
                case .failure(let code, _):
                    events.append(.failure(code: code.rawValue))
                    hasFailed = true
                    return
                }
            }
        }
    }

    /// Decodes `frames` delivered as `mode` says and returns every event.
    static func decode(
        _ frames: [[UInt8]], mode: FeedMode, maxFrameBytes: Int = 1 << 20, maxMessageBytes: Int = 1 << 20
    ) -> [DecodedEvent] {
        var harness = DecoderHarness(maxFrameBytes: maxFrameBytes, maxMessageBytes: maxMessageBytes)
        for read in mode.reads(of: frames) {
            harness.feed(read)
        }
        return harness.events
    }
}
