import CHiredis
import PetrelLoop

/// Pub/sub for one event loop, on its own connection: once a hiredis context has sent
/// `SUBSCRIBE` it cannot run other commands, so publishing goes through a `RedisClient`.
///
/// Guarantees:
/// - After every (re)connect it subscribes to all its channels again; `onStateChange(true)` comes
///   once Redis confirmed every channel. Messages published while it was disconnected are lost
///   (Redis pub/sub keeps nothing): owners resynchronise on `onStateChange(true)`.
/// - `onMessage` runs on the loop's thread, in the order Redis delivers.
/// - The handshake (connect, `AUTH`, `SUBSCRIBE` confirmations) is bounded by
///   `handshakeTimeoutMs`; past it the connection is dropped and retried with backoff.
///
/// A started subscriber keeps itself alive until `close()`. Not `Sendable`.
public final class RedisSubscriber: RedisLinkOwner {
    public let loop: EventLoop
    public let endpoint: RedisEndpoint
    public let handshakeTimeoutMs: Int64

    /// `true` once every channel is confirmed after a (re)connect, `false` when the link drops.
    /// Not called by `close()`.
    public var onStateChange: ((Bool) -> Void)?
    public private(set) var isConnected = false
    public private(set) var lastError: String?
    public private(set) var channels: [String] = []

    private var onMessage: ((String, [UInt8]) -> Void)?
    private var link: RedisLink!
    private var confirmed: Set<String> = []
    private var handshakeDeadlineMs: Int64?
    private var authBox: CommandBox?
    private var scratch = ArgvScratch()
    private var retainedWhileStarted: Unmanaged<RedisSubscriber>?
    private var started = false
    private var closed = false

    public init(loop: EventLoop, endpoint: RedisEndpoint, handshakeTimeoutMs: Int64 = 1000) {
        precondition(handshakeTimeoutMs > 0, "handshakeTimeoutMs must be positive")
        self.loop = loop
        self.endpoint = endpoint
        self.handshakeTimeoutMs = handshakeTimeoutMs
        link = RedisLink(owner: self, loop: loop, endpoint: endpoint)
    }

    /// Connects and subscribes to `channels` (exact names, not patterns); keeps doing so after
    /// every reconnect. `onMessage` gets each message's channel and payload bytes.
    public func start(channels: [String], onMessage: @escaping (_ channel: String, _ payload: [UInt8]) -> Void) {
        precondition(!started, "RedisSubscriber.start() called twice")
        precondition(!channels.isEmpty, "RedisSubscriber needs at least one channel")
        guard !closed else { return }
        started = true
        self.channels = Array(Set(channels)).sorted()
        self.onMessage = onMessage
        retainedWhileStarted = Unmanaged.passRetained(self)
        link.start()
    }

    /// Closes the connection and the timer; no message is delivered after this returns.
    /// `onMessage` and `onStateChange` are released (they usually capture the subscriber).
    public func close() {
        guard !closed else { return }
        closed = true
        isConnected = false
        onMessage = nil
        authBox?.finish(.failure(.disconnected))
        authBox = nil
        link.close()
        onStateChange = nil
        retainedWhileStarted?.release()
        retainedWhileStarted = nil
    }

    // MARK: - RedisLinkOwner

    func linkOpened(_ context: UnsafeMutablePointer<redisAsyncContext>) {
        confirmed.removeAll(keepingCapacity: true)
        let deadline = loop.nowMs + handshakeTimeoutMs
        handshakeDeadlineMs = deadline
        link.schedule(atMs: deadline)

        if let password = endpoint.password {
            var auth: [[UInt8]] = [Array("AUTH".utf8)]
            if let username = endpoint.username { auth.append(Array(username.utf8)) }
            auth.append(Array(password.utf8))
            let box = CommandBox(deadlineMs: deadline) { [unowned self] result in
                self.authBox = nil
                if case .failure(.server(let message)) = result, !self.closed {
                    self.link.abort(reason: "AUTH refused: \(message)")
                }
            }
            let privdata = Unmanaged.passRetained(box).toOpaque()
            if scratch.send(auth, on: context, callback: commandRepliedCallback, privdata: privdata) == REDIS_OK {
                authBox = box
            } else {
                Unmanaged<CommandBox>.fromOpaque(privdata).release()
            }
        }

        // privdata stays nil: hiredis keeps this callback per channel and calls it for every
        // message, so it reaches the subscriber through the context's `data` instead.
        let args = [Array("SUBSCRIBE".utf8)] + channels.map { Array($0.utf8) }
        if scratch.send(args, on: context, callback: subscriptionCallback, privdata: nil) != REDIS_OK {
            link.abort(reason: "SUBSCRIBE refused by hiredis")
        }
    }

    fileprivate func subscriptionEvent(_ reply: RedisReply) {
        guard case .array(let parts) = reply, parts.count >= 3, let kind = parts[0].text,
              let channel = parts[1].text else { return }
        switch kind {
        case "message":
            onMessage?(channel, parts[2].bytes ?? [])
        case "subscribe":
            confirmed.insert(channel)
            if !isConnected, confirmed.count == channels.count {
                isConnected = true
                handshakeDeadlineMs = nil
                lastError = nil
                link.markHealthy()
                onStateChange?(true)
            }
        default:
            break  // "unsubscribe": not sent by us
        }
    }

    func linkDropped(reason: String) {
        lastError = reason
        handshakeDeadlineMs = nil
        authBox?.finish(.failure(.disconnected))
        authBox = nil
        let wasConnected = isConnected
        isConnected = false
        if wasConnected { onStateChange?(false) }
    }

    func linkReplied() {}

    func linkTimerFired(nowMs: Int64) -> Int64? {
        guard let deadline = handshakeDeadlineMs, !isConnected else { return nil }
        if deadline > nowMs { return deadline }
        handshakeDeadlineMs = nil
        link.abort(reason: "subscribe timed out after \(handshakeTimeoutMs) ms")
        return nil
    }
}

private func subscriptionReplied(_ ac: UnsafeMutablePointer<redisAsyncContext>?, _ reply: UnsafeMutableRawPointer?, _ privdata: UnsafeMutableRawPointer?) {
    guard let ac, let link = RedisLink.from(ac) else { return }
    guard let reply else {
        // Called once per channel while hiredis frees the context; the first call drops it.
        link.contextGone(ac)
        return
    }
    guard let subscriber = link.owner as? RedisSubscriber else { return }
    subscriber.subscriptionEvent(decodeReply(reply.assumingMemoryBound(to: redisReply.self)))
}

private let subscriptionCallback: RedisReplyCallback = subscriptionReplied
