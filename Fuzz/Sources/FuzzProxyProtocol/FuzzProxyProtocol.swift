import Glibc
import PetrelCodecs

/// Input: byte 0 picks the mode and seeds the read sizes, the rest is the balancer's byte stream.
/// - Header mode (bit 1 clear; bit 0 picks v1/v2): the result from reads of fuzzer-chosen sizes
///   equals the result of one read of the whole stream, the header ends exactly where the whole
///   read says, and what is left after it is never taken by the decoder.
/// - Address mode (bit 1 set): `IPAddressText` agrees with the C library's `inet_pton` for IPv4
///   (bit 0 clear) and IPv6 (bit 0 set).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let control = data[0]
    let stream = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if control & 2 != 0 {
        checkAddressText(stream, v6: control & 1 != 0)
        return 0
    }
    let version: ProxyProtocolDecoder.Version = control & 1 == 0 ? .v1 : .v2
    let whole = decode(stream, reads: [max(1, stream.count)], version: version)
    let split = decode(stream, reads: readSizes(total: stream.count, seed: control), version: version)
    if whole != split {
        print("whole read: \(whole)\nsplit reads: \(split)")
        preconditionFailure("result depends on how the stream was split into reads")
    }
    if case .header(let header, let end) = whole.result {
        precondition(end == header.length && end <= stream.count, "header length and consumed bytes disagree")
        precondition(version == .v1 ? header.length <= ProxyProtocolDecoder.v1MaxBytes : header.length >= 16)
        if version == .v1, header.source == nil {
            precondition(stream.starts(with: Array("PROXY UNKNOWN".utf8)))
        }
    }
    return 0
}

private struct Outcome: Equatable {
    enum Result: Equatable {
        case needMore
        /// The header, and its end as an offset into the whole stream.
        case header(ProxyHeader, end: Int)
        case invalid(ProxyProtocolError)
    }
    var result: Result = .needMore
}

private func decode(_ stream: [UInt8], reads: [Int], version: ProxyProtocolDecoder.Version) -> Outcome {
    var decoder = ProxyProtocolDecoder(version: version, maxV2Bytes: 512)
    var start = 0
    for readSize in reads where start < stream.count {
        let end = min(stream.count, start + readSize)
        let result = stream[start..<end].withUnsafeBytes { decoder.feed($0) }
        switch result {
        case .needMore:
            precondition(decoder.bufferedByteCount == end, "a pending header buffers every byte fed")
            start = end
        case .header(let header, let consumed):
            precondition(consumed >= 1 && consumed <= end - start, "consumed outside the chunk")
            return Outcome(result: .header(header, end: start + consumed))
        case .invalid(let error):
            return Outcome(result: .invalid(error))
        }
    }
    return Outcome(result: .needMore)
}

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

private func checkAddressText(_ text: [UInt8], v6: Bool) {
    guard !text.contains(0), text.count < 200 else { return }
    let cString = text.map { CChar(bitPattern: $0) } + [0]
    if v6 {
        var reference = in6_addr()
        let ok = inet_pton(AF_INET6, cString, &reference) == 1
        let ours = IPAddressText.parseIPv6(text)
        precondition(ok == (ours != nil), "parseIPv6 and inet_pton disagree on validity")
        if let ours {
            let bytes = withUnsafeBytes(of: reference) { Array($0) }
            let high = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let low = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            precondition(ours.high == high && ours.low == low, "parseIPv6 and inet_pton disagree on the value")
        }
    } else {
        var reference = in_addr()
        let ok = inet_pton(AF_INET, cString, &reference) == 1
        let ours = IPAddressText.parseIPv4(text)
        precondition(ok == (ours != nil), "parseIPv4 and inet_pton disagree on validity")
        if let ours { precondition(ours == UInt32(bigEndian: reference.s_addr), "parseIPv4 and inet_pton disagree on the value") }
    }
}
