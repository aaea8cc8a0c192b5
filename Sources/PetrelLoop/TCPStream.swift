import CLibUV
import Glibc

/// One accepted TCP connection on one loop.
///
/// Ownership, written once: the libuv handle's `data` holds a +1 reference to the stream from
/// accept until the close callback; the stream holds its handler strongly until then, so the
/// handler lives exactly as long as the socket. Writes copy their bytes (into the loop's cork
/// buffer or the stream's queue), so callers may pass pointers into transient buffers.
public final class TCPStream {
    let handle: UnsafeMutablePointer<uv_tcp_t>
    public unowned(unsafe) let loop: EventLoop
    public var handler: StreamHandler?

    /// Bytes waiting behind the write in flight.
    @exclusivity(unchecked) private var queued = OutboundBuffer()
    /// The bytes of the `uv_write` in flight, owned here until its callback.
    @exclusivity(unchecked) private var inFlight: (UnsafeMutableRawPointer, Int)?
    @exclusivity(unchecked) private var writeRequest: UnsafeMutablePointer<uv_write_t>?
    public private(set) var isClosing = false
    /// A shutdown asked for while our own queue still held bytes: done when the queue drains,
    /// since libuv refuses writes submitted after a shutdown.
    private var shutdownWhenDrained = false
    public private(set) var isReading = false
    /// TLS on this connection, set by a TLS listener before the handler sees the stream. Reads
    /// then deliver plaintext, and writes take plaintext (corked plaintext is encrypted once per
    /// flush).
    public private(set) var tlsSession: TLSSession?
    /// Set by the owner before reading starts: raw bytes go to the handler's
    /// `streamDidReadPreamble` (PROXY protocol) until it ends, before TLS or HTTP see any.
    public var expectsPreamble = false

    init(loop: EventLoop, handle: UnsafeMutablePointer<uv_tcp_t>) {
        self.loop = loop
        self.handle = handle
    }

    func attachTLS(_ session: TLSSession) {
        session.output = self
        tlsSession = session
    }

    public var isTLS: Bool { tlsSession != nil }

    /// The verified client certificate on an mTLS listener, once the TLS handshake is done.
    public var clientCertificate: ClientCertificateInfo? { tlsSession?.clientCertificate }

    /// Bytes accepted by `write` that the kernel has not taken yet (for TLS: corked plaintext
    /// plus ciphertext not yet sent).
    public var pendingWriteBytes: Int {
        queued.count + (inFlight?.1 ?? 0) + (loop.corkedStream === self ? loop.corkCount : 0)
    }

    public func startReading() {
        guard !isReading, !isClosing else { return }
        isReading = true
        uv_read_start(petrel_tcp_as_stream(handle), allocReadBuffer, didRead)
    }

    public func stopReading() {
        guard isReading else { return }
        isReading = false
        uv_read_stop(petrel_tcp_as_stream(handle))
    }

    /// Queues `first` then `second` for sending, as one contiguous write when possible.
    public func write(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) {
        guard !isClosing else { return }
        if let tls = tlsSession {
            writeTLS(tls, first, second)
            return
        }
        let total = first.count + second.count
        if loop.corkedStream === self, inFlight == nil, queued.count == 0 {
            if loop.corkCount + total > EventLoop.corkBufferSize { flushCork() }
            if total <= EventLoop.corkBufferSize - loop.corkCount {
                if first.count > 0 { (loop.corkBuffer + loop.corkCount).copyMemory(from: first.baseAddress!, byteCount: first.count) }
                if second.count > 0 { (loop.corkBuffer + loop.corkCount + first.count).copyMemory(from: second.baseAddress!, byteCount: second.count) }
                loop.corkCount += total
                return
            }
        }
        if loop.corkedStream === self { flushCork() }
        if inFlight == nil, queued.count == 0 {
            // Nothing ahead of us: try the socket directly and queue only what it refuses.
            let sent = tryWrite(first)
            if sent < first.count {
                queued.append(UnsafeRawBufferPointer(rebasing: first[sent...]))
                queued.append(second)
            } else {
                let sent2 = tryWrite(second)
                queued.append(UnsafeRawBufferPointer(rebasing: second[sent2...]))
            }
        } else {
            queued.append(first)
            queued.append(second)
        }
        startQueuedWrite()
    }

    /// Sends what this stream has corked so far (the loop also does this when its read callback ends).
    public func flush() {
        if loop.corkedStream === self { flushCork() }
    }

    func flushCork() {
        guard loop.corkCount > 0 else { return }
        let bytes = UnsafeRawBufferPointer(start: loop.corkBuffer, count: loop.corkCount)
        loop.corkCount = 0
        if let tls = tlsSession {
            // One SSL_write for everything corked: full records, one socket write.
            tls.encrypt(bytes)
            sendTLSOutput()
            return
        }
        if inFlight == nil, queued.count == 0 {
            let sent = tryWrite(bytes)
            queued.append(UnsafeRawBufferPointer(rebasing: bytes[sent...]))
        } else {
            queued.append(bytes)
        }
        startQueuedWrite()
    }

