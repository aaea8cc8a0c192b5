import CHiredis
import PetrelLoop

/// Redis commands for one event loop: one hiredis async context, driven by the loop through a
/// `uv_poll_t` (RedisEvents.swift), re-connected with backoff forever.
///
/// Guarantees:
/// - Every completion runs on the loop's thread exactly once: with the reply, `.server` for an
///   error reply, `.timeout` after `commandTimeoutMs` (a reply arriving later is dropped),
///   or `.disconnected` (no connection at the time of the call, the link dropped before the
///   reply, or `close()`).
/// - Completions never run inside `command()` while the client is started: a command refused
///   up front completes from the client's timer on a later turn of the loop. Only after
///   `close()` (or before `start()`) does `command()` complete at once.
/// - Commands are sent in call order on one connection and answered in that order. Many may be
///   in flight (pipelining); everything queued during one turn of the loop goes out in one write.
/// - Commands issued while a connection is being made (TCP connect, `AUTH`, `SELECT`) wait
///   behind the handshake, bounded by the same timeout; commands issued while the client is
///   waiting to reconnect fail with `.disconnected` at once, so callers can degrade (503)
///   instead of queueing without bound.
/// - No command ever blocks the loop: connect, host-name resolution and I/O are asynchronous.
///
/// Timeouts cost one timer per client: deadlines are `send time + commandTimeoutMs`, so they
/// are in send order, and the timer is armed for the oldest pending command only.
///
/// A started client keeps itself alive until `close()`. Not `Sendable`: use it on its loop only.
public final class RedisClient: RedisLinkOwner {
    public let loop: EventLoop
    public let endpoint: RedisEndpoint
    public let commandTimeoutMs: Int64

    /// Called with `true` once a connection is usable (after `AUTH` and `SELECT` succeeded),
    /// with `false` when it is lost. Not called by `close()`.
    public var onStateChange: ((Bool) -> Void)?
    /// A connection is up and its handshake finished.
    public private(set) var isConnected = false
    /// Why the last connection attempt or connection ended (for logs and `/readyz`).
    public private(set) var lastError: String?

    private var link: RedisLink!
    private var pending = CommandQueue()
    /// Commands refused before reaching hiredis, completed from the timer.
    private var refused: [(CommandBox, RedisError)] = []
    private var scratch = ArgvScratch()
    private var retainedWhileStarted: Unmanaged<RedisClient>?
    private var started = false
    private var closed = false

    public init(loop: EventLoop, endpoint: RedisEndpoint, commandTimeoutMs: Int64 = 1000) {
        precondition(commandTimeoutMs > 0, "commandTimeoutMs must be positive")
        self.loop = loop
        self.endpoint = endpoint
        self.commandTimeoutMs = commandTimeoutMs
        link = RedisLink(owner: self, loop: loop, endpoint: endpoint)
    }

    /// Connects, and from then on reconnects by itself after every drop: exponential backoff
    /// with jitter, 100 ms to 5 s.
    public func start() {
        precondition(!started, "RedisClient.start() called twice")
        guard !closed else { return }
        started = true
        retainedWhileStarted = Unmanaged.passRetained(self)
        link.start()
    }

    /// Commands accepted and not yet completed. O(pending): for metrics and tests.
    public var pendingCount: Int { pending.unfinishedCount + refused.count }

    /// Sends one command; `args[0]` is the command name. Arguments are binary-safe.
    public func command(_ args: [[UInt8]], completion: @escaping (Result<RedisReply, RedisError>) -> Void) {
        guard started, !closed else {
            completion(.failure(.disconnected))
            return
        }
        let box = CommandBox(deadlineMs: loop.nowMs + commandTimeoutMs, completion: completion)
        guard !args.isEmpty else {
            refuse(box, .server("ERR empty command"))
            return
        }
        guard let ac = link.context else {
            refuse(box, .disconnected)
            return
        }
        send(box, args, on: ac)
    }

    /// Sends one command given as text arguments (UTF-8).
    public func command(_ args: String..., completion: @escaping (Result<RedisReply, RedisError>) -> Void) {
        command(args.map { Array($0.utf8) }, completion: completion)
    }

