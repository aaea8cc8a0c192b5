import CHiredis
import CLibUV
import Glibc
import PetrelLoop

/// What a `RedisLink` tells the client or subscriber that owns it. Every call runs on the loop.
protocol RedisLinkOwner: AnyObject {
    /// A fresh context exists and its TCP/Unix connect is in progress. hiredis buffers commands
    /// until the socket is writable, so the owner queues its handshake here.
    func linkOpened(_ context: UnsafeMutablePointer<redisAsyncContext>)
    /// The context is gone (being freed by hiredis, or by the link itself): touch it no more.
    /// A reconnect is scheduled after this returns, unless the owner closed the link meanwhile.
    func linkDropped(reason: String)
    /// A reply (or a NULL reply) for one of the owner's commands was just delivered.
    func linkReplied()
    /// The link's timer fired. Returns the next deadline the owner needs, in loop milliseconds.
    func linkTimerFired(nowMs: Int64) -> Int64?
}

/// One hiredis async context at a time for one owner, re-created with backoff forever.
///
/// Ownership, written once for the module:
/// - hiredis owns the `redisAsyncContext`. It frees it after the disconnect callback, after a
///   failed connect callback, and on `redisAsyncFree`. The link keeps the pointer only while the
///   context is alive: every path that ends a context first sets `context = nil` and clears
///   `context.data` (the link, unretained), so a late hiredis callback finds `data == nil` and
///   does nothing.
/// - The context's `uv_poll_t` belongs to the event hooks (RedisEvents.swift): hiredis's
///   `cleanup` hook closes it, its close callback frees it.
/// - The link owns one `uv_timer_t` (allocated in `start`, freed in its close callback). It
///   serves the owner's deadlines (command timeouts, handshake timeout) and the reconnect delay:
///   one timer per client, never one per command.
/// - A `uv_getaddrinfo_t` in flight retains the link until its callback, which frees the request.
/// - `redisAsyncFree` is never called inside hiredis's connect callback (hiredis would go on
///   using the context); inside reply callbacks hiredis defers it, which is safe.
final class RedisLink {
    unowned let owner: RedisLinkOwner
    let loop: EventLoop
    let endpoint: RedisEndpoint

    private(set) var context: UnsafeMutablePointer<redisAsyncContext>?
    private(set) var closed = false
    private var started = false
    private var timer: UnsafeMutablePointer<uv_timer_t>?
    private var armedAtMs: Int64?
    private var reconnectAtMs: Int64?
    private var resolving: UnsafeMutablePointer<uv_getaddrinfo_t>?
    /// Consecutive connection attempts that did not reach a finished handshake.
    private var failures = 0
    private var healthy = false

    /// Reconnect delays: exponential from 100 ms to 5 s, with jitter so that nodes that lost
    /// Redis together do not come back in lockstep.
    static let backoffMinMs: Int64 = 100
    static let backoffMaxMs: Int64 = 5_000

    init(owner: RedisLinkOwner, loop: EventLoop, endpoint: RedisEndpoint) {
        self.owner = owner
        self.loop = loop
        self.endpoint = endpoint
    }

    /// Opens the first connection; later ones follow drops by themselves.
    func start() {
        precondition(!started, "RedisLink started twice")
        guard !closed else { return }
        started = true
        let timer = UnsafeMutablePointer<uv_timer_t>.allocate(capacity: 1)
        uv_timer_init(loop.uv, timer)
        timer.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        self.timer = timer
        open()
    }

    /// The owner's handshake finished: the next drop starts the backoff from its minimum.
    func markHealthy() {
        healthy = true
        failures = 0
    }

    /// Asks for a timer callback at (or soon after) `atMs`.
    func schedule(atMs: Int64) {
        guard let timer, !closed else { return }
        if let armed = armedAtMs, armed <= atMs { return }
        armedAtMs = atMs
        uv_timer_start(timer, linkTimerCallback, UInt64(max(0, atMs - loop.nowMs)), 0)
    }