    private func tryWrite(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard bytes.count > 0 else { return 0 }
        var buf = uv_buf_t(base: UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: CChar.self)),
                           len: bytes.count)
        let rc = uv_try_write(petrel_tcp_as_stream(handle), &buf, 1)
        return rc > 0 ? Int(rc) : 0
    }

    private func startQueuedWrite() {
        guard inFlight == nil, let (base, count) = queued.take() else { return }
        inFlight = (base, count)
        let req = writeRequest ?? UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
        writeRequest = req
        req.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        var buf = uv_buf_t(base: base.assumingMemoryBound(to: CChar.self), len: count)
        let rc = uv_write(req, petrel_tcp_as_stream(handle), &buf, 1, didWrite)
        if rc != 0 {
            inFlight = nil
            base.deallocate()
            handler?.streamDidEnd(self, status: rc)
        }
    }

    fileprivate func writeCompleted(status: Int32) {
        if let (base, _) = inFlight { base.deallocate() }
        inFlight = nil
        if isClosing { return }
        if status < 0 {
            queued.free()
            handler?.streamDidEnd(self, status: status)
            return
        }
        if queued.count > 0 {
            startQueuedWrite()
        } else {
            if shutdownWhenDrained {
                shutdownWhenDrained = false
                shutdown()
            }
            // The request is kept only while writes back up; idle streams hold none.
            writeRequest?.deallocate()
            writeRequest = nil
            handler?.streamDidDrain(self)
        }
    }

    /// True when every byte handed to `write` has reached the kernel.
    public var isDrained: Bool { pendingWriteBytes == 0 }

    /// Sends FIN after queued writes; reading may go on (to drain the peer before closing).
    public func shutdown() {
        guard !isClosing else { return }
        if loop.corkedStream === self { flushCork() }
        if let tls = tlsSession {
            tls.sendCloseNotify()
            sendTLSOutput()
        }
        if queued.count > 0 || inFlight != nil {
            shutdownWhenDrained = true
            return
        }
        let req = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
        if uv_shutdown(req, petrel_tcp_as_stream(handle), { req, _ in req?.deallocate() }) != 0 {
            req.deallocate()
        }
    }

    /// Closes the socket. Pending writes are abandoned; `streamDidClose` follows.
    public func close() {
        guard !isClosing else { return }
        if loop.corkedStream === self { loop.corkCount = 0; loop.corkedStream = nil }
        isClosing = true
        isReading = false
        uv_close(petrel_tcp_as_handle(handle), didClose)
    }

    /// Resets the connection (RST) instead of a graceful FIN, for peers we must drop at once.
    public func abort() {
        guard !isClosing else { return }
        var linger = linger(l_onoff: 1, l_linger: 0)
        var fd: uv_os_fd_t = -1
        if uv_fileno(petrel_tcp_as_handle(handle), &fd) == 0 {
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
        }
        close()
    }

    fileprivate func closed() {
        if let (base, _) = inFlight { base.deallocate() }
        inFlight = nil
        queued.free()
        writeRequest?.deallocate()
        writeRequest = nil
        tlsSession?.output = nil
        let handler = self.handler
        self.handler = nil
        handler?.streamDidClose(self)
        handle.deallocate()
    }

    /// The peer's address, read once at accept.
    public func peerAddress() -> IPAddress? {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getpeername(handle, $0, &length) }
        }
        return rc == 0 ? IPAddress(storage) : nil
    }

    // MARK: libuv callbacks

    fileprivate func readCallback(_ nread: Int) {
        if nread > 0 {
            loop.corkedStream = self
            let start = expectsPreamble ? readPreamble(nread) : 0
            if start < nread {
                if let tls = tlsSession {
                    readTLS(tls, from: start, count: nread - start)
                } else {
                    handler?.streamDidRead(self, UnsafeMutableRawBufferPointer(start: loop.readBuffer.baseAddress! + start, count: nread - start))
                }
            }
            if loop.corkedStream === self {
                flushCork()
                loop.corkedStream = nil
            }
        } else if nread < 0 {
            stopReading()
            handler?.streamDidEnd(self, status: Int32(nread))
        }
    }
}

// MARK: TLS

extension TCPStream: TLSOutput {
    /// Ciphertext from the session: gathered in the loop's buffer and sent when the operation
    /// ends (`sendTLSOutput`), so one `SSL_write` of many records is one system call.
    public func tlsSessionWrite(_ bytes: UnsafeRawBufferPointer) {
        let buffers = loop.tls
        if buffers.outCount + bytes.count > TLSLoopBuffers.outCapacity {
            sendTLSOutput()
            if bytes.count > TLSLoopBuffers.outCapacity {
                rawWrite(bytes)
                return
            }
        }
        (buffers.out + buffers.outCount).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        buffers.outCount += bytes.count
    }

