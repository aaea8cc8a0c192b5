import CLibUV
import Glibc
import PetrelCrypto

/// One outbound TCP connection on one loop: connect (optionally from a chosen source address),
/// optional TLS, then a WebSocket handshake or plain HTTP/1.1, then frames or responses.
///
/// Ownership, written once: from `connect` until the close callback the handle's `data` holds a
/// +1 reference, so the object lives exactly as long as the socket; the worker's slot array holds
/// another until `connectionClosed`. Protocol reactions (what to send next, what to count) are
/// the worker's; this type does I/O and parsing only.
final class ClientConnection {
    enum State { case idle, connecting, tlsHandshaking, handshaking, open, closing, closed }
    enum Kind { case websocket, http }

    let handle: UnsafeMutablePointer<uv_tcp_t>
    unowned(unsafe) let worker: Worker
    let kind: Kind
    var slot = -1
    private(set) var state = State.idle
    var startNs: UInt64 = 0
    var deadlineNs: UInt64 = 0
    /// Counts toward the opening phase (one of the worker's initial connections).
    var isInitial = false
    /// Still counted in the worker's pending handshakes.
    var isPending = false
    /// Role in the fanout scenario: the HTTP client posting to the admin API.
    var isAdmin = false
    private var handleInitialized = false

    // Protocol state
    var scanner = HTTPResponseScanner()
    var parser = ServerFrameParser()
    var ring = TimestampRing()
    var sentCount: UInt64 = 0
    var receivedCount: UInt64 = 0
    var messageOpcode: UInt8 = 0
    var messageOffset = 0
    var messageBad = false
    private var inMessage = false
    private var frameOpcode: UInt8 = 0
    private var frameFin = false
    private var control: [UInt8] = []
    /// Whole text of the current message, for scenarios that read JSON (fanout, whoami).
    var messageText: [UInt8] = []
    var closeSentByUs = false
    var connectionId: String?
    var idBytes: [UInt8] = []
    /// fanout and chat: in the worker's `ready` list (id learnt, or room joined).
    var isReady = false
    /// chat: the user's number over the whole run (room = userId % rooms), the start of each of its
    /// messages up to `"q":`, and per member of its room the last sequence number received.
    var userId = -1
    var chatPrefix: [UInt8] = []
    var lastSeq: [UInt32] = []
    var nextSendNs: UInt64 = 0
    var responseStatus = 0
    var responseClose = false
    private var expectedAccept = ""

    // Write side
    private var queued = ByteQueue()
    private var inFlight: (UnsafeMutableRawPointer, Int)?
    private var writeRequest: UnsafeMutablePointer<uv_write_t>?
    var tls: ClientTLS?

    init(worker: Worker, kind: Kind) {
        self.worker = worker
        self.kind = kind
        handle = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
    }

    var isOpen: Bool { state == .open }
    var isClosed: Bool { state == .closed }

    // MARK: connect

