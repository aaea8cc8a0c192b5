@_spi(Fuzzing) import PetrelLoop

/// The TLS 1.3 record path of ours (TLSSession after the handshake, TLS13RecordLayer): two
/// sessions with mirrored traffic secrets talk through a wire the input scripts.
///
/// Byte 0 picks the suite; then a program of (opcode, argument) pairs:
///   0  client sends `arg` × 67 bytes of application data 1  server sends `arg` × 131 bytes
///   2  client sends a KeyUpdate (asking for one back)     3  `arg` garbage bytes onto the wire
///   4  flip bit `arg % 8` of a wire byte                   5  deliver the wire in pieces of
///      `arg + 1` bytes (arg < 128) or `(arg - 127) × 128`
///   6  client sends close_notify
/// At most 40 KiB of application data and 3 KeyUpdates per input (a key change is the costliest
/// step), and pieces below 128 bytes only for the first 4 KiB of a delivery, so runs stay fast
/// enough for 10 M executions.
/// Invariants while the wire is untouched: the server receives exactly the client's bytes in order
/// and the client exactly the server's, neither fails, KeyUpdates keep both in step. Always: no
/// crash, a failed session stays failed and delivers nothing more.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let suite: UInt16 = 0x1301 + UInt16(data[0] % 3)
    let length = suite == 0x1302 ? 48 : 32
    let clientSecret = (0..<length).map { UInt8($0) }
    let serverSecret = (0..<length).map { UInt8(255 - $0) }
    guard let server = TLSSession(suite: suite, readSecret: clientSecret, writeSecret: serverSecret),
          let client = TLSSession(suite: suite, readSecret: serverSecret, writeSecret: clientSecret)
    else { preconditionFailure("sessions") }
    let toServer = Wire()
    let toClient = Wire()
    server.output = toClient
    client.output = toServer
    var sentByClient: [UInt8] = [], receivedByServer: [UInt8] = []
    var sentByServer: [UInt8] = [], receivedByClient: [UInt8] = []
    var tampered = false
    var clientClosed = false
    var keyUpdates = 0
    var serverResult = TLSSession.FeedResult.ok
    var clientResult = TLSSession.FeedResult.ok
    let plaintext = UnsafeMutableRawBufferPointer.allocate(byteCount: 20_000, alignment: 16)
    defer { plaintext.deallocate() }

    func deliver(_ wire: Wire, to session: TLSSession, piece: Int, result: inout TLSSession.FeedResult,
                 into received: inout [UInt8]) {
        var bytes = wire.take()
        bytes.withUnsafeMutableBytes { whole in
            var offset = 0
            while offset < whole.count {
                let end = min(whole.count, offset < 4096 ? offset + piece : whole.count)
                let before = result
                let now = session.feed(UnsafeMutableRawBufferPointer(rebasing: whole[offset..<end]), plaintext: plaintext) { data in
                    precondition(before == .ok, "delivered after the session ended")
                    received.append(contentsOf: data)
                    return true
                }
                if result == .ok { result = now }
                if before != .ok { precondition(now == .failed || now == before, "an ended session came back") }
                offset = end
            }
        }
    }

    var i = 1
    while i + 1 < size {
        let op = data[i] % 7
        let arg = Int(data[i + 1])
        i += 2
        if sentByClient.count + sentByServer.count > 40 * 1024 && op < 2 { continue }
        switch op {
        case 0:
            guard !clientClosed else { break }
            let message = pattern[(sentByClient.count % 251)...].prefix(arg * 67)
            if message.withUnsafeBytes({ client.encrypt($0) }) { sentByClient += message }
        case 1:
            let message = pattern[(sentByServer.count % 241)...].prefix(arg * 131)
            if message.withUnsafeBytes({ server.encrypt($0) }) { sentByServer += message }
        case 2:
            if !clientClosed && keyUpdates < 3 {
                keyUpdates += 1
                _ = client.sendKeyUpdate()
            }
        case 3:
            toServer.bytes += (0..<arg).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ arg) }
            if arg > 0 { tampered = true }
        case 4:
            if !toServer.bytes.isEmpty {
                toServer.bytes[arg % toServer.bytes.count] ^= UInt8(1 << (arg % 8))
                tampered = true
            }
        case 5:
            deliver(toServer, to: server, piece: arg < 128 ? arg + 1 : (arg - 127) * 128,
                    result: &serverResult, into: &receivedByServer)
            deliver(toClient, to: client, piece: 16_000, result: &clientResult, into: &receivedByClient)
        default:
            if !clientClosed {
                client.sendCloseNotify()
                clientClosed = true
            }
        }
    }
    deliver(toServer, to: server, piece: 1 << 20, result: &serverResult, into: &receivedByServer)
    deliver(toClient, to: client, piece: 1 << 20, result: &clientResult, into: &receivedByClient)
    if !tampered {
        precondition(serverResult == (clientClosed ? .closed : .ok), "server \(serverResult) on a clean wire")
        precondition(receivedByServer == sentByClient, "server got other bytes than the client sent")
        precondition(clientResult == .ok, "client \(clientResult) on a clean wire")
        precondition(receivedByClient == sentByServer, "client got other bytes than the server sent")
    } else {
        precondition(sentByClient.starts(with: receivedByServer), "a corrupted record was delivered")
    }
    return 0
}

/// Message bytes: slices of one buffer, so building a message costs nothing.
private let pattern: [UInt8] = (0..<(256 * 131 + 256)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }

/// One direction of the connection: what a session wrote and the other has not read yet.
final class Wire: TLSOutput {
    var bytes: [UInt8] = []
    private let scratch = UnsafeMutableRawPointer.allocate(byteCount: 17_000, alignment: 16)
    deinit { scratch.deallocate() }

    func tlsSessionWrite(_ data: UnsafeRawBufferPointer) { bytes.append(contentsOf: data) }
    func tlsSessionReserve(_ count: Int) -> UnsafeMutableRawPointer {
        precondition(count <= 17_000, "a record larger than TLS allows")
        return scratch
    }
    func tlsSessionCommit(_ count: Int) { bytes.append(contentsOf: UnsafeRawBufferPointer(start: scratch, count: count)) }

    func take() -> [UInt8] {
        defer { bytes = [] }
        return bytes
    }
}
