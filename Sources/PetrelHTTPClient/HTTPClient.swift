import CCurl
import CLibUV
import Glibc
import PetrelCodecs
import PetrelLoop

/// Outbound HTTP/1.1 for one event loop: libcurl's multi-socket API driven by libuv, and for
/// streamed requests to plain-http URLs a connection pool of the client's own
/// (Upstream/UpstreamPool.swift), which the `http_proxy` hot path takes. What follows is the
/// curl side; the pool documents its own rules.
///
/// curl decides which sockets it wants watched and when it next needs a timeout; it tells us
/// through CURLMOPT_SOCKETFUNCTION (one `uv_poll_t` per socket) and CURLMOPT_TIMERFUNCTION (one
/// `uv_timer_t` per client). When either fires we call `curl_multi_socket_action` and then drain
/// `curl_multi_info_read` for finished transfers. Connections are kept alive and reused by curl
/// within the multi handle, so every request to the same backend from this loop shares one pool.
///
/// Ownership (the rules every callback here relies on):
/// - The client owns the multi handle, its easy handles (in flight in `transfers`, idle in
///   `idleEasy`), the timer and the poll handles. `close()` releases all of them; `deinit` calls
///   `close()` if the owner forgot.
/// - uv handles are allocated with `UnsafeMutablePointer.allocate` and freed only in their close
///   callback. Their `data` is the client, unretained: every handle is closed in `close()`, so no
///   uv callback can run after the client is gone.
/// - curl reaches the client (socket/timer callbacks' `userp`) and each `Transfer` (PRIVATE,
///   WRITEDATA, HEADERDATA, READDATA) unretained. A transfer leaves `transfers` only after its easy handle
///   left the multi, so curl never calls back into a freed transfer.
/// - Each socket curl watches has one `uv_poll_t` in `watches`. Connection sockets are opened
///   and closed through our CURLOPT_OPENSOCKETFUNCTION/CLOSESOCKETFUNCTION, so their handle
///   can outlive curl's "stop watching" (see `watch`) and still be closed before the descriptor.
/// - User code (completions) never runs inside a curl callback, so it may call `send`, `cancel`
///   and `close` freely. The exception is a stream's delegate (`responseHead`, `responseBody`):
///   a `cancel` it causes is deferred until curl has returned (`curlDepth`).
///
/// Not `Sendable`: use it only on its loop's thread.
public final class HTTPClient {
    public let loop: EventLoop
    public let options: HTTPClientOptions

    private var multi: UnsafeMutableRawPointer?  // CURLM* (curl declares it `void`)
    private let timer: UnsafeMutablePointer<uv_timer_t>
    private struct Watch {
        let poll: UnsafeMutablePointer<uv_poll_t>
        /// UV_READABLE/UV_WRITABLE as started; libuv's `uv_poll_start` re-registers the
        /// descriptor with epoll even when nothing changed, so unchanged requests are skipped.
        var events: Int32
        /// curl stopped watching (a kept-alive connection back in its pool), we did not.
        var parked: Bool
    }
    private var watches: [curl_socket_t: Watch] = [:]
    /// Connection sockets opened by `openSocket` and not yet closed by `closeSocket`.
    private var ownSockets: Set<curl_socket_t> = []
    private var transfers: [HTTPRequestID: Transfer] = [:]
    private var idleEasy: [EasyHandle] = []
    private var nextID: UInt64 = 1
    private var closed = false
    /// Streams wait for their head against this one timer, armed for the earliest deadline
    /// (curl's own timeout would also cut the body, which may legitimately take longer).
    private let headTimer: UnsafeMutablePointer<uv_timer_t>
    private var headTimerDueMs = Int64.max
    /// Above zero while curl is on the stack: curl must not be re-entered from its callbacks.
    private var curlDepth = 0
    private var deferredCancels: [HTTPRequestID] = []
    /// Streams whose head was delivered during the current curl call: told `responseFlush` after it.
    var headsDelivered: [Transfer] = []

    /// Idle easy handles kept for reuse; above this they are freed.
    static let idleEasyLimit = 16