    public func tlsSessionReserve(_ count: Int) -> UnsafeMutableRawPointer {
        let buffers = loop.tls
        if buffers.outCount + count > TLSLoopBuffers.outCapacity { sendTLSOutput() }
        return buffers.out + buffers.outCount
    }

    public func tlsSessionCommit(_ count: Int) {
        loop.tls.outCount += count
    }

    /// Sends the ciphertext gathered so far. Called at the end of every TLS operation, so the
    /// loop's buffer is empty whenever control leaves this stream.
    func sendTLSOutput() {
        guard let buffers = loop.tlsBuffers, buffers.outCount > 0 else { return }
        let bytes = UnsafeRawBufferPointer(start: buffers.out, count: buffers.outCount)
        buffers.outCount = 0
        rawWrite(bytes)
    }

    /// Ciphertext to the socket, behind whatever is queued.
    private func rawWrite(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0, !isClosing else { return }
        if inFlight == nil, queued.count == 0 {
            let sent = tryWrite(bytes)
            if sent == bytes.count { return }
            queued.append(UnsafeRawBufferPointer(rebasing: bytes[sent...]))
        } else {
            queued.append(bytes)
        }
        startQueuedWrite()
    }

    fileprivate func writeTLS(_ tls: TLSSession, _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) {
        let total = first.count + second.count
        if loop.corkedStream === self {
            if loop.corkCount + total > EventLoop.corkBufferSize { flushCork() }
            if total <= EventLoop.corkBufferSize - loop.corkCount {
                if first.count > 0 { (loop.corkBuffer + loop.corkCount).copyMemory(from: first.baseAddress!, byteCount: first.count) }
                if second.count > 0 { (loop.corkBuffer + loop.corkCount + first.count).copyMemory(from: second.baseAddress!, byteCount: second.count) }
                loop.corkCount += total
                return
            }
        }
        // Not corked (a write from outside this stream's read callback) or too big to cork:
        // encrypt now. A small header and the start of its payload share one record.
        if second.count == 0 {
            tls.encrypt(first)
        } else if first.count == 0 {
            tls.encrypt(second)
        } else if first.count < TLSLoopBuffers.stagingSize {
            let staging = loop.tls.staging
            let head = min(second.count, TLSLoopBuffers.stagingSize - first.count)
            staging.copyMemory(from: first.baseAddress!, byteCount: first.count)
            (staging + first.count).copyMemory(from: second.baseAddress!, byteCount: head)
            tls.encrypt(UnsafeRawBufferPointer(start: staging, count: first.count + head))
            if head < second.count { tls.encrypt(UnsafeRawBufferPointer(rebasing: second[head...])) }
        } else {
            tls.encrypt(first)
            tls.encrypt(second)
        }
        sendTLSOutput()
    }

    /// Ciphertext in: handshake, then plaintext to the handler. A failed handshake (or a corrupt
    /// record) ends the stream with `UV_EPROTO`, close_notify with `UV_EOF`; nothing is logged
    /// here, the handler decides.
    fileprivate func readTLS(_ tls: TLSSession, from start: Int, count: Int) {
        let buffers = loop.tls
        let result = tls.feed(UnsafeMutableRawBufferPointer(start: loop.readBuffer.baseAddress! + start, count: count),
                              plaintext: buffers.plaintext) { plaintext in
            sendTLSOutput()
            guard !isClosing, let handler else { return false }
            handler.streamDidRead(self, plaintext)
            return !isClosing
        }
        sendTLSOutput()
        guard !isClosing else { return }
        switch result {
        case .ok:
            break
        case .closed:
            stopReading()
            handler?.streamDidEnd(self, status: Int32(UV_EOF.rawValue))
        case .failed:
            stopReading()
            handler?.streamDidEnd(self, status: Int32(UV_EPROTO.rawValue))
        }
    }
}

private func allocReadBuffer(_ handle: UnsafeMutablePointer<uv_handle_t>?, _ suggested: Int, _ buf: UnsafeMutablePointer<uv_buf_t>?) {
    let loop = EventLoop.from(handle!.pointee.loop)
    buf!.pointee = uv_buf_t(base: loop.readBuffer.baseAddress!.assumingMemoryBound(to: CChar.self), len: loop.readBuffer.count)
}

private func didRead(_ stream: UnsafeMutablePointer<uv_stream_t>?, _ nread: Int, _ buf: UnsafePointer<uv_buf_t>?) {
    let tcp = Unmanaged<TCPStream>.fromOpaque(stream!.pointee.data).takeUnretainedValue()
    tcp.readCallback(nread)
}

private func didWrite(_ req: UnsafeMutablePointer<uv_write_t>?, _ status: Int32) {
    let tcp = Unmanaged<TCPStream>.fromOpaque(req!.pointee.data).takeUnretainedValue()
    tcp.writeCompleted(status: status)
}

private func didClose(_ handle: UnsafeMutablePointer<uv_handle_t>?) {
    let tcp = Unmanaged<TCPStream>.fromOpaque(handle!.pointee.data).takeRetainedValue()
    tcp.closed()
}