    /// Ends the current context on the owner's request (handshake refused or timed out) and
    /// schedules a reconnect.
    func abort(reason: String) {
        guard let ac = context else { return }
        context = nil
        ac.pointee.data = nil
        dropped(reason: reason)
        // Runs the pending reply callbacks with NULL (their boxes are already finished) and
        // closes the poll handle; deferred by hiredis when we are inside one of its callbacks.
        redisAsyncFree(ac)
    }

    /// Frees the context and the timer. The owner fails its own pending work first.
    func close() {
        guard !closed else { return }
        closed = true
        reconnectAtMs = nil
        if let req = resolving {
            // A lookup not yet started on the thread pool is dropped; a running one finishes
            // and its callback, seeing `closed`, only frees the request.
            uv_cancel(petrel_redis_getaddrinfo_as_req(req))
        }
        if let ac = context {
            context = nil
            ac.pointee.data = nil
            redisAsyncFree(ac)
        }
        if let timer {
            self.timer = nil
            uv_timer_stop(timer)
            uv_close(petrel_timer_as_handle(timer)) { $0?.deallocate() }
        }
    }

    // MARK: - Connecting

    private func open() {
        guard !closed, context == nil, resolving == nil else { return }
        if endpoint.unixSocketPath == nil, !Self.isIPLiteral(endpoint.host) {
            resolve()
            return
        }
        connect(ip: endpoint.host)
    }

    /// hiredis would resolve a host name with a blocking `getaddrinfo` on the loop; libuv does it
    /// on its thread pool instead.
    private func resolve() {
        let req = UnsafeMutablePointer<uv_getaddrinfo_t>.allocate(capacity: 1)
        resolving = req
        req.pointee.data = Unmanaged.passRetained(self).toOpaque()
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        let rc = uv_getaddrinfo(loop.uv, req, linkResolved, endpoint.host, nil, &hints)
        if rc != 0 {
            Unmanaged<RedisLink>.fromOpaque(req.pointee.data).release()
            req.deallocate()
            resolving = nil
            dropped(reason: "resolve \(endpoint.host): \(UVError.describe(rc))")
        }
    }