    public init(loop: EventLoop, options: HTTPClientOptions = HTTPClientOptions()) {
        CurlGlobal.ensureInitialised()
        self.loop = loop
        self.options = options
        guard let multi = curl_multi_init() else { preconditionFailure("curl_multi_init failed") }
        self.multi = multi
        timer = .allocate(capacity: 1)
        headTimer = .allocate(capacity: 1)
        uv_timer_init(loop.uv, timer)
        timer.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_timer_init(loop.uv, headTimer)
        headTimer.pointee.data = Unmanaged.passUnretained(self).toOpaque()

        let me = Unmanaged.passUnretained(self).toOpaque()
        petrel_curl_multi_setopt_socket_function(multi, curlSocketCallback)
        petrel_curl_multi_setopt_pointer(multi, CURLMOPT_SOCKETDATA, me)
        petrel_curl_multi_setopt_timer_function(multi, curlTimerCallback)
        petrel_curl_multi_setopt_pointer(multi, CURLMOPT_TIMERDATA, me)
        petrel_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max(1, options.maxConnectionsPerHost))
        // curl's default pool size follows the number of transfers in flight, so it shrinks as
        // they finish and closes kept-alive connections it needs again a moment later.
        petrel_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(64, options.maxConnectionsPerHost * 4))
    }

    deinit {
        close()
    }

    /// Streamed plain-http requests, sent without curl; made on first use.
    private var upstreamPool: UpstreamPool?

    /// Requests sent and not yet completed.
    public var inFlightCount: Int { transfers.count + (upstreamPool?.inFlightCount ?? 0) }

    /// Starts a request. `completion` runs on the loop's thread exactly once: with the response,
    /// with an error, or with `.other("cancelled")` after `cancel`/`close`. A request refused up
    /// front (client closed, CR/LF in a header, curl refusing an option) completes before `send`
    /// returns.
    @discardableResult
    public func send(_ request: HTTPClientRequest, completion: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) -> HTTPRequestID {
        start(request, delegate: nil, completion: completion)
    }

    /// Starts a request whose response goes to `delegate` as it arrives, with no size limit:
    /// head, body pieces (pausable), end. `responseEnd` may run before this returns (refused up
    /// front, like `send`).
    ///
    /// With `body`, the request body comes from it as it becomes available instead of from
    /// `request.body`: sent with `Content-Length: bodyLength`, or chunked when that is nil.
    ///
    /// `http://` URLs go through the pool (unless `options.pooledPlainHTTP` is off), others
    /// through curl; the contract is the same.
    @discardableResult
    public func stream(_ request: HTTPClientRequest, body: HTTPRequestBodySource? = nil, bodyLength: Int? = nil,
                       to delegate: HTTPResponseStreamDelegate) -> HTTPRequestID {
        if options.pooledPlainHTTP, !closed, let target = UpstreamTarget(url: request.url) {
            let id = HTTPRequestID(rawValue: nextID)
            nextID += 1
            if let problem = Self.headerProblem(request) {
                delegate.responseEnd(.other(problem))
                return id
            }
            let pool = upstreamPool ?? UpstreamPool(loop: loop, connectTimeoutMs: options.connectTimeoutMs,
                                                    maxConnectionsPerOrigin: options.maxConnectionsPerHost)
            upstreamPool = pool
            pool.start(id: id, request, target: target, body: body, bodyLength: bodyLength, delegate: delegate)
            return id
        }
        return start(request, delegate: delegate, body: body.map { ($0, bodyLength) }) { result in
            switch result {
            case .success: delegate.responseEnd(nil)
            case .failure(let error): delegate.responseEnd(error)
            }
        }
    }

    /// Lets a stream paused by its delegate go on; the refused bytes are offered again (possibly
    /// before this returns). Ignored for requests not paused.
    public func resume(_ id: HTTPRequestID) {
        if let upstreamPool, upstreamPool.owns(id) { return upstreamPool.resume(id) }
        guard let transfer = transfers[id], transfer.paused, !closed else { return }
        transfer.paused = false
        unpause(transfer)
    }

    /// Lets a streamed request body paused by its source (`.wait`) go on: curl asks it again
    /// (possibly before this returns). Ignored for uploads not paused.
    public func resumeUpload(_ id: HTTPRequestID) {
        if let upstreamPool, upstreamPool.owns(id) { return upstreamPool.resumeUpload(id) }
        guard let transfer = transfers[id], transfer.uploadPaused, !closed else { return }
        transfer.uploadPaused = false
        unpause(transfer)
    }

    /// curl_easy_pause sets both directions at once: the one still paused stays so.
    private func unpause(_ transfer: Transfer) {
        let mask = (transfer.paused ? petrel_curlpause_recv : 0) | (transfer.uploadPaused ? petrel_curlpause_send : 0)
        curlDepth += 1
        curl_easy_pause(transfer.easy.raw, mask)
        curlDepth -= 1
        afterCurl()
    }

    private func start(_ request: HTTPClientRequest, delegate: HTTPResponseStreamDelegate?,
                       body: (source: HTTPRequestBodySource, length: Int?)? = nil,
                       completion: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) -> HTTPRequestID {
        let id = HTTPRequestID(rawValue: nextID)
        nextID += 1
        guard let multi, !closed else {
            completion(.failure(.other("client closed")))
            return id
        }
        if let problem = Self.headerProblem(request) {
            completion(.failure(.other(problem)))
            return id
        }
        guard let easy = takeEasy() else {
            completion(.failure(.other("curl_easy_init failed")))
            return id
        }
        let transfer = Transfer(id: id, easy: easy, maxResponseBytes: options.maxResponseBytes, completion: completion)
        if delegate != nil {
            transfer.delegate = delegate
            transfer.client = self
        }
        transfer.bodySource = body?.source
        transfer.timeoutMs = request.timeoutMs
        if let problem = configure(transfer, for: request, bodyLength: body?.length) {
            transfer.freeHeaderList()
            recycle(easy)
            completion(.failure(.other(problem)))
            return id
        }
        transfers[id] = transfer
        let rc = curl_multi_add_handle(multi, easy.raw)
        if rc != CURLM_OK {
            transfers[id] = nil
            transfer.freeHeaderList()
            recycle(easy)
            completion(.failure(.other(String(cString: curl_multi_strerror(rc)))))
            return id
        }
        if delegate != nil {
            transfer.headDeadlineMs = loop.nowMs + max(1, request.timeoutMs)
            armHeadTimer(transfer.headDeadlineMs)
        }
        return id
    }

    /// Stops a request; its completion runs now with `.other("cancelled")`. Unknown or finished
    /// ids are ignored.
    public func cancel(_ id: HTTPRequestID) {
        if let upstreamPool, upstreamPool.owns(id) { return upstreamPool.cancel(id) }
        if curlDepth > 0 {
            // Removing a handle from inside curl's own callback is undefined; the write callback
            // refuses further bytes meanwhile.
            transfers[id]?.cancelRequested = true
            deferredCancels.append(id)
            return
        }
        fail(id, .cancelled)
    }

    private func fail(_ id: HTTPRequestID, _ error: HTTPClientError) {
        guard let transfer = transfers.removeValue(forKey: id), let multi else { return }
        curl_multi_remove_handle(multi, transfer.easy.raw)
        transfer.freeHeaderList()
        recycle(transfer.easy)
        transfer.completion(.failure(error))
    }

    /// Work that had to wait until curl was off the stack: finished transfers, then cancels.
    private func afterCurl() {
        if !headsDelivered.isEmpty {
            let flushing = headsDelivered
            headsDelivered.removeAll(keepingCapacity: true)
            for transfer in flushing { transfer.delegate?.responseFlush() }
        }
        drainFinished()
        while !closed, curlDepth == 0, !deferredCancels.isEmpty {
            fail(deferredCancels.removeFirst(), .cancelled)
        }
    }

    /// Cancels every request in flight (each completion gets `.other("cancelled")`: the pool's
    /// streams, then curl's requests, each in send order), frees the curl handles, closes the
    /// pool's connections and the uv handles. Idempotent. The loop can end once the close
    /// callbacks have run.
    public func close() {
        guard !closed, let multi else { return }
        closed = true
        upstreamPool?.close()
        let pending = transfers.values.sorted { $0.id.rawValue < $1.id.rawValue }
        transfers.removeAll()
        for transfer in pending {
            curl_multi_remove_handle(multi, transfer.easy.raw)
            transfer.freeHeaderList()
            transfer.easy.destroy()
        }
        for easy in idleEasy { easy.destroy() }
        idleEasy.removeAll()
        // Closing pooled connections may still call the socket callback with CURL_POLL_REMOVE.
        curl_multi_cleanup(multi)
        self.multi = nil
        for socket in Array(watches.keys) { closeWatch(socket) }
        uv_timer_stop(timer)
        uv_close(uvHandle(timer), freeHandle)
        uv_timer_stop(headTimer)
        uv_close(uvHandle(headTimer), freeHandle)
        deferredCancels.removeAll()
        headsDelivered.removeAll()
        for transfer in pending { transfer.completion(.failure(.cancelled)) }
    }

    // MARK: - curl → libuv

    /// CURLMOPT_SOCKETFUNCTION: watch `socket` for `what` (CURL_POLL_*), or stop watching it.
    ///
    /// curl stops watching a kept-alive connection after every request and watches it again for
    /// the next; closing and re-creating the poll handle each time costs an ioctl and four
    /// epoll_ctl calls per request. So a connection socket's handle stays as it is ("parked");
    /// if it fires while parked (the backend closed the idle connection) it is stopped then, and
    /// it is closed in `closeSocket`, before curl's descriptor goes away. Other sockets (a
    /// resolver's) are closed by curl itself, so their handle goes at once.
    fileprivate func watch(socket: curl_socket_t, what: Int32) -> Int32 {
        if what == CURL_POLL_REMOVE {
            if ownSockets.contains(socket) {
                watches[socket]?.parked = true
            } else {
                closeWatch(socket)
            }
            return 0
        }
        var watch: Watch
        if let found = watches[socket] {
            watch = found
        } else {
            guard multi != nil else { return -1 }
            let poll = UnsafeMutablePointer<uv_poll_t>.allocate(capacity: 1)
            let rc = uv_poll_init_socket(loop.uv, poll, socket)
            if rc != 0 {
                poll.deallocate()
                return -1
            }
            poll.pointee.data = Unmanaged.passUnretained(self).toOpaque()
            watch = Watch(poll: poll, events: 0, parked: false)
        }
        watch.parked = false
        var events: Int32 = 0
        if what & CURL_POLL_IN != 0 { events |= Int32(UV_READABLE.rawValue) }
        if what & CURL_POLL_OUT != 0 { events |= Int32(UV_WRITABLE.rawValue) }
        if watch.events != events {
            watch.events = events
            if events == 0 {
                uv_poll_stop(watch.poll)
            } else {
                uv_poll_start(watch.poll, events, pollFired)
            }
        }
        watches[socket] = watch
        return 0
    }

    /// CURLOPT_OPENSOCKETFUNCTION: a connection socket, as curl would make it.
    fileprivate func openSocket(_ address: UnsafeMutablePointer<curl_sockaddr>) -> curl_socket_t {
        let fd = Glibc.socket(address.pointee.family, address.pointee.socktype | Int32(SOCK_CLOEXEC.rawValue), address.pointee.protocol)
        if fd >= 0 { ownSockets.insert(fd) }
        return fd
    }

    /// CURLOPT_CLOSESOCKETFUNCTION: the poll handle goes first, while the descriptor is still
    /// this socket (libuv unregisters it by number).
    fileprivate func closeSocket(_ socket: curl_socket_t) -> Int32 {
        ownSockets.remove(socket)
        closeWatch(socket)
        return Glibc.close(socket)
    }

    /// CURLMOPT_TIMERFUNCTION: -1 stops the timer, 0 means "as soon as possible" (next loop
    /// iteration: curl must not be re-entered from inside its own callback).
    fileprivate func scheduleTimer(_ timeoutMs: Int) {
        guard !closed else { return }
        if timeoutMs < 0 {
            uv_timer_stop(timer)
        } else {
            uv_timer_start(timer, timerFired, UInt64(timeoutMs), 0)
        }
    }

    // MARK: - libuv → curl

    fileprivate func socketReady(_ poll: UnsafeMutablePointer<uv_poll_t>, status: Int32, events: Int32) {
        var fd: uv_os_fd_t = -1
        guard uv_fileno(uvHandle(poll), &fd) == 0 else { return }
        if watches[fd]?.parked == true {
            // An idle pooled connection: curl checks it when it next takes it from the pool.
            uv_poll_stop(poll)
            watches[fd]?.events = 0
            return
        }
        var flags: Int32 = 0
        if status < 0 {
            // Let curl find out what went wrong by trying the socket.
            flags = CURL_CSELECT_ERR | CURL_CSELECT_IN | CURL_CSELECT_OUT
        } else {
            if events & Int32(UV_READABLE.rawValue) != 0 { flags |= CURL_CSELECT_IN }
            if events & Int32(UV_WRITABLE.rawValue) != 0 { flags |= CURL_CSELECT_OUT }
        }
        act(socket: fd, flags: flags)
    }

    fileprivate func timeoutFired() {
        act(socket: petrel_curl_socket_timeout, flags: 0)
    }

    private func act(socket: curl_socket_t, flags: Int32) {
        guard let multi, !closed else { return }
        var running: Int32 = 0
        curlDepth += 1
        curl_multi_socket_action(multi, socket, flags, &running)
        curlDepth -= 1
        afterCurl()
    }

    // MARK: Stream head deadlines

    private func armHeadTimer(_ dueMs: Int64) {
        guard dueMs < headTimerDueMs else { return }
        headTimerDueMs = dueMs
        uv_timer_start(headTimer, headTimerFired, UInt64(max(0, dueMs - loop.nowMs)), 0)
    }

    /// Streams still without a head at their deadline fail with `.timeout`; the timer is
    /// re-armed for the next one. A scan per firing, not per request.
    fileprivate func headDeadlinesReached() {
        headTimerDueMs = .max
        guard !closed else { return }
        let now = loop.nowMs
        var next = Int64.max
        var expired: [HTTPRequestID] = []
        for transfer in transfers.values where transfer.delegate != nil && !transfer.headDelivered {
            if transfer.headDeadlineMs <= now { expired.append(transfer.id) } else { next = min(next, transfer.headDeadlineMs) }
        }
        for id in expired.sorted(by: { $0.rawValue < $1.rawValue }) { fail(id, .timeout) }
        if next != .max { armHeadTimer(next) }
    }

    /// Completes every finished transfer. A completion may close the client; then the rest were
    /// already completed by `close()`.
    private func drainFinished() {
        var queued: Int32 = 0
        while !closed, let multi, let message = curl_multi_info_read(multi, &queued) {
            guard message.pointee.msg == CURLMSG_DONE, let raw = message.pointee.easy_handle else { continue }
            // Read everything before curl_multi_remove_handle invalidates the message.
            let code = message.pointee.data.result
            var privatePointer: UnsafeMutablePointer<CChar>?
            petrel_curl_easy_getinfo_pointer(raw, CURLINFO_PRIVATE, &privatePointer)
            guard let privatePointer else { continue }
            let transfer = Unmanaged<Transfer>.fromOpaque(UnsafeRawPointer(privatePointer)).takeUnretainedValue()
            guard transfers.removeValue(forKey: transfer.id) != nil else { continue }
            curl_multi_remove_handle(multi, raw)
            let result = outcome(of: transfer, code: code)
            transfer.freeHeaderList()
            recycle(transfer.easy)
            if case .success(let response) = result, let delegate = transfer.delegate, !transfer.headDelivered {
                transfer.headDelivered = true
                delegate.responseHead(status: response.status, headers: response.headers)
            }
            transfer.completion(result)
        }
    }

    private func outcome(of transfer: Transfer, code: CURLcode) -> Result<HTTPClientResponse, HTTPClientError> {
        // Cancelled inside a callback, then refused by the write callback before the cancel ran.
        if transfer.cancelRequested { return .failure(.cancelled) }
        if code == CURLE_OK {
            var status = 0
            petrel_curl_easy_getinfo_long(transfer.easy.raw, CURLINFO_RESPONSE_CODE, &status)
            return .success(HTTPClientResponse(status: status, headers: transfer.responseHeaders, body: transfer.body))
        }
        if transfer.exceededLimit { return .failure(.responseTooLarge) }
        return .failure(Self.map(code, message: transfer.easy.errorMessage))
    }

    /// curl result codes to the client's error cases.
    static func map(_ code: CURLcode, message: String?) -> HTTPClientError {
        let text = message ?? String(cString: curl_easy_strerror(code))
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            return .timeout
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .connectFailed(text)
        case CURLE_FILESIZE_EXCEEDED:
            return .responseTooLarge
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
             CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ENGINE_NOTFOUND,
             CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_SHUTDOWN_FAILED,
             CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
             CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT, CURLE_USE_SSL_FAILED:
            return .tls(text)
        default:
            return .other(text)
        }
    }

    // MARK: - Easy handles

    private func takeEasy() -> EasyHandle? {
        if let easy = idleEasy.popLast() { return easy }
        return EasyHandle()
    }

    private func recycle(_ easy: EasyHandle) {
        if idleEasy.count < Self.idleEasyLimit {
            easy.reset()
            idleEasy.append(easy)
        } else {
            easy.destroy()
        }
    }

    /// Sets every option for one request; returns a problem description when curl refuses one.
    private func configure(_ transfer: Transfer, for request: HTTPClientRequest, bodyLength: Int?) -> String? {
        let h = transfer.easy.raw
        let me = Unmanaged.passUnretained(transfer).toOpaque()
        var failed: CURLcode = CURLE_OK
        func check(_ rc: CURLcode) { if rc != CURLE_OK && failed == CURLE_OK { failed = rc } }

        check(petrel_curl_easy_setopt_string(h, CURLOPT_URL, request.url))
        check(petrel_curl_easy_setopt_string(h, CURLOPT_PROTOCOLS_STR, "http,https"))
        check(petrel_curl_easy_setopt_long(h, CURLOPT_NOSIGNAL, 1))
        check(petrel_curl_easy_setopt_long(h, CURLOPT_FOLLOWLOCATION, 0))
        check(petrel_curl_easy_setopt_long(h, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1)))
        // The gateway forwards paths verbatim; curl would otherwise squash `/../` segments.
        check(petrel_curl_easy_setopt_long(h, CURLOPT_PATH_AS_IS, 1))
        check(petrel_curl_easy_setopt_long(h, CURLOPT_TCP_KEEPALIVE, 1))
        if transfer.delegate == nil {
            check(petrel_curl_easy_setopt_long(h, CURLOPT_TIMEOUT_MS, Int(max(1, request.timeoutMs))))
            check(petrel_curl_easy_setopt_off(h, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(options.maxResponseBytes)))
        } else {
            // The head has its own deadline (headTimer); a body has none, only a stall limit,
            // which curl suspends while the delegate keeps the transfer paused.
            check(petrel_curl_easy_setopt_long(h, CURLOPT_LOW_SPEED_LIMIT, 1))
            check(petrel_curl_easy_setopt_long(h, CURLOPT_LOW_SPEED_TIME, Int(max(1, (request.timeoutMs + 999) / 1000))))
        }
        check(petrel_curl_easy_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(max(1, options.connectTimeoutMs))))
        check(petrel_curl_easy_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 1))
        check(petrel_curl_easy_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 2))
        if let caFile = options.caFile { check(petrel_curl_easy_setopt_string(h, CURLOPT_CAINFO, caFile)) }
        if let cert = options.clientCertificateFile { check(petrel_curl_easy_setopt_string(h, CURLOPT_SSLCERT, cert)) }
        if let key = options.clientKeyFile { check(petrel_curl_easy_setopt_string(h, CURLOPT_SSLKEY, key)) }
        check(petrel_curl_easy_setopt_pointer(h, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(transfer.easy.errorBuffer)))
        check(petrel_curl_easy_setopt_pointer(h, CURLOPT_PRIVATE, me))
        let client = Unmanaged.passUnretained(self).toOpaque()
        check(petrel_curl_easy_setopt_opensocket(h, curlOpenSocketCallback))
        check(petrel_curl_easy_setopt_pointer(h, CURLOPT_OPENSOCKETDATA, client))
        check(petrel_curl_easy_setopt_closesocket(h, curlCloseSocketCallback))
        check(petrel_curl_easy_setopt_pointer(h, CURLOPT_CLOSESOCKETDATA, client))
        check(petrel_curl_easy_setopt_write_function(h, CURLOPT_WRITEFUNCTION, curlWriteCallback))
        check(petrel_curl_easy_setopt_pointer(h, CURLOPT_WRITEDATA, me))
        check(petrel_curl_easy_setopt_write_function(h, CURLOPT_HEADERFUNCTION, curlHeaderCallback))
        check(petrel_curl_easy_setopt_pointer(h, CURLOPT_HEADERDATA, me))

        let method = request.method
        var sendsBody = false
        var chunkedUpload = false
        if transfer.bodySource != nil {
            // An upload read through curlReadCallback, with the client's method; curl frames it
            // with the length given, else chunked (HTTP/1.1).
            check(petrel_curl_easy_setopt_long(h, CURLOPT_UPLOAD, 1))
            check(petrel_curl_easy_setopt_string(h, CURLOPT_CUSTOMREQUEST, method))
            check(petrel_curl_easy_setopt_off(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(bodyLength ?? -1)))
            check(petrel_curl_easy_setopt_read_function(h, curlReadCallback))
            check(petrel_curl_easy_setopt_pointer(h, CURLOPT_READDATA, me))
            chunkedUpload = bodyLength == nil
        } else {
            switch method {
            case "GET" where request.body.isEmpty:
                check(petrel_curl_easy_setopt_long(h, CURLOPT_HTTPGET, 1))
            case "HEAD":
                check(petrel_curl_easy_setopt_long(h, CURLOPT_NOBODY, 1))
            case "POST":
                check(petrel_curl_easy_setopt_long(h, CURLOPT_POST, 1))
                sendsBody = true
            default:
                check(petrel_curl_easy_setopt_string(h, CURLOPT_CUSTOMREQUEST, method))
                // PUT and PATCH always carry a body (Content-Length: 0 when empty).
                sendsBody = !request.body.isEmpty || method == "PUT" || method == "PATCH"
            }
        }
        if sendsBody {
            // Size first: COPYPOSTFIELDS copies exactly that many bytes (binary-safe).
            check(petrel_curl_easy_setopt_off(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)))
            request.body.withUnsafeBytes { bytes in
                let pointer = bytes.baseAddress ?? UnsafeRawPointer(("" as StaticString).utf8Start)
                check(petrel_curl_easy_setopt_pointer(h, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: pointer)))
            }
        }

        // Headers: the caller's, plus removal of what curl would add on its own, so the backend
        // sees exactly what the gateway meant to send.
        var list: UnsafeMutablePointer<curl_slist>?
        var hasExpect = false, hasAccept = false, hasContentType = false
        for (name, value) in request.headers {
            switch name.utf8.count {
            case 6: hasExpect = hasExpect || HeaderName.is(name, "expect"); hasAccept = hasAccept || HeaderName.is(name, "accept")
            case 12: hasContentType = hasContentType || HeaderName.is(name, "content-type")
            default: break
            }
            // "Name;" is curl's spelling for a header with an empty value ("Name:" would remove it).
            list = curl_slist_append(list, value.isEmpty ? "\(name);" : "\(name): \(value)")
        }
        // No `Expect: 100-continue` round trip before bodies.
        if !hasExpect { list = curl_slist_append(list, "Expect:") }
        if !hasAccept { list = curl_slist_append(list, "Accept:") }
        if chunkedUpload { list = curl_slist_append(list, "Transfer-Encoding: chunked") }
        // curl labels POSTFIELDS bodies as form data unless told otherwise.
        if sendsBody && !hasContentType { list = curl_slist_append(list, "Content-Type:") }
        transfer.headerList = list
        check(petrel_curl_easy_setopt_slist(h, CURLOPT_HTTPHEADER, list))

        if failed != CURLE_OK { return String(cString: curl_easy_strerror(failed)) }
        return nil
    }

    /// CR, LF or NUL in a header would let a caller split the request.
    static func headerProblem(_ request: HTTPClientRequest) -> String? {
        for (name, value) in request.headers {
            if name.isEmpty || !Self.allBytes(name, { $0 != 0x3A && $0 > 0x20 && $0 != 0x7F }) {
                return "invalid header name \(name.debugDescription)"
            }
            if !Self.allBytes(value, { $0 != 0x0D && $0 != 0x0A && $0 != 0 }) {
                return "invalid value for header \(name)"
            }
        }
        if request.method.isEmpty || request.method.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
            return "invalid method \(request.method.debugDescription)"
        }
        return nil
    }

    /// Every byte of `text` passes `test`; through the contiguous bytes when the String has them
    /// (it runs for every header of every request).
    @inline(__always)
    private static func allBytes(_ text: String, _ test: (UInt8) -> Bool) -> Bool {
        if let result = text.utf8.withContiguousStorageIfAvailable({ bytes in
            for byte in bytes where !test(byte) { return false }
            return true
        }) { return result }
        for byte in text.utf8 where !test(byte) { return false }
        return true
    }

    private func closeWatch(_ socket: curl_socket_t) {
        guard let watch = watches.removeValue(forKey: socket) else { return }
        uv_poll_stop(watch.poll)
        uv_close(uvHandle(watch.poll), freeHandle)
    }
}

