import PetrelCodecs

/// Input: byte 0 says whether the request was HEAD (bit 0), picks `maxHeadBytes` (bits 1-2) and
/// seeds the read sizes; the rest is the backend's byte stream, decoded as responses back to back
/// (`start` after each `.end`) until it runs out, then closed (`finishAtEOF`).
/// Oracles: the responses (status, fields, body, reusable), the error or the EOF outcome and the
/// bytes consumed are the same from one read of the whole stream, from two reads split at a point
/// taken from the data, from reads of seeded sizes and, for short streams, from one byte per read;
/// every body range lies in the read and ends where `offset` now is; `.needMore` means the read was
/// consumed; a head is never 1xx; every call makes progress.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let control = data[0]
    let requestWasHEAD = control & 1 != 0
    let maxHeadBytes = limitChoices[Int(control >> 1) & 3]
    let stream = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))

    let whole = decode(stream, reads: [stream.count], requestWasHEAD: requestWasHEAD, maxHeadBytes: maxHeadBytes)
    let splitPoint = stream.isEmpty ? 0 : (Int(control) << 8 | Int(stream[stream.count / 2])) % (stream.count + 1)
    var splits = [
        ("two reads at \(splitPoint)", [splitPoint, stream.count - splitPoint]),
        ("seeded reads", readSizes(total: stream.count, seed: control)),
    ]
    if stream.count <= 256 { splits.append(("byte by byte", Array(repeating: 1, count: stream.count))) }
    for (name, reads) in splits {
        let split = decode(stream, reads: reads, requestWasHEAD: requestWasHEAD, maxHeadBytes: maxHeadBytes)
        if split != whole {
            print("whole read: \(whole)\n\(name): \(split)")
            preconditionFailure("outcome depends on how the stream was split into reads")
        }
    }
    return 0
}

private let limitChoices = [64 * 1024, 1024, 128, 40]

/// A deterministic sequence of read sizes from 1 to 32 bytes drawn from the seed.
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
    struct Response: Equatable {
        var status: Int
        var headers: [HTTPResponseDecoder.HTTPHeaderField]
        var body: [UInt8] = []
        /// nil while the response is unfinished.
        var reusable: Bool?
    }
    var responses: [Response] = []
    /// What ended decoding: a thrown error, or nil when `finishAtEOF` returned `.end`.
    var error: HTTPResponseDecodeError?
    /// Bytes of the stream consumed by finished responses (the offset after the last `.end`).
    var consumedByFinished = 0
}

private func decode(_ stream: [UInt8], reads: [Int], requestWasHEAD: Bool, maxHeadBytes: Int) -> Outcome {
    var decoder = HTTPResponseDecoder(maxHeadBytes: maxHeadBytes)
    decoder.start(requestWasHEAD: requestWasHEAD)
    var outcome = Outcome()
    var readStart = 0
    for readSize in reads {
        // A fresh copy per read: nothing of a read may be used after the call that received it.
        let read = Array(stream[readStart..<min(stream.count, readStart + readSize)])
        let failed = read.withUnsafeBytes { bytes -> Bool in
            var offset = 0
            var callsWithoutProgress = 0
            while true {
                let before = offset
                let event: HTTPResponseDecoder.Event
                do throws(HTTPResponseDecodeError) {
                    event = try decoder.next(bytes, offset: &offset)
                } catch {
                    outcome.error = error
                    return true
                }
                precondition(offset >= before && offset <= bytes.count, "offset moved backwards or out of the read")
                callsWithoutProgress = offset == before ? callsWithoutProgress + 1 : 0
                precondition(callsWithoutProgress <= 2, "no progress")
                switch event {
                case .needMore:
                    precondition(offset == bytes.count, "needMore with bytes left in the read")
                    return false
                case .head(let status, let headers):
                    precondition(status >= 200 && status <= 599, "interim or invalid status reported")
                    precondition(offset > before && decoder.hasReceivedBytes)
                    precondition(outcome.responses.last.map { $0.reusable != nil } ?? true, "head inside a response")
                    precondition(headers.allSatisfy { !$0.name.isEmpty })
                    outcome.responses.append(.init(status: status, headers: headers))
                case .body(let range):
                    precondition(!range.isEmpty && range.lowerBound >= before && range.upperBound == offset,
                                 "body range outside what this call consumed")
                    precondition(outcome.responses.last.map { $0.reusable == nil } ?? false, "body outside a response")
                    outcome.responses[outcome.responses.count - 1].body += bytes[range]
                case .end(let reusable):
                    precondition(outcome.responses.last.map { $0.reusable == nil } ?? false, "end outside a response")
                    outcome.responses[outcome.responses.count - 1].reusable = reusable
                    outcome.consumedByFinished = readStart + offset
                    decoder.start(requestWasHEAD: requestWasHEAD)
                    precondition(!decoder.hasReceivedBytes)
                }
            }
        }
        if failed { return outcome }
        readStart += read.count
    }
    do throws(HTTPResponseDecodeError) {
        let event = try decoder.finishAtEOF()
        guard case .end(false) = event,
              let last = outcome.responses.last, last.reusable == nil else {
            preconditionFailure("finishAtEOF returned \(event) outside a close-delimited body")
        }
        outcome.responses[outcome.responses.count - 1].reusable = false
    } catch {
        // Every response that ended was followed by `start`: EOF there is before the next response.
        precondition(error != .closedBeforeResponse || outcome.responses.last.map { $0.reusable != nil } ?? true)
        outcome.error = error
    }
    return outcome
}
