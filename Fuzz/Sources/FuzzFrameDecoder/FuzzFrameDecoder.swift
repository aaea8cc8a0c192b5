import PetrelCodecs

/// Input: byte 0 seeds the read sizes, byte 1 picks the limits, the rest is the client's byte stream.
/// Oracles: the events from reads of fuzzer-chosen sizes equal those from one read of the whole
/// stream; every text message is valid UTF-8; `.needMore` always means the read was consumed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let splitSeed = data[0]
    let limits = limitChoices[Int(data[1]) % limitChoices.count]
    let stream = Array(UnsafeBufferPointer(start: data + 2, count: size - 2))

    let whole = decode(stream, reads: [stream.count], limits: limits)
    let split = decode(stream, reads: readSizes(total: stream.count, seed: splitSeed), limits: limits)
    if whole != split {
        print("whole read: \(whole)\nsplit reads: \(split)")
        preconditionFailure("events depend on how the stream was split into reads")
    }
    return 0
}

private let limitChoices: [(frame: Int, message: Int)] = [
    (1 << 20, 1 << 20), (16, 32), (125, 125), (200, 1000), (0, 0), (65_536, 65_536),
]

/// A deterministic sequence of read sizes from 1 to 16 bytes (or the whole rest) drawn from the seed.
private func readSizes(total: Int, seed: UInt8) -> [Int] {
    var state = UInt32(seed) &* 2_654_435_761 &+ 1
    var sizes: [Int] = []
    var covered = 0
    while covered < total {
        state = state &* 1_664_525 &+ 1_013_904_223
        let size = Int(state >> 28) + 1
        sizes.append(size)
        covered += size
    }
    return sizes
}

private enum Event: Equatable {
    case message(UInt8, [UInt8]), ping([UInt8]), pong([UInt8]), close(UInt16?, [UInt8]), failure(UInt16)
}

private func decode(_ stream: [UInt8], reads: [Int], limits: (frame: Int, message: Int)) -> [Event] {
    var decoder = WebSocketFrameDecoder(maxFrameBytes: limits.frame, maxMessageBytes: limits.message)
    var events: [Event] = []
    var start = 0
    for readSize in reads where start < stream.count {
        let end = min(stream.count, start + readSize)
        var read = Array(stream[start..<end])
        start = end
        let failed = read.withUnsafeMutableBytes { input -> Bool in
            var offset = 0
            while true {
                switch decoder.next(input, offset: &offset) {
                case .needMore:
                    precondition(offset == input.count, "needMore before the read was consumed")
                    return false
                case .message(let opcode, let payload):
                    precondition(opcode == .text || opcode == .binary)
                    precondition(payload.count <= limits.message)
                    if opcode == .text {
                        precondition(String(validating: payload.bindMemory(to: UInt8.self), as: UTF8.self) != nil)
                    }
                    events.append(.message(opcode.rawValue, Array(payload)))
                case .ping(let payload):
                    precondition(payload.count <= 125)
                    events.append(.ping(Array(payload)))
                case .pong(let payload):
                    precondition(payload.count <= 125)
                    events.append(.pong(Array(payload)))
                case .close(let code, let reason):
                    if let code { precondition(WebSocketCloseCode.isValidOnWire(code)) }
                    events.append(.close(code, Array(reason)))
                case .failure(let code, _):
                    events.append(.failure(code.rawValue))
                    return true
                }
                precondition(offset <= input.count)
            }
        }
        if failed { break }
    }
    decoder.releaseMemory()
    return events
}
