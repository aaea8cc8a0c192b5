import CCurl
import CLibUV
import PetrelLoop

/// Outbound HTTP/1.1 for one event loop: libcurl's multi-socket API driven by libuv.
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
///   WRITEDATA, HEADERDATA) unretained. A transfer leaves `transfers` only after its easy handle
///   left the multi, so curl never calls back into a freed transfer.
/// - curl's per-socket pointer (`curl_multi_assign`) is that socket's `uv_poll_t`.
/// - User code (completions) never runs inside a curl callback, so it may call `send`, `cancel`
///   and `close` freely.
///
/// Not `Sendable`: use it only on its loop's thread.
public final class HTTPClient {
    public let loop: EventLoop
    public let options: HTTPClientOptions

    private var multi: UnsafeMutableRawPointer?  // CURLM* (curl declares it `void`)
    private let timer: UnsafeMutablePointer<uv_timer_t>
    private var polls: Set<UnsafeMutablePointer<uv_poll_t>> = []
    private var transfers: [HTTPRequestID: Transfer] = [:]
    private var idleEasy: [EasyHandle] = []
    private var nextID: UInt64 = 1
    private var closed = false

    /// Idle easy handles kept for reuse; above this they are freed.
    static let idleEasyLimit = 16

    public init(loop: EventLoop, options: HTTPClientOptions = HTTPClientOptions()) {
        CurlGlobal.ensureInitialised()
        self.loop = loop
        self.options = options
        guard let multi = curl_multi_init() else { preconditionFailure("curl_multi_init failed") }
        self.multi = multi
        timer = .allocate(capacity: 1)
        uv_timer_init(loop.uv, timer)
        timer.pointee.data = Unmanaged.passUnretained(self).toOpaque()

        let me = Unmanaged.passUnretained(self).toOpaque()
        petrel_curl_multi_setopt_socket_function(multi, curlSocketCallback)
        petrel_curl_multi_setopt_pointer(multi, CURLMOPT_SOCKETDATA, me)
        petrel_curl_multi_setopt_timer_function(multi, curlTimerCallback)
        petrel_curl_multi_setopt_pointer(multi, CURLMOPT_TIMERDATA, me)
        petrel_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max(1, options.maxConnectionsPerHost))
    }

    deinit {
        close()
    }

    /// Requests sent and not yet completed.
    public var inFlightCount: Int { transfers.count }

    /// Starts a request. `completion` runs on the loop's thread exactly once: with the response,
    /// with an error, or with `.other("cancelled")` after `cancel`/`close`. A request refused up
    /// front (client closed, CR/LF in a header, curl refusing an option) completes before `send`
    /// returns.
    @discardableResult
    public func send(_ request: HTTPClientRequest, completion: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) -> HTTPRequestID {
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
        if let problem = configure(transfer, for: request) {
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
        }
        return id
    }

    /// Stops a request; its completion runs now with `.other("cancelled")`. Unknown or finished
    /// ids are ignored.
    public func cancel(_ id: HTTPRequestID) {
        guard let transfer = transfers.removeValue(forKey: id), let multi else { return }
        curl_multi_remove_handle(multi, transfer.easy.raw)
        transfer.freeHeaderList()
        recycle(transfer.easy)
        transfer.completion(.failure(.cancelled))
    }

    /// Cancels every request in flight (each completion gets `.other("cancelled")`, in send
    /// order), frees the curl handles and closes the uv handles. Idempotent. The loop can end
    /// once the close callbacks have run.
    public func close() {
        guard !closed, let multi else { return }
        closed = true
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
        for poll in polls { closePoll(poll) }
        uv_timer_stop(timer)
        uv_close(uvHandle(timer), freeHandle)
        for transfer in pending { transfer.completion(.failure(.cancelled)) }
    }

    // MARK: - curl → libuv

    /// CURLMOPT_SOCKETFUNCTION: watch `socket` for `what` (CURL_POLL_*), or stop watching it.
    fileprivate func watch(socket: curl_socket_t, what: Int32, poll existing: UnsafeMutableRawPointer?) -> Int32 {
        if what == CURL_POLL_REMOVE {
            // curl drops its per-socket pointer itself right after this callback.
            if let existing { closePoll(existing.assumingMemoryBound(to: uv_poll_t.self)) }
            return 0
        }
        let poll: UnsafeMutablePointer<uv_poll_t>
        if let existing {
            poll = existing.assumingMemoryBound(to: uv_poll_t.self)
        } else {
            guard let multi else { return -1 }
            poll = .allocate(capacity: 1)
            let rc = uv_poll_init_socket(loop.uv, poll, socket)
            if rc != 0 {
                poll.deallocate()
                return -1
            }
            poll.pointee.data = Unmanaged.passUnretained(self).toOpaque()
            polls.insert(poll)
            curl_multi_assign(multi, socket, UnsafeMutableRawPointer(poll))
        }
        var events: Int32 = 0
        if what & CURL_POLL_IN != 0 { events |= Int32(UV_READABLE.rawValue) }
        if what & CURL_POLL_OUT != 0 { events |= Int32(UV_WRITABLE.rawValue) }
        if events == 0 {
            uv_poll_stop(poll)
        } else {
            uv_poll_start(poll, events, pollFired)
        }
        return 0
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
        curl_multi_socket_action(multi, socket, flags, &running)
        drainFinished()
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
            transfer.completion(result)
        }
    }

    private func outcome(of transfer: Transfer, code: CURLcode) -> Result<HTTPClientResponse, HTTPClientError> {
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
    private func configure(_ transfer: Transfer, for request: HTTPClientRequest) -> String? {
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
        check(petrel_curl_easy_setopt_long(h, CURLOPT_TIMEOUT_MS, Int(max(1, request.timeoutMs))))
        check(petrel_curl_easy_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(max(1, options.connectTimeoutMs))))
        check(petrel_curl_easy_setopt_off(h, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(options.maxResponseBytes)))
        check(petrel_curl_easy_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 1))
        check(petrel_curl_easy_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 2))
        if let caFile = options.caFile { check(petrel_curl_easy_setopt_string(h, CURLOPT_CAINFO, caFile)) }
        if let cert = options.clientCertificateFile { check(petrel_curl_easy_setopt_string(h, CURLOPT_SSLCERT, cert)) }
        if let key = options.clientKeyFile { check(petrel_curl_easy_setopt_string(h, CURLOPT_SSLKEY, key)) }
        check(petrel_curl_easy_setopt_pointer(h, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(transfer.easy.errorBuffer)))
        check(petrel_curl_easy_setopt_pointer(h, CURLOPT_PRIVATE, me))
        check(petrel_curl_easy_setopt_write_function(h, CURLOPT_WRITEFUNCTION, curlWriteCallback))
        check(petrel_curl_easy_setopt_pointer(h, CURLOPT_WRITEDATA, me))
        check(petrel_curl_easy_setopt_write_function(h, CURLOPT_HEADERFUNCTION, curlHeaderCallback))
        check(petrel_curl_easy_setopt_pointer(h, CURLOPT_HEADERDATA, me))

        let method = request.method
        var sendsBody = false
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
        var seen = Set<String>()
        for (name, value) in request.headers {
            seen.insert(name.lowercased())
            // "Name;" is curl's spelling for a header with an empty value ("Name:" would remove it).
            list = curl_slist_append(list, value.isEmpty ? "\(name);" : "\(name): \(value)")
        }
        // No `Expect: 100-continue` round trip before bodies.
        if !seen.contains("expect") { list = curl_slist_append(list, "Expect:") }
        if !seen.contains("accept") { list = curl_slist_append(list, "Accept:") }
        // curl labels POSTFIELDS bodies as form data unless told otherwise.
        if sendsBody && !seen.contains("content-type") { list = curl_slist_append(list, "Content-Type:") }
        transfer.headerList = list
        check(petrel_curl_easy_setopt_slist(h, CURLOPT_HTTPHEADER, list))

        if failed != CURLE_OK { return String(cString: curl_easy_strerror(failed)) }
        return nil
    }

    /// CR, LF or NUL in a header would let a caller split the request.
    private static func headerProblem(_ request: HTTPClientRequest) -> String? {
        for (name, value) in request.headers {
            if name.isEmpty || name.utf8.contains(where: { $0 == 0x3A || $0 <= 0x20 || $0 == 0x7F }) {
                return "invalid header name \(name.debugDescription)"
            }
            if value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) {
                return "invalid value for header \(name)"
            }
        }
        if request.method.isEmpty || request.method.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
            return "invalid method \(request.method.debugDescription)"
        }
        return nil
    }

    private func closePoll(_ poll: UnsafeMutablePointer<uv_poll_t>) {
        guard polls.remove(poll) != nil else { return }
        uv_poll_stop(poll)
        uv_close(uvHandle(poll), freeHandle)
    }
}

// MARK: - C callbacks (plain functions: no captures, no actor isolation)

private func curlSocketCallback(_ easy: UnsafeMutableRawPointer?, _ socket: curl_socket_t, _ what: Int32,
                                _ user: UnsafeMutableRawPointer?, _ socketPointer: UnsafeMutableRawPointer?) -> Int32 {
    Unmanaged<HTTPClient>.fromOpaque(user!).takeUnretainedValue().watch(socket: socket, what: what, poll: socketPointer)
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

/// Close callback for every handle this module allocates: the memory goes, nothing else is touched.
private func freeHandle(_ handle: UnsafeMutablePointer<uv_handle_t>?) {
    handle?.deallocate()
}

/// libuv handle "subclasses" share the `uv_handle_t` prefix.
@inline(__always)
private func uvHandle<T>(_ pointer: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<uv_handle_t> {
    UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: uv_handle_t.self)
}
