import PetrelCodecs

/// Input: byte 0 seeds the read sizes, byte 1 picks the limits, the rest is the client's byte stream.
/// Oracle: requests (and the failure status) from reads of fuzzer-chosen sizes equal those from one
/// read of the whole stream, and `bufferedByteCount` agrees at the end; and streaming each body
/// (`nextHead` + `readBody` into fuzzer-sized buffers) gives the same requests, bytes and failure
/// as buffering it (`next`).
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
    var streamed = parseStreaming(stream, reads: readSizes(total: stream.count, seed: splitSeed), limits: limits,
                                  bodyReadSeed: splitSeed)
    var expected = split
    if streamed.leftover < 0 {
        // Streaming ended inside a request (head taken): its leftover is not comparable.
        streamed.leftover = 0
        expected.leftover = 0
    }
    if expected != streamed {
        print("buffered: \(expected)\nstreamed: \(streamed)")
        preconditionFailure("streaming the body gives other bytes than buffering it")
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

        init(_ head: HTTPRequestHead, body: [UInt8]) {
            method = head.method
            target = head.target
            path = head.path
            query = head.query
            versionMinor = head.versionMinor
            keepAlive = head.keepAlive
            headerCount = head.headers.entries.count
            self.body = body
        }
    }
    var requests: [Request] = []
    var failureStatus: Int?
    var leftover = 0
}

private func parse(_ stream: [UInt8], reads: [Int], limits: (header: Int, body: Int)) -> Outcome {
    var parser = HTTPRequestParser(maxHeaderBytes: limits.header, maxBodyBytes: limits.body)
    var outcome = Outcome()
    feed(stream, reads: reads, into: &parser) { parser in
        while true {
            switch parser.next() {
            case .needMore:
                return true
            case .request(let request):
                let head = request.head
                precondition(request.body.count <= limits.body)
                precondition(head.versionMinor == 0 || head.versionMinor == 1)
                precondition(!head.method.isEmpty && !head.target.isEmpty)
                outcome.requests.append(.init(head, body: request.body))
            case .failure(let error):
                precondition([400, 413, 414, 431, 501, 505].contains(error.status))
                outcome.failureStatus = error.status
                return false
            }
        }
    }
    if outcome.failureStatus == nil {
        outcome.leftover = parser.takeUnconsumedBytes().count
    }
    return outcome
}

/// As `parse`, but each request's head through `nextHead` and its body through `readBody`.
private func parseStreaming(_ stream: [UInt8], reads: [Int], limits: (header: Int, body: Int), bodyReadSeed: UInt8) -> Outcome {
    var parser = HTTPRequestParser(maxHeaderBytes: limits.header, maxBodyBytes: limits.body)
    var outcome = Outcome()
    var current: (head: HTTPRequestHead, body: [UInt8])?
    var state = UInt32(bodyReadSeed) &+ 7
    var scratch = [UInt8](repeating: 0, count: 64)
    feed(stream, reads: reads, into: &parser) { parser in
        while true {
            if var request = current {
                state = state &* 1_664_525 &+ 1_013_904_223
                let room = Int(state >> 26) + 1
                let read = scratch.withUnsafeMutableBytes { parser.readBody(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<room])) }
                switch read {
                case .bytes(let count):
                    precondition(count > 0 && count <= room)
                    request.body += scratch[0..<count]
                    precondition(request.body.count <= limits.body)
                    current = request
                case .end:
                    precondition(!parser.isReadingBody)
                    outcome.requests.append(.init(request.head, body: request.body))
                    current = nil
                case .needMore:
                    return true
                case .failure(let error):
                    outcome.failureStatus = error.status
                    return false
                }
                continue
            }
            switch parser.nextHead() {
            case .needMore:
                return true
            case .head(let head, let framing):
                if case .contentLength(let length) = framing { precondition(length > 0 && length <= limits.body) }
                current = (head, [])
            case .failure(let error):
                outcome.failureStatus = error.status
                return false
            }
        }
    }
    if outcome.failureStatus == nil {
        outcome.leftover = current == nil ? parser.takeUnconsumedBytes().count : -1
    }
    return outcome
}

/// Feeds `stream` to `parser` in reads of `reads` bytes; after each, `take` takes what it can and
/// says whether to go on.
private func feed(_ stream: [UInt8], reads: [Int], into parser: inout HTTPRequestParser,
                  take: (inout HTTPRequestParser) -> Bool) {
    var start = 0
    for readSize in reads where start < stream.count {
        let end = min(stream.count, start + readSize)
        stream[start..<end].withUnsafeBytes { parser.feed($0) }
        start = end
        if !take(&parser) { return }
    }
}
