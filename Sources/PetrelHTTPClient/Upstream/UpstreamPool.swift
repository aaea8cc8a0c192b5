import CLibUV
import Glibc
import PetrelLoop

/// Streamed plain-http requests (`HTTPClient.stream` to an `http://` URL), sent by the gateway
/// itself over kept-alive connections instead of through libcurl.
///
/// Why not curl here: an `http_proxy` route is a hot path, and a request through curl's multi
/// interface cost six system calls (two of them `poll` checks on the reused connection) plus
/// option setting and header-list building; this pool writes the head in one `write`, reads the
/// answer with one `read` and keeps nothing per request but its `UpstreamExchange`
/// (docs/benchmarks.md, "HTTP API"). TLS backends and buffered `send` calls stay with curl.
/// A host name is resolved for each new connection, not per request.
///
/// Per origin (address and port) at most `maxConnectionsPerHost` connections are open; further
/// requests wait in order for one to come free, their head deadline running. Idle connections
/// are reused most recent first and closed after `idleLimitMs`. A request sent on a reused
/// connection that the backend had closed meanwhile (closed or reset before any response byte)
/// is sent once more on another, as curl does, unless part of a streamed body already went.
///
/// Deadlines (head, body stall, connect, idle) share one timer, armed for the earliest.
final class UpstreamPool {
    let loop: EventLoop
    private let connectTimeoutMs: Int64
    private let maxConnectionsPerOrigin: Int
    private var exchanges: [HTTPRequestID: UpstreamExchange] = [:]
    private struct OriginState {
        var idle: [UpstreamConnection] = []
        var open = 0
        var waiting: [UpstreamExchange] = []
    }
    private var origins: [UpstreamOrigin: OriginState] = [:]
    private var connections: [ObjectIdentifier: UpstreamConnection] = [:]
    private let timer: UnsafeMutablePointer<uv_timer_t>
    private var timerDueMs = Int64.max
    private var closed = false
    /// Where request body bytes are read before they are written; room in front for a chunk's
    /// size line, so a chunk is one write.
    let uploadScratch: UnsafeMutableRawBufferPointer
    static let uploadScratchHeadroom = 32

    /// Below common backend keep-alive timeouts (nginx 75 s), so the backend rarely closes first.
    static let idleLimitMs: Int64 = 60_000

    init(loop: EventLoop, connectTimeoutMs: Int64, maxConnectionsPerOrigin: Int) {
        self.loop = loop
        self.connectTimeoutMs = max(1, connectTimeoutMs)
        self.maxConnectionsPerOrigin = max(1, maxConnectionsPerOrigin)
        uploadScratch = .allocate(byteCount: 64 * 1024 + Self.uploadScratchHeadroom, alignment: 16)
        timer = .allocate(capacity: 1)
        uv_timer_init(loop.uv, timer)
        timer.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    var inFlightCount: Int { exchanges.count }

    func owns(_ id: HTTPRequestID) -> Bool { exchanges[id] != nil }

    // MARK: Requests

    func start(id: HTTPRequestID, _ request: HTTPClientRequest, target: UpstreamTarget, body: HTTPRequestBodySource?,
               bodyLength: Int?, delegate: HTTPResponseStreamDelegate) {
        let framing = UpstreamBodyFraming.of(method: request.method, bufferedBody: request.body.count,
                                             streamed: body != nil, streamedLength: bodyLength)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512 + request.body.count)
        UpstreamRequestHead.serialize(method: request.method, target: target, headers: request.headers,
                                      framing: framing, into: &bytes)
        if body == nil { bytes.append(contentsOf: request.body) }
        let exchange = UpstreamExchange(id: id, origin: target.origin, requestBytes: bytes, bodySource: body,
                                        chunkedUpload: framing == .chunked, isHEAD: request.method == "HEAD",
                                        delegate: delegate, nowMs: loop.nowMs, timeoutMs: request.timeoutMs)
        guard !closed else {
            delegate.responseEnd(.other("client closed"))
            return
        }
        exchanges[id] = exchange
        armTimer(exchange.headDeadlineMs)
        dispatch(exchange)
    }

    /// An idle connection, a new one, or a place in the origin's queue.
    private func dispatch(_ exchange: UpstreamExchange) {
        // Mutated in place: a copy taken out of the table would copy its arrays on the first change.
        if let connection = origins[exchange.origin]?.idle.popLast() {
            connection.begin(exchange)
        } else if (origins[exchange.origin]?.open ?? 0) < maxConnectionsPerOrigin {
            open(for: exchange)
        } else {
            origins[exchange.origin, default: OriginState()].waiting.append(exchange)
        }
    }

    private func open(for exchange: UpstreamExchange) {
        let connection = UpstreamConnection(pool: self, origin: exchange.origin, connectDeadlineMs: loop.nowMs + connectTimeoutMs)
        origins[exchange.origin, default: OriginState()].open += 1
        connections[ObjectIdentifier(connection)] = connection
        armTimer(connection.connectDeadlineMs)
        connection.begin(exchange)
        connection.open()
    }