    /// Sends one command given as text arguments (UTF-8).
    public func command(_ args: [String], completion: @escaping (Result<RedisReply, RedisError>) -> Void) {
        command(args.map { Array($0.utf8) }, completion: completion)
    }

    /// Closes the connection and the timer. Every pending completion gets `.disconnected` before
    /// this returns; no uv handle of the client stays open (their close callbacks run on the
    /// loop's next turn). `onStateChange` is released (it usually captures the client).
    public func close() {
        guard !closed else { return }
        closed = true
        isConnected = false
        let boxes = pending.removeAll()
        let refusedNow = refused
        refused.removeAll()
        for box in boxes { box.finish(.failure(.disconnected)) }
        for (box, _) in refusedNow { box.finish(.failure(.disconnected)) }
        link.close()
        // Callbacks usually capture the client: dropping them breaks that cycle.
        onStateChange = nil
        retainedWhileStarted?.release()
        retainedWhileStarted = nil
    }

    // MARK: - Sending

    private func send(_ box: CommandBox, _ args: [[UInt8]], on ac: UnsafeMutablePointer<redisAsyncContext>) {
        let privdata = Unmanaged.passRetained(box).toOpaque()
        let rc = scratch.send(args, on: ac, callback: commandRepliedCallback, privdata: privdata)
        guard rc == REDIS_OK else {
            // The context is going away (hiredis refuses commands while it disconnects).
            Unmanaged<CommandBox>.fromOpaque(privdata).release()
            refuse(box, .disconnected)
            return
        }
        pending.append(box)
        link.schedule(atMs: box.deadlineMs)
    }

    private func refuse(_ box: CommandBox, _ error: RedisError) {
        refused.append((box, error))
        link.schedule(atMs: loop.nowMs)
    }

    // MARK: - RedisLinkOwner

    func linkOpened(_ context: UnsafeMutablePointer<redisAsyncContext>) {
        var steps: [[[UInt8]]] = []
        if let password = endpoint.password {
            var auth: [[UInt8]] = [Array("AUTH".utf8)]
            if let username = endpoint.username { auth.append(Array(username.utf8)) }
            auth.append(Array(password.utf8))
            steps.append(auth)
        }
        steps.append([Array("SELECT".utf8), Array(String(endpoint.db).utf8)])
        for (i, step) in steps.enumerated() {
            let last = i == steps.count - 1
            let box = CommandBox(deadlineMs: loop.nowMs + commandTimeoutMs, isInternal: true) { [unowned self] result in
                self.handshakeStep(result, last: last, name: String(decoding: step[0], as: UTF8.self))
            }
            send(box, step, on: context)
        }
    }

    private func handshakeStep(_ result: Result<RedisReply, RedisError>, last: Bool, name: String) {
        guard !closed else { return }
        switch result {
        case .success:
            guard last else { return }
            isConnected = true
            lastError = nil
            link.markHealthy()
            onStateChange?(true)
        case .failure(.server(let message)):
            link.abort(reason: "\(name) refused: \(message)")
        case .failure(.timeout):
            link.abort(reason: "connect timed out after \(commandTimeoutMs) ms")
        case .failure(.disconnected):
            break  // the link reports the drop itself
        }
    }

    func linkDropped(reason: String) {
        lastError = reason
        let wasConnected = isConnected
        isConnected = false
        let boxes = pending.removeAll()
        if wasConnected { onStateChange?(false) }
        for box in boxes { box.finish(.failure(.disconnected)) }
    }

    func linkReplied() {
        pending.popFinished()
    }

    func linkTimerFired(nowMs: Int64) -> Int64? {
        if !refused.isEmpty {
            let batch = refused
            refused.removeAll(keepingCapacity: true)
            for (box, error) in batch { box.finish(.failure(error)) }
        }
        while let head = pending.first {
            if head.isDone {
                pending.popFirst()
                continue
            }
            if head.deadlineMs > nowMs { break }
            pending.popFirst()
            // hiredis still holds the box: a late reply finds it finished and is dropped.
            head.finish(.failure(.timeout))
        }
        if !refused.isEmpty { return nowMs }
        return pending.first?.deadlineMs
    }
}
