import CLibUV
import Glibc
import PetrelCodecs
import PetrelLoop

/// One kept-alive connection to a backend: it writes an exchange's request, decodes the
/// response as it arrives and hands it to the exchange's delegate piece by piece. Which exchange
/// it carries, and what happens to it between exchanges, is the pool's business.
///
/// The connection reads its socket whenever it is open and not paused, idle included: a backend
/// that closes an idle connection is noticed at once, and bytes nobody asked for close it.
final class UpstreamConnection: StreamHandler {
    enum State {
        case connecting
        case idle
        case busy
        case closed
    }

    unowned let pool: UpstreamPool
    let origin: UpstreamOrigin
    var stream: TCPStream?
    var state = State.connecting
    private(set) var exchange: UpstreamExchange?
    private var decoder = HTTPResponseDecoder()
    let connectDeadlineMs: Int64
    var idleSinceMs: Int64 = 0
    /// Responses completed on this connection: after the first, the backend may have closed it
    /// while it sat idle, and a request that meets that fate may be sent again elsewhere.
    var servedResponses = 0
    /// Addresses still to try while connecting.
    private var candidates: [[UInt8]] = []
    /// The name lookup in flight; it holds a reference to the connection until its callback.
    private var resolving: UnsafeMutablePointer<uv_getaddrinfo_t>?

    /// Request body bytes queued on the socket before the source is asked for more.
    static let uploadWindow = 256 * 1024

    init(pool: UpstreamPool, origin: UpstreamOrigin, connectDeadlineMs: Int64) {
        self.pool = pool
        self.origin = origin
        self.connectDeadlineMs = connectDeadlineMs
    }

    /// Takes on `exchange`; its request goes out now, or once connected.
    func begin(_ exchange: UpstreamExchange) {
        self.exchange = exchange
        exchange.connection = self
        decoder.start(requestWasHEAD: exchange.isHEAD)
        if state == .idle {
            state = .busy
            send()
        }
    }

    /// The exchange is over (completed or failed); the connection stays as it is.
    func detach() {
        exchange?.connection = nil
        exchange = nil
    }

    // MARK: Connecting

    /// Connects to the origin's address, or to each address its name resolves to in turn until
    /// one answers (a name may resolve to `::1` where the backend listens on 127.0.0.1 only).
    func open() {
        if let address = origin.address {
            candidates = [address]
            connectNext()
        } else {
            resolve()
        }
    }

    /// On libuv's thread pool, like curl's threaded resolver: `getaddrinfo` blocks.
    private func resolve() {
        let request = UnsafeMutablePointer<uv_getaddrinfo_t>.allocate(capacity: 1)
        request.pointee.data = Unmanaged.passRetained(self).toOpaque()
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = petrel_sock_stream
        let rc = uv_getaddrinfo(pool.loop.uv, request, upstreamResolved, origin.host, String(origin.port), &hints)
        guard rc == 0 else {
            Unmanaged<UpstreamConnection>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            failToConnect("resolve \(origin.host): \(UVError.describe(rc))")
            return
        }
        resolving = request
    }

    fileprivate func resolved(status: Int32, _ list: UnsafeMutablePointer<addrinfo>?) {
        resolving = nil
        guard state == .connecting else { return }
        var next = status == 0 ? list : nil
        while let entry = next {
            next = entry.pointee.ai_next
            let family = entry.pointee.ai_family
            guard family == AF_INET || family == AF_INET6, let address = entry.pointee.ai_addr else { continue }
            candidates.append(Array(UnsafeRawBufferPointer(start: address, count: Int(entry.pointee.ai_addrlen))))
        }
        guard !candidates.isEmpty else {
            failToConnect("resolve \(origin.host): \(status == 0 ? "no address" : UVError.describe(status))")
            return
        }
        connectNext()
    }