    /// Starts the connect; a non-zero libuv code means it failed at once (the caller counts it and
    /// calls `closeHandle`).
    func connect(to address: SocketAddress, source: SocketAddress?) -> Int32 {
        var address = address
        var rc = uv_tcp_init_ex(worker.loop.uv, handle, UInt32(address.family))
        guard rc == 0 else { return rc }
        handleInitialized = true
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        state = .connecting
        if var source {
            var fd: uv_os_fd_t = -1
            if uv_fileno(petrel_tcp_as_handle(handle), &fd) == 0 {
                // IP_BIND_ADDRESS_NO_PORT (24): pick the port at connect time, per destination, so
                // each source address reaches its own ~28k ports per target (Linux ≥ 4.2).
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_IP), 24, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            rc = withUnsafePointer(to: &source.storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_bind(handle, $0, 0) }
            }
            if rc != 0 { return rc }
        }
        uv_tcp_nodelay(handle, 1)
        let req = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
        req.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        rc = withUnsafePointer(to: &address.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_connect(req, handle, $0, didConnect) }
        }
        if rc != 0 { req.deallocate() }
        return rc
    }

    fileprivate func connected(status: Int32) {
        guard state == .connecting else { return }  // closed meanwhile (ECANCELED)
        if status != 0 {
            fail(Self.connectErrorKind(status))
            return
        }
        uv_read_start(petrel_tcp_as_stream(handle), allocReadBuffer, didRead)
        if tls != nil {
            state = .tlsHandshaking
            stepTLSHandshake()
        } else {
            transportReady()
        }
    }

    static func connectErrorKind(_ status: Int32) -> String {
        switch status {
        case UV_ECONNREFUSED.rawValue: return "refused"
        case UV_ETIMEDOUT.rawValue: return "timeout"
        case UV_ECONNRESET.rawValue: return "reset"
        case UV_EADDRNOTAVAIL.rawValue, UV_EADDRINUSE.rawValue: return "no_source_port"
        case UV_EMFILE.rawValue, UV_ENFILE.rawValue: return "fd_limit"
        case UV_ENETUNREACH.rawValue, UV_EHOSTUNREACH.rawValue: return "unreachable"
        default: return "connect_" + String(cString: uv_err_name(status)).lowercased()
        }
    }

    private func stepTLSHandshake() {
        guard let tls else { return }
        let step = tls.handshake()
        drainTLS()
        switch step {
        case .wantMore: break
        case .done: transportReady()
        case .failed(let kind): fail(kind)
        }
    }

    /// TCP (and TLS) is up: send the upgrade request, or hand an HTTP connection to the worker.
    private func transportReady() {
        switch kind {
        case .websocket:
            state = .handshaking
            var key = [UInt8](repeating: 0, count: 16)
            for i in 0..<2 {
                let r = worker.rng.next()
                for j in 0..<8 { key[i * 8 + j] = UInt8(truncatingIfNeeded: r >> UInt64(j * 8)) }
            }
            let keyText = Base64.encode(key)
            expectedAccept = WebSocketAccept.value(forKey: keyText)
            let target = worker.options.target
            let request = "GET \(target.pathAndQuery) HTTP/1.1\r\nHost: \(target.hostHeader)\r\nUpgrade: websocket\r\n" +
                "Connection: Upgrade\r\nSec-WebSocket-Key: \(keyText)\r\nSec-WebSocket-Version: 13\r\n" +
                "User-Agent: petrel-loadtest\r\n\r\n"
            var bytes = Array(request.utf8)
            bytes.withUnsafeMutableBytes { worker.write(self, UnsafeRawBufferPointer($0)) }
            worker.flushCork()
        case .http:
            state = .open
            worker.connectionOpened(self)
            worker.flushCork()
        }
    }

    // MARK: reading

    fileprivate func didReadBytes(_ nread: Int) {
        if nread < 0 {
            ended(status: Int32(nread))
            return
        }
        guard nread > 0 else { return }
        let raw = UnsafeRawBufferPointer(start: worker.readBuffer, count: nread)
        if let tls {
            tls.feed(raw)
            if state == .tlsHandshaking {
                stepTLSHandshake()
                if state == .tlsHandshaking || state == .closed { worker.flushCork(); return }
            }
            while state != .closed {
                let n = tls.read(into: worker.plainBuffer, capacity: Worker.bufferSize)
                if n > 0 {
                    handleInput(UnsafeRawBufferPointer(start: worker.plainBuffer, count: n))
                } else if n == 0 {
                    break
                } else {
                    drainTLS()
                    ended(status: n == -1 ? UV_EOF.rawValue : UV_EPROTO.rawValue)
                    return
                }
            }
            drainTLS()
        } else {
            handleInput(raw)
        }
        worker.flushCork()
        // Between timer ticks, reads give the open-loop schedule finer than the timer's 1 ms.
        if worker.rateActive { worker.rateTick() }
    }

    private func handleInput(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        if state == .handshaking {
            while offset < bytes.count {
                switch scanner.next(bytes, offset: &offset) {
                case .needMore:
                    return
                case .head(let head):
                    if head.status != 101 {
                        fail("http_\(head.status)")
                        return
                    }
                    if head.websocketAccept != expectedAccept {
                        fail("bad_accept")
                        return
                    }
                    scanner.reset()
                    state = .open
                    worker.connectionOpened(self)
                    if state != .open { return }
                    handleFrames(bytes, from: offset)
                    return
                case .complete:
                    fail("bad_handshake")
                    return
                case .error:
                    fail("bad_handshake")
                    return
                }
            }
            return
        }
        guard state == .open || state == .closing else { return }
        if kind == .http { handleResponses(bytes, from: 0) } else { handleFrames(bytes, from: 0) }
    }

    private func handleResponses(_ bytes: UnsafeRawBufferPointer, from start: Int) {
        var offset = start
        while state == .open || state == .closing {
            switch scanner.next(bytes, offset: &offset) {
            case .needMore:
                return
            case .head(let head):
                responseStatus = head.status
                responseClose = head.connectionClose
            case .complete:
                scanner.reset()
                worker.responseReceived(self)
                if offset >= bytes.count { return }
            case .error(let kind):
                fail(kind)
                return
            }
        }
    }

    private func handleFrames(_ bytes: UnsafeRawBufferPointer, from start: Int) {
        var offset = start
        while state == .open || state == .closing {
            switch parser.next(bytes, offset: &offset) {
            case .needMore:
                return
            case .frameStart(let opcode, let fin, _):
                frameOpcode = opcode
                frameFin = fin
                if opcode >= 8 {
                    control.removeAll(keepingCapacity: true)
                } else if opcode == 0 {
                    guard inMessage else { fail("protocol_unexpected_continuation"); return }
                } else {
                    guard !inMessage else { fail("protocol_interleaved_message"); return }
                    inMessage = true
                    messageOpcode = opcode
                    messageOffset = 0
                    messageBad = false
                    worker.messageBegan(self)
                }
            case .payload(let at, let count):
                let chunk = UnsafeRawBufferPointer(rebasing: bytes[at..<(at + count)])
                if frameOpcode >= 8 {
                    control.append(contentsOf: chunk)
                } else {
                    worker.messagePayload(self, chunk)
                    messageOffset += count
                }
            case .frameEnd:
                if frameOpcode >= 8 {
                    handleControl()
                } else if frameFin {
                    inMessage = false
                    worker.messageEnded(self)
                }
            case .protocolError(let error):
                fail("protocol_" + error.rawValue)
                return
            }
        }
    }

    private func handleControl() {
        switch frameOpcode {
        case 9:  // ping → pong with the same payload (§5.5.3)
            control.withUnsafeBytes { sendFrame(opcode: 10, payload: $0) }
        case 8:
            let code: UInt16 = control.count >= 2 ? UInt16(control[0]) << 8 | UInt16(control[1]) : 1005
            if closeSentByUs {
                // Our close was answered; the server closes TCP first (§7.1.1), or the sweep does.
                state = .closing
            } else {
                worker.serverClosed(self, code: code)
                var echo: [UInt8] = code == 1005 ? [] : [UInt8(code >> 8), UInt8(code & 0xFF)]
                echo.withUnsafeMutableBytes { sendFrame(opcode: 8, payload: UnsafeRawBufferPointer($0)) }
                closeSentByUs = true
                beginClosing(graceNs: 1_000_000_000)
            }
        default:
            break
        }
    }

    private func ended(status: Int32) {
        switch state {
        case .connecting, .tlsHandshaking, .handshaking:
            fail(status == UV_EOF.rawValue ? "handshake_eof" : Self.connectErrorKind(status))
        case .open:
            if kind == .http, scanner.isReadingUntilClose {
                scanner.reset()
                worker.responseReceived(self)
            }
            worker.connectionLost(self, status: status)
            closeHandle()
        default:
            closeHandle()
        }
    }

    // MARK: writing

    /// Writes one masked client frame (through the worker's cork buffer).
    func sendFrame(opcode: UInt8, payload: UnsafeRawBufferPointer) {
        let size = ClientFrameWriter.frameSize(payloadLength: payload.count)
        let key = UInt32(truncatingIfNeeded: worker.rng.next())
        if let dst = worker.reserve(self, size) {
            _ = ClientFrameWriter.write(into: dst, opcode: opcode, payload: payload, key: key)
            worker.commit(size)
        } else {
            let tmp = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
            _ = ClientFrameWriter.write(into: tmp, opcode: opcode, payload: payload, key: key)
            writePlain(UnsafeRawBufferPointer(start: tmp, count: size))
            tmp.deallocate()
        }
    }

    /// Plaintext to the peer, bypassing the cork (the worker calls this when it flushes).
    func writePlain(_ bytes: UnsafeRawBufferPointer) {
        guard state != .closed, bytes.count > 0 else { return }
        if let tls {
            _ = tls.write(bytes)
            drainTLS()
        } else {
            writeRaw(bytes)
        }
    }

    private func drainTLS() {
        guard let tls else { return }
        tls.drain(scratch: worker.tlsScratch, capacity: Worker.bufferSize) { writeRaw($0) }
    }

    /// Ciphertext or plain bytes to the socket: straight to the kernel when nothing is queued.
    private func writeRaw(_ bytes: UnsafeRawBufferPointer) {
        guard state != .closed, bytes.count > 0 else { return }
        if inFlight == nil, queued.count == 0 {
            var buf = uv_buf_t(base: UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: CChar.self)),
                               len: bytes.count)
            let rc = uv_try_write(petrel_tcp_as_stream(handle), &buf, 1)
            let sent = rc > 0 ? Int(rc) : 0
            if sent == bytes.count { return }
            queued.append(UnsafeRawBufferPointer(rebasing: bytes[sent...]))
        } else {
            queued.append(bytes)
        }
        startQueuedWrite()
    }

    private func startQueuedWrite() {
        guard inFlight == nil, let (base, count) = queued.take() else { return }
        inFlight = (base, count)
        let req = writeRequest ?? UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
        writeRequest = req
        req.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        var buf = uv_buf_t(base: base.assumingMemoryBound(to: CChar.self), len: count)
        if uv_write(req, petrel_tcp_as_stream(handle), &buf, 1, didWrite) != 0 {
            inFlight = nil
            base.deallocate()
        }
    }

    fileprivate func writeCompleted(status: Int32) {
        if let (base, _) = inFlight { base.deallocate() }
        inFlight = nil
        if state == .closed { return }
        if status < 0 { queued.free(); return }
        if queued.count > 0 { startQueuedWrite() } else { writeRequest?.deallocate(); writeRequest = nil }
    }

    /// Bytes handed to the socket layer that the kernel has not taken.
    var pendingWriteBytes: Int { queued.count + (inFlight?.1 ?? 0) }

    // MARK: closing

    /// Sends our close frame (1000) and waits for the server's answer and its FIN (bounded).
    func startCloseHandshake(graceNs: UInt64) {
        guard state == .open, kind == .websocket else { closeHandle(); return }
        var payload: (UInt8, UInt8) = (0x03, 0xE8)  // 1000
        withUnsafeBytes(of: &payload) { sendFrame(opcode: 8, payload: $0) }
        closeSentByUs = true
        beginClosing(graceNs: graceNs)
    }

    private func beginClosing(graceNs: UInt64) {
        worker.flushCork()
        if state == .open { worker.connectionClosing(self) }
        state = .closing
        deadlineNs = uv_hrtime() + graceNs
    }

    /// Counts `kind` as an error and closes.
    func fail(_ kind: String) {
        guard state != .closed else { return }
        worker.connectionFailed(self, kind: kind)
        closeHandle()
    }

    /// Closes the socket now; queued writes are dropped. `connectionClosed` follows.
    func closeHandle() {
        guard state != .closed else { return }
        if worker.corked === self { worker.flushCork() }
        if state == .open { worker.connectionClosing(self) }
        state = .closed
        if handleInitialized {
            uv_close(petrel_tcp_as_handle(handle), didClose)
        } else {
            handle.deallocate()
            worker.connectionClosed(self)
        }
    }

    fileprivate func closed() {
        if let (base, _) = inFlight { base.deallocate() }
        inFlight = nil
        queued.free()
        writeRequest?.deallocate()
        writeRequest = nil
        ring.free()
        tls = nil
        handle.deallocate()
        worker.connectionClosed(self)
    }
}