    fileprivate func resolved(status: Int32, _ result: UnsafeMutablePointer<addrinfo>?) {
        resolving = nil
        guard !closed else { return }
        var v4: [String] = []
        var v6: [String] = []
        var next = status == 0 ? result : nil
        while let ai = next {
            next = ai.pointee.ai_next
            guard let sa = ai.pointee.ai_addr else { continue }
            var name = [CChar](repeating: 0, count: 64)
            if ai.pointee.ai_family == AF_INET6 {
                sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { _ = uv_ip6_name($0, &name, name.count) }
            } else if ai.pointee.ai_family == AF_INET {
                sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { _ = uv_ip4_name($0, &name, name.count) }
            } else {
                continue
            }
            let end = name.firstIndex(of: 0) ?? name.count
            let text = String(decoding: name[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if ai.pointee.ai_family == AF_INET6 { v6.append(text) } else { v4.append(text) }
        }
        // Redis is most often bound to IPv4 only, while "localhost" may resolve to ::1 first:
        // IPv4 first, and each failed attempt in a row moves on to the next address.
        let addresses = v4 + v6
        guard !addresses.isEmpty else {
            dropped(reason: "resolve \(endpoint.host): \(status == 0 ? "no address" : UVError.describe(status))")
            return
        }
        connect(ip: addresses[failures % addresses.count])
    }

    private func connect(ip: String) {
        let made: UnsafeMutablePointer<redisAsyncContext>?
        if let path = endpoint.unixSocketPath {
            made = redisAsyncConnectUnix(path)
        } else {
            made = redisAsyncConnect(ip, Int32(endpoint.port))
        }
        guard let ac = made else {
            dropped(reason: "out of memory")
            return
        }
        if ac.pointee.err != 0 {
            // Refused at once (e.g. no such socket file): nothing is attached yet.
            let reason = Self.errorText(ac)
            redisAsyncFree(ac)
            dropped(reason: reason)
            return
        }
        if !attachRedisContext(ac, to: loop) {
            redisAsyncFree(ac)
            dropped(reason: "uv_poll_init failed")
            return
        }
        ac.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        redisAsyncSetConnectCallback(ac, linkConnectCallback)
        redisAsyncSetDisconnectCallback(ac, linkDisconnectCallback)
        context = ac
        owner.linkOpened(ac)
    }

    fileprivate func connectFinished(_ ac: UnsafePointer<redisAsyncContext>, status: Int32) {
        guard let mine = context, UnsafePointer(mine) == ac else { return }
        if status == REDIS_OK {
            _ = petrel_redis_enable_keepalive(mine)
        } else {
            // hiredis frees the context when this callback returns.
            contextGone(ac)
        }
    }

    /// The context is being freed by hiredis (disconnect callback, failed connect, or the first
    /// NULL reply of its teardown): forget it and let the owner fail its pending work.
    func contextGone(_ ac: UnsafePointer<redisAsyncContext>) {
        guard let mine = context, UnsafePointer(mine) == ac else { return }
        let reason = Self.errorText(mine)
        context = nil
        mine.pointee.data = nil
        dropped(reason: reason)
    }

    private func dropped(reason: String) {
        if healthy { failures = 0 } else { failures += 1 }
        healthy = false
        owner.linkDropped(reason: reason)
        guard !closed else { return }
        let delay = Self.backoffDelay(failures: failures, random: { Int64.random(in: $0) })
        let at = loop.nowMs + delay
        reconnectAtMs = at
        schedule(atMs: at)
    }

    /// The delay before the next attempt after `failures` attempts in a row that failed (0 after
    /// a healthy link dropped): a random point in [base/2, base], base = 100 ms · 2^failures
    /// capped at 5 s, and never under 100 ms.
    static func backoffDelay(failures: Int, random: (ClosedRange<Int64>) -> Int64) -> Int64 {
        let shift = min(max(failures - 1, 0), 16)
        let base = min(backoffMaxMs, backoffMinMs << Int64(shift))
        return max(backoffMinMs, random(base / 2...base))
    }

    fileprivate func timerFired() {
        armedAtMs = nil
        let now = loop.nowMs
        if let at = reconnectAtMs, at <= now {
            reconnectAtMs = nil
            open()
        }
        guard !closed else { return }
        let next = owner.linkTimerFired(nowMs: now)
        if let next { schedule(atMs: next) }
        if let at = reconnectAtMs { schedule(atMs: at) }
    }

    // MARK: - Helpers

    static func errorText(_ ac: UnsafePointer<redisAsyncContext>) -> String {
        if let s = ac.pointee.errstr, s.pointee != 0 { return String(cString: s) }
        if ac.pointee.c.errstr.0 != 0 {
            return withUnsafeBytes(of: ac.pointee.c.errstr) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
        }
        return "connection closed"
    }

    static func isIPLiteral(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// The link behind a context, `nil` once the context was let go.
    static func from(_ ac: UnsafePointer<redisAsyncContext>?) -> RedisLink? {
        guard let data = ac?.pointee.data else { return nil }
        return Unmanaged<RedisLink>.fromOpaque(data).takeUnretainedValue()
    }
}

// C callbacks: plain file-level functions (never closures in main.swift; see the interop notes).

private func linkConnectCallback(_ ac: UnsafePointer<redisAsyncContext>?, _ status: Int32) {
    guard let ac, let link = RedisLink.from(ac) else { return }
    link.connectFinished(ac, status: status)
}

private func linkDisconnectCallback(_ ac: UnsafePointer<redisAsyncContext>?, _ status: Int32) {
    guard let ac, let link = RedisLink.from(ac) else { return }
    link.contextGone(ac)
}

private func linkTimerCallback(_ handle: UnsafeMutablePointer<uv_timer_t>?) {
    guard let handle, let data = handle.pointee.data else { return }
    Unmanaged<RedisLink>.fromOpaque(data).takeUnretainedValue().timerFired()
}

private func linkResolved(_ req: UnsafeMutablePointer<uv_getaddrinfo_t>?, _ status: Int32, _ result: UnsafeMutablePointer<addrinfo>?) {
    guard let req else { return }
    let link = Unmanaged<RedisLink>.fromOpaque(req.pointee.data).takeRetainedValue()
    req.deallocate()
    link.resolved(status: status, result)
    uv_freeaddrinfo(result)
}