    private func connectNext() {
        let address = candidates.removeFirst()
        var failure: Int32 = 0
        // Held strongly until the callback, which always comes (UV_ECANCELED after a close): a
        // weak reference would give the connection a side table, and every retain and release
        // of it the slow path.
        let made = address.withUnsafeBytes { raw in
            TCPStream.connect(loop: pool.loop, to: raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), failure: &failure) {
                stream, status in self.connected(stream, status: status)
            }
        }
        guard let made else {
            attemptFailed(failure)
            return
        }
        stream = made
        made.handler = self
    }

    private func connected(_ attempt: TCPStream, status: Int32) {
        guard state == .connecting, attempt === stream else { return }
        guard status == 0 else {
            attemptFailed(status)
            return
        }
        attempt.startReading()
        if exchange == nil {
            pool.release(self)
        } else {
            state = .busy
            send()
        }
    }

    /// One address refused: the next, else the exchange fails.
    private func attemptFailed(_ status: Int32) {
        if let failed = stream {
            stream = nil
            failed.handler = nil
            failed.close()
        }
        if !candidates.isEmpty {
            connectNext()
        } else {
            failToConnect("connect \(origin.host):\(origin.port): \(UVError.describe(status))")
        }
    }

    private func failToConnect(_ reason: String) {
        if let exchange {
            pool.fail(exchange, .connectFailed(reason))
        } else {
            pool.discard(self)
        }
    }

    private func send() {
        guard let exchange, let stream else { return }
        stream.startReading()
        exchange.requestBytes.withUnsafeBytes { stream.write($0) }
        pumpUpload()
    }

    func close() {
        state = .closed
        stream?.close()
        // A lookup not started yet is dropped; a running one ends, and its callback sees `.closed`.
        if let resolving { uv_cancel(petrel_getaddrinfo_as_req(resolving)) }
    }

    // MARK: Request body

    /// Asks the body source for bytes while the socket takes them.
    func pumpUpload() {
        guard state == .busy, let exchange, let source = exchange.bodySource, let stream,
              !exchange.uploadDone, !exchange.uploadPaused, !exchange.finished else { return }
        let scratch = pool.uploadScratch
        let start = UpstreamPool.uploadScratchHeadroom
        while stream.pendingWriteBytes < Self.uploadWindow, !stream.isClosing {
            let read = source.requestBodyRead(into: UnsafeMutableRawBufferPointer(rebasing: scratch[start...]))
            guard !exchange.finished else { return }
            switch read {
            case .bytes(let count):
                exchange.uploadStarted = true
                var from = start
                if exchange.chunkedUpload {
                    // The previous chunk's CRLF rides with this chunk's size line: one write per chunk.
                    let sizeLine = Array(((exchange.chunksSent ? "\r\n" : "") + String(count, radix: 16) + "\r\n").utf8)
                    from -= sizeLine.count
                    sizeLine.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: scratch[from..<start]).copyMemory(from: $0) }
                    exchange.chunksSent = true
                }
                stream.write(UnsafeRawBufferPointer(rebasing: scratch[from..<(start + count)]))
            case .end:
                exchange.uploadDone = true
                if exchange.chunkedUpload {
                    let last = Array((exchange.chunksSent ? "\r\n0\r\n\r\n" : "0\r\n\r\n").utf8)
                    last.withUnsafeBytes { stream.write($0) }
                }
                return
            case .wait:
                exchange.uploadPaused = true
                return
            case .abort:
                pool.fail(exchange, .other("request body aborted"))
                return
            }
        }
    }

    // MARK: Response

    /// Decodes `bytes` for `exchange` and hands on what they hold, until they run out, the
    /// delegate pauses, or the response ends or breaks.
    func deliver(_ bytes: UnsafeRawBufferPointer, to exchange: UpstreamExchange) {
        var offset = 0
        while true {
            let event: HTTPResponseDecoder.Event
            do {
                event = try decoder.next(bytes, offset: &offset)
            } catch {
                pool.fail(exchange, .other("bad response from backend: \(error.reason)"))
                return
            }
            switch event {
            case .needMore:
                return
            case .head(let status, let headers):
                exchange.headDelivered = true
                exchange.delegate.responseHead(status: status, headers: headers.map { ($0.name, $0.value) })
                if exchange.finished { return }
            case .body(let range):
                let piece = UnsafeRawBufferPointer(rebasing: bytes[range])
                let taken = exchange.delegate.responseBody(piece)
                if exchange.finished { return }
                if !taken {
                    exchange.paused = true
                    exchange.refusedBody = Array(piece)
                    exchange.undecoded = Array(bytes[offset...])
                    stream?.stopReading()
                    return
                }
            case .end(let reusable):
                // Bytes past the end were never asked for: such a backend is not trusted again.
                pool.complete(exchange, reusable: reusable && offset == bytes.count && exchange.uploadDone)
                return
            }
        }
    }

    /// The delegate takes bytes again: what it refused first, then what was read after it.
    func resume(_ exchange: UpstreamExchange) {
        guard exchange.paused else { return }
        exchange.paused = false
        exchange.lastProgressMs = pool.loop.nowMs
        if !exchange.refusedBody.isEmpty {
            let refused = exchange.refusedBody
            exchange.refusedBody = []
            let taken = refused.withUnsafeBytes { exchange.delegate.responseBody($0) }
            if exchange.finished { return }
            if !taken {
                exchange.paused = true
                exchange.refusedBody = refused
                return
            }
        }
        // Decoded even when empty: the refused bytes may have been the body's last.
        let pending = exchange.undecoded
        exchange.undecoded = []
        pending.withUnsafeBytes { deliver($0, to: exchange) }
        if exchange.finished || exchange.paused { return }
        stream?.startReading()
    }

    // MARK: StreamHandler

    func streamDidRead(_ stream: TCPStream, _ bytes: UnsafeMutableRawBufferPointer) {
        guard state == .busy, let exchange else {
            pool.discard(self)
            return
        }
        exchange.lastProgressMs = pool.loop.nowMs
        let hadHead = exchange.headDelivered
        deliver(UnsafeRawBufferPointer(bytes), to: exchange)
        if !hadHead, exchange.headDelivered, !exchange.finished { exchange.delegate.responseFlush() }
    }

    func streamDidEnd(_ stream: TCPStream, status: Int32) {
        guard state == .busy, let exchange else {
            pool.discard(self)
            return
        }
        if status == Int32(UV_EOF.rawValue) {
            do {
                if case .end = try decoder.finishAtEOF() {
                    pool.complete(exchange, reusable: false)
                }
            } catch .closedBeforeResponse {
                pool.retryOrFail(exchange, .other("backend closed the connection before answering"))
            } catch {
                pool.fail(exchange, .other("backend closed the connection: \(error.reason)"))
            }
        } else if !decoder.hasReceivedBytes {
            pool.retryOrFail(exchange, .other("backend connection: \(UVError.describe(status))"))
        } else {
            pool.fail(exchange, .other("backend connection: \(UVError.describe(status))"))
        }
    }

    func streamDidDrain(_ stream: TCPStream) {
        pumpUpload()
    }

    func streamDidClose(_ stream: TCPStream) {
        self.stream = nil
        if state != .closed { pool.discard(self) }
    }
}

private func upstreamResolved(_ request: UnsafeMutablePointer<uv_getaddrinfo_t>?, _ status: Int32,
                              _ list: UnsafeMutablePointer<addrinfo>?) {
    guard let request else { return }
    let connection = Unmanaged<UpstreamConnection>.fromOpaque(request.pointee.data).takeRetainedValue()
    request.deallocate()
    connection.resolved(status: status, list)
    uv_freeaddrinfo(list)
}
