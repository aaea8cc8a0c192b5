import Testing
@testable import PetrelLoadTestKit

/// Feeds `bytes` to a parser in chunks of `chunk` bytes; returns the events (payload as bytes).
private func parse(_ bytes: [UInt8], chunk: Int) -> [String] {
    var parser = ServerFrameParser()
    var events: [String] = []
    var start = 0
    while start < bytes.count {
        let piece = Array(bytes[start..<min(bytes.count, start + chunk)])
        start += chunk
        piece.withUnsafeBytes { buf in
            var offset = 0
            loop: while true {
                switch parser.next(buf, offset: &offset) {
                case .needMore: break loop
                case .frameStart(let op, let fin, let len): events.append("start \(op) \(fin) \(len)")
                case .payload(let at, let n): events.append("data " + String(decoding: buf[at..<(at + n)], as: UTF8.self))
                case .frameEnd: events.append("end")
                case .protocolError(let e): events.append("error \(e.rawValue)"); break loop
                }
            }
        }
    }
    // Merge consecutive payload pieces so chunking does not change the comparison.
    var merged: [String] = []
    for e in events {
        if e.hasPrefix("data "), let last = merged.last, last.hasPrefix("data ") {
            merged[merged.count - 1] = last + e.dropFirst(5)
        } else {
            merged.append(e)
        }
    }
    return merged
}

private func frame(_ op: UInt8, _ payload: [UInt8], fin: Bool = true) -> [UInt8] {
    var out: [UInt8] = [(fin ? 0x80 : 0) | op]
    if payload.count <= 125 {
        out.append(UInt8(payload.count))
    } else if payload.count <= 0xFFFF {
        out += [126, UInt8(payload.count >> 8), UInt8(payload.count & 255)]
    } else {
        out.append(127)
        for i in (0..<8).reversed() { out.append(UInt8(truncatingIfNeeded: payload.count >> (i * 8))) }
    }
    return out + payload
}

@Test(arguments: [1, 2, 3, 7, 1000])
func parsesTextFramesInAnyChunking(chunk: Int) {
    let bytes = frame(1, Array("hello".utf8)) + frame(2, []) + frame(9, Array("p".utf8))
    #expect(parse(bytes, chunk: chunk) == ["start 1 true 5", "data hello", "end", "start 2 true 0", "end", "start 9 true 1", "data p", "end"])
}

@Test(arguments: [1, 5, 4096])
func parsesExtendedLengths(chunk: Int) {
    let medium = [UInt8](repeating: 97, count: 300)
    let large = [UInt8](repeating: 98, count: 70_000)
    let events = parse(frame(1, medium) + frame(2, large), chunk: chunk)
    #expect(events.count == 6)
    #expect(events[0] == "start 1 true 300")
    #expect(events[1].count == 5 + 300)
    #expect(events[3] == "start 2 true 70000")
    #expect(events[4].count == 5 + 70_000)
}

@Test func fragmentsKeepTheirFinBits() {
    let bytes = frame(1, Array("ab".utf8), fin: false) + frame(0, Array("cd".utf8))
    #expect(parse(bytes, chunk: 3) == ["start 1 false 2", "data ab", "end", "start 0 true 2", "data cd", "end"])
}

@Test func rejectsMaskedServerFrames() {
    #expect(parse([0x81, 0x81, 1, 2, 3, 4, 0x61], chunk: 100) == ["error masked_server_frame"])
}

@Test func rejectsReservedBitsOpcodesAndLongControlFrames() {
    #expect(parse([0xC1, 0x00], chunk: 100) == ["error reserved_bits"])
    #expect(parse([0x83, 0x00], chunk: 100) == ["error bad_opcode"])
    #expect(parse([0x89, 126, 0, 200], chunk: 100) == ["error control_frame_too_long"])
    #expect(parse([0x09, 0x00], chunk: 100) == ["error fragmented_control_frame"])
}