// MARK: libuv callbacks (plain functions: see swift-c-interop-notes.md on closures in main.swift)

private func didConnect(_ req: UnsafeMutablePointer<uv_connect_t>?, _ status: Int32) {
    let conn = Unmanaged<ClientConnection>.fromOpaque(req!.pointee.data).takeUnretainedValue()
    req!.deallocate()
    conn.connected(status: status)
}

private func allocReadBuffer(_ handle: UnsafeMutablePointer<uv_handle_t>?, _ suggested: Int, _ buf: UnsafeMutablePointer<uv_buf_t>?) {
    let conn = Unmanaged<ClientConnection>.fromOpaque(handle!.pointee.data).takeUnretainedValue()
    buf!.pointee = uv_buf_t(base: conn.worker.readBuffer.assumingMemoryBound(to: CChar.self), len: Worker.bufferSize)
}

private func didRead(_ stream: UnsafeMutablePointer<uv_stream_t>?, _ nread: Int, _ buf: UnsafePointer<uv_buf_t>?) {
    let conn = Unmanaged<ClientConnection>.fromOpaque(stream!.pointee.data).takeUnretainedValue()
    conn.didReadBytes(nread)
}

private func didWrite(_ req: UnsafeMutablePointer<uv_write_t>?, _ status: Int32) {
    let conn = Unmanaged<ClientConnection>.fromOpaque(req!.pointee.data).takeUnretainedValue()
    conn.writeCompleted(status: status)
}

private func didClose(_ handle: UnsafeMutablePointer<uv_handle_t>?) {
    let conn = Unmanaged<ClientConnection>.fromOpaque(handle!.pointee.data).takeRetainedValue()
    conn.closed()
}