    /// The response is complete: the exchange ends, its connection serves the next or waits.
    func complete(_ exchange: UpstreamExchange, reusable: Bool) {
        guard !exchange.finished else { return }
        exchange.finished = true
        exchanges[exchange.id] = nil
        if let connection = exchange.connection {
            connection.detach()
            connection.servedResponses += 1
            if reusable && !closed { release(connection) } else { discard(connection) }
        }
        exchange.delegate.responseEnd(nil)
    }

    func fail(_ exchange: UpstreamExchange, _ error: HTTPClientError) {
        guard !exchange.finished else { return }
        exchange.finished = true
        exchanges[exchange.id] = nil
        if let connection = exchange.connection {
            connection.detach()
            discard(connection)
        } else {
            origins[exchange.origin]?.waiting.removeAll { $0 === exchange }
        }
        exchange.delegate.responseEnd(error)
    }

    /// The connection died before any byte of the response: sent once more elsewhere when that
    /// cannot duplicate anything the backend saw (see the type's comment).
    func retryOrFail(_ exchange: UpstreamExchange, _ error: HTTPClientError) {
        guard let connection = exchange.connection, connection.servedResponses > 0, exchange.staleRetries == 0,
              !exchange.uploadStarted, !exchange.headDelivered, !closed else {
            fail(exchange, error)
            return
        }
        exchange.staleRetries += 1
        connection.detach()
        discard(connection)
        dispatch(exchange)
    }

    /// A connection free for the next request: the longest-waiting one, else the idle list.
    func release(_ connection: UpstreamConnection) {
        guard !closed else {
            discard(connection)
            return
        }
        if let next = origins[connection.origin]?.waiting.first {
            origins[connection.origin]?.waiting.removeFirst()
            connection.state = .idle
            connection.begin(next)
            return
        }
        connection.state = .idle
        connection.idleSinceMs = loop.nowMs
        origins[connection.origin, default: OriginState()].idle.append(connection)
        armTimer(connection.idleSinceMs + Self.idleLimitMs)
    }

    /// Closes a connection for good; a request waiting for a connection to its origin gets a new one.
    func discard(_ connection: UpstreamConnection) {
        guard connections.removeValue(forKey: ObjectIdentifier(connection)) != nil else { return }
        let wasIdle = connection.state == .idle
        connection.close()
        let origin = connection.origin
        origins[origin, default: OriginState()].open -= 1
        if wasIdle { origins[origin]?.idle.removeAll { $0 === connection } }
        if !closed, origins[origin]?.waiting.isEmpty == false, let next = origins[origin]?.waiting.removeFirst() {
            open(for: next)
        }
    }

    func cancel(_ id: HTTPRequestID) {
        guard let exchange = exchanges[id] else { return }
        fail(exchange, .cancelled)
    }

    func resume(_ id: HTTPRequestID) {
        guard let exchange = exchanges[id], exchange.paused, let connection = exchange.connection else { return }
        connection.resume(exchange)
        if !exchange.finished, exchange.headDelivered { armTimer(exchange.deadlineMs) }
    }

    func resumeUpload(_ id: HTTPRequestID) {
        guard let exchange = exchanges[id], exchange.uploadPaused else { return }
        exchange.uploadPaused = false
        exchange.connection?.pumpUpload()
    }

    /// Cancels every exchange (in start order), closes every connection and the timer.
    func close() {
        guard !closed else { return }
        closed = true
        for exchange in exchanges.values.sorted(by: { $0.id.rawValue < $1.id.rawValue }) { fail(exchange, .cancelled) }
        for connection in Array(connections.values) { discard(connection) }
        origins.removeAll()
        uv_timer_stop(timer)
        uv_close(petrel_timer_as_handle(timer)) { $0?.deallocate() }
        uploadScratch.deallocate()
    }

    // MARK: Deadlines

    private func armTimer(_ dueMs: Int64) {
        guard !closed, dueMs < timerDueMs else { return }
        timerDueMs = dueMs
        uv_timer_start(timer, poolTimerFired, UInt64(max(0, dueMs - loop.nowMs)), 0)
    }

    fileprivate func deadlinesReached() {
        timerDueMs = .max
        guard !closed else { return }
        let now = loop.nowMs
        var next = Int64.max
        var expired: [UpstreamExchange] = []
        for exchange in exchanges.values {
            let due = exchange.deadlineMs
            if due <= now { expired.append(exchange) } else { next = min(next, due) }
        }
        for exchange in expired.sorted(by: { $0.id.rawValue < $1.id.rawValue }) { fail(exchange, .timeout) }
        for connection in Array(connections.values) {
            switch connection.state {
            case .connecting:
                if connection.connectDeadlineMs <= now {
                    if let exchange = connection.exchange { fail(exchange, .timeout) } else { discard(connection) }
                } else {
                    next = min(next, connection.connectDeadlineMs)
                }
            case .idle:
                let due = connection.idleSinceMs + Self.idleLimitMs
                if due <= now { discard(connection) } else { next = min(next, due) }
            case .busy, .closed:
                break
            }
        }
        if next != .max { armTimer(next) }
    }
}

private func poolTimerFired(_ timer: UnsafeMutablePointer<uv_timer_t>?) {
    guard let timer else { return }
    Unmanaged<UpstreamPool>.fromOpaque(timer.pointee.data).takeUnretainedValue().deadlinesReached()
}
