import PetrelCodecs

/// Input: byte 0 seeds the read sizes, byte 1 picks the limits, the rest is the client's byte stream.
/// Oracle: requests (and the failure status) from reads of fuzzer-chosen sizes equal those from one
/// read of the whole stream, and `bufferedByteCount` agrees at the end.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let splitSeed = data[0]
    let limits = limitChoices[Int(data[1]) % limitChoices.count]
    let stream = Array(UnsafeBufferPointer(start: data + 2, count: size - 2))

    let whole = parse(stream, reads: [stream.count], limits: limits)
    let split = parse(stream, reads: readSizes(total: stream.count, seed: splitSeed), limits: limits)
    if whole != split {
        print("whole read: \(whole)\nsplit reads: \(split)")
        preconditionFailure("result depends on how the stream was split into reads")
    }
    return 0
}

private let limitChoices: [(header: Int, body: Int)] = [(8192, 1 << 20), (64, 16), (256, 0), (1024, 100)]

private func readSizes(total: Int, seed: UInt8) -> [Int] {
    var state = UInt32(seed) &* 2_654_435_761 &+ 1
    var sizes: [Int] = []
    var covered = 0
    while covered < total {
        state = state &* 1_664_525 &+ 1_013_904_223
        let size = Int(state >> 27) + 1
        sizes.append(size)
        covered += size
    }
    return sizes
}

private struct Outcome: Equatable {
    struct Request: Equatable {
        var method, target, path: String
        var query: String?
        var versionMinor: Int
        var keepAlive: Bool
        var headerCount: Int
        var body: [UInt8]
    }
    var requests: [Request] = []
    var failureStatus: Int?
    var leftover = 0
}

private func parse(_ stream: [UInt8], reads: [Int], limits: (header: Int, body: Int)) -> Outcome {
    var parser = HTTPRequestParser(maxHeaderBytes: limits.header, maxBodyBytes: limits.body)
    var outcome = Outcome()
    var start = 0
    feeding: for readSize in reads where start < stream.count {
        let end = min(stream.count, start + readSize)
        stream[start..<end].withUnsafeBytes { parser.feed($0) }
        start = end
        while true {
            switch parser.next() {
            case .needMore:
                continue feeding
            case .request(let request):
                let head = request.head
                precondition(request.body.count <= limits.body)
                precondition(head.versionMinor == 0 || head.versionMinor == 1)
                precondition(!head.method.isEmpty && !head.target.isEmpty)
                outcome.requests.append(.init(
                    method: head.method, target: head.target, path: head.path, query: head.query,
                    versionMinor: head.versionMinor, keepAlive: head.keepAlive,
                    headerCount: head.headers.entries.count, body: request.body))
            case .failure(let error):
                precondition([400, 413, 414, 431, 501, 505].contains(error.status))
                outcome.failureStatus = error.status
                break feeding
            }
        }
    }
    if outcome.failureStatus == nil {
        outcome.leftover = parser.takeUnconsumedBytes().count
    }
    return outcome
}