// MARK: - C callbacks (plain functions: no captures, no actor isolation)

private func curlSocketCallback(_ easy: UnsafeMutableRawPointer?, _ socket: curl_socket_t, _ what: Int32,
                                _ user: UnsafeMutableRawPointer?, _ socketPointer: UnsafeMutableRawPointer?) -> Int32 {
    Unmanaged<HTTPClient>.fromOpaque(user!).takeUnretainedValue().watch(socket: socket, what: what)
}

private func curlOpenSocketCallback(_ user: UnsafeMutableRawPointer?, _ purpose: curlsocktype,
                                    _ address: UnsafeMutablePointer<curl_sockaddr>?) -> curl_socket_t {
    guard let user, let address else { return -1 }
    return Unmanaged<HTTPClient>.fromOpaque(user).takeUnretainedValue().openSocket(address)
}

private func curlCloseSocketCallback(_ user: UnsafeMutableRawPointer?, _ socket: curl_socket_t) -> Int32 {
    guard let user else { return Glibc.close(socket) }
    return Unmanaged<HTTPClient>.fromOpaque(user).takeUnretainedValue().closeSocket(socket)
}

private func curlTimerCallback(_ multi: UnsafeMutableRawPointer?, _ timeoutMs: Int, _ user: UnsafeMutableRawPointer?) -> Int32 {
    Unmanaged<HTTPClient>.fromOpaque(user!).takeUnretainedValue().scheduleTimer(timeoutMs)
    return 0
}

private func pollFired(_ poll: UnsafeMutablePointer<uv_poll_t>?, _ status: Int32, _ events: Int32) {
    guard let poll else { return }
    Unmanaged<HTTPClient>.fromOpaque(poll.pointee.data).takeUnretainedValue().socketReady(poll, status: status, events: events)
}

private func timerFired(_ timer: UnsafeMutablePointer<uv_timer_t>?) {
    guard let timer else { return }
    Unmanaged<HTTPClient>.fromOpaque(timer.pointee.data).takeUnretainedValue().timeoutFired()
}

private func headTimerFired(_ timer: UnsafeMutablePointer<uv_timer_t>?) {
    guard let timer else { return }
    Unmanaged<HTTPClient>.fromOpaque(timer.pointee.data).takeUnretainedValue().headDeadlinesReached()
}

/// Close callback for every handle this module allocates: the memory goes, nothing else is touched.
private func freeHandle(_ handle: UnsafeMutablePointer<uv_handle_t>?) {
    handle?.deallocate()
}

/// libuv handle "subclasses" share the `uv_handle_t` prefix.
@inline(__always)
private func uvHandle<T>(_ pointer: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<uv_handle_t> {
    UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: uv_handle_t.self)
}
