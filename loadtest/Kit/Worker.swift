import CLibUV
import Glibc
import Histogram
import PetrelCrypto
import PetrelLoop
import Synchronization

/// What every loop thread of a run shares: resolved addresses, the TLS context and a counter of
/// initial connections not yet settled. Immutable apart from the atomic.
final class RunShared: Sendable {
    let target: SocketAddress
    let admin: SocketAddress?
    let sources: [SocketAddress]
    let tls: ClientTLS.Context?
    let adminTLS: ClientTLS.Context?
    /// Initial connections (over all loops) not yet open-and-ready or failed.
    let unsettled = Atomic<Int>(0)

    init(target: SocketAddress, admin: SocketAddress?, sources: [SocketAddress], tls: ClientTLS.Context?, adminTLS: ClientTLS.Context?) {
        self.target = target
        self.admin = admin
        self.sources = sources
        self.tls = tls
        self.adminTLS = adminTLS
    }
}

/// One loop's counters since the last snapshot; the conductor sums them per phase.
public struct WorkerSnapshot: Sendable {
    public var messages = 0
    public var sent = 0
    public var opened = 0
    public var errors: [String: Int] = [:]
    public var open = 0
    public var inFlight = 0
    /// chat: deliveries the messages sent should make (members of the room but the sender).
    public var expected = 0
    public var histogram: Histogram<UInt64>

    public init(histogram: Histogram<UInt64>) { self.histogram = histogram }
}

/// Latency histogram layout shared by every loop and the report: nanoseconds, 1 ns to 1 h,
/// 3 significant digits. Fixed range so recording never allocates.
public func makeLatencyHistogram() -> Histogram<UInt64> {
    Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
}

/// The scenario logic of one loop thread: opens this loop's share of connections, drives traffic
/// (closed loop, or a fixed rate from a 1 ms timer), verifies answers and counts.
///
/// Not `Sendable`: lives on its loop; the conductor reaches it only through the loop's mailbox.
final class Worker {
    static let bufferSize = 256 * 1024

    let options: LoadTestOptions
    let loop: EventLoop
    let index: Int
    let shared: RunShared
    /// This loop's share of the connections and of the rate.
    let connectionTarget: Int
    let ratePerSecond: Double?
    var rng: XorShift64

    // One of each per loop (see EventLoop: read_cb always follows alloc_cb on the same thread).
    let readBuffer: UnsafeMutableRawPointer
    let plainBuffer: UnsafeMutableRawPointer
    let tlsScratch: UnsafeMutableRawPointer
    private let corkBuffer: UnsafeMutableRawPointer
    private var corkCount = 0
    private(set) var corked: ClientConnection?

    /// Payload pattern: message number `seq` carries bytes [seq % period, seq % period + size).
    private let pattern: UnsafeMutableRawPointer
    private let patternPeriod: Int
    private let dataOpcode: UInt8
    /// HTTP scenario: the request, built once.
    private let request: UnsafeMutableRawBufferPointer

    private var connections: [ClientConnection] = []
    private var openCount = 0
    private var pendingHandshakes = 0
    private var initialStarted = 0
    private var sourceCursor = 0
    private var roundRobin = 0
    private let startNs: UInt64
    private(set) var trafficOn = false
    private(set) var stopping = false
    private var rateStartNs: UInt64 = 0
    private var rateSent: UInt64 = 0
    private var sweepTimer: LoopTimer?
    private var rateTimer: LoopTimer?
    private var sweepCount = 0
    private var connectTokens = 0.0
    private var lastTokenNs: UInt64 = 0

    // fanout
    private var ready: [ClientConnection] = []
    private var adminConnections: [ClientConnection] = []
    private var postSeq: UInt64 = 0
    private let postPrefix: [UInt8]
    private let postHeaders: [UInt8]
    /// The admin URL's path (a stage such as `/prod`), without a trailing slash.
    private let adminPrefix: String
    /// fanout with SigV4: the admin `Host` header value (signed).
    private let adminHost: String
    private let signer: SigV4Signer?

    // chat
    /// Where a chat message is built before it is framed.
    private let chatScratch: UnsafeMutableRawPointer
    private var initialCount = 0
    /// Scenarios whose messages are JSON the worker reads whole.
    private let readsJSON: Bool

    private var stats: WorkerSnapshot

    init(options: LoadTestOptions, loop: EventLoop, index: Int, shared: RunShared, startNs: UInt64) {
        self.options = options
        self.loop = loop
        self.index = index
        self.shared = shared
        self.startNs = startNs
        let threads = options.threads
        connectionTarget = options.connections / threads + (index < options.connections % threads ? 1 : 0)
        ratePerSecond = options.rate.map { $0 / Double(threads) }
        rng = XorShift64(seed: UInt64(index + 1) &* 0x2545_F491_4F6C_DD1D ^ uv_hrtime())
        readBuffer = .allocate(byteCount: Self.bufferSize, alignment: 64)
        plainBuffer = .allocate(byteCount: Self.bufferSize, alignment: 64)
        tlsScratch = .allocate(byteCount: Self.bufferSize, alignment: 64)
        corkBuffer = .allocate(byteCount: Self.bufferSize, alignment: 64)
        patternPeriod = options.binary ? 256 : 26
        dataOpcode = options.binary ? 2 : 1
        pattern = .allocate(byteCount: options.size + patternPeriod, alignment: 16)
        for i in 0..<(options.size + patternPeriod) {
            let b = options.binary ? UInt8(truncatingIfNeeded: i) : UInt8(97 + i % 26)
            pattern.storeBytes(of: b, toByteOffset: i, as: UInt8.self)
        }
        var text = "\(options.method) \(options.target.pathAndQuery) HTTP/1.1\r\nHost: \(options.target.hostHeader)\r\n"
        for (name, value) in options.headers { text += "\(name): \(value)\r\n" }
        if !options.body.isEmpty || options.method == "POST" || options.method == "PUT" {
            text += "Content-Length: \(options.body.utf8.count)\r\n"
        }
        text += "\r\n" + options.body
        let bytes = Array(text.utf8)
        request = .allocate(byteCount: bytes.count, alignment: 1)
        request.copyBytes(from: bytes)
        let admin = options.adminURL
        let stagePrefix = admin.map { String($0.pathAndQuery.trimmingSuffix("/")) } ?? ""
        adminPrefix = stagePrefix
        if let group = options.group {
            postPrefix = Array("POST \(stagePrefix)/@groups/\(group) HTTP/1.1\r\n".utf8)
        } else {
            postPrefix = Array("POST \(stagePrefix)/@connections/".utf8)
        }
        adminHost = admin?.hostHeader ?? ""
        var headers = "Host: \(adminHost)\r\nContent-Type: application/json\r\n"
        switch options.auth {
        case .bearer(let token): headers += "Authorization: Bearer \(token)\r\n"; signer = nil
        case .sigv4(let s): signer = s
        case .none: signer = nil
        }
        postHeaders = Array(headers.utf8)
        // Prefix (route, room, user), sequence, time and quotes fit in 160 bytes besides the data.
        chatScratch = .allocate(byteCount: options.scenario == .chat ? options.size + options.route.utf8.count + 160 : 1, alignment: 16)
        readsJSON = options.scenario == .fanout || options.scenario == .chat
        stats = WorkerSnapshot(histogram: makeLatencyHistogram())
        if options.isOpenLoop { ringHint = 64 } else { ringHint = max(options.inflight, 1) }
    }

    private let ringHint: Int

    deinit {
        readBuffer.deallocate()
        plainBuffer.deallocate()
        tlsScratch.deallocate()
        corkBuffer.deallocate()
        pattern.deallocate()
        request.deallocate()
        chatScratch.deallocate()
    }

    // MARK: lifecycle (called through the mailbox)

    func start() {
        let sweep = LoopTimer(loop: loop) { [unowned self] in self.sweep() }
        sweep.start(everyMs: 10)
        sweepTimer = sweep
        lastTokenNs = uv_hrtime()
        if options.scenario == .fanout, shared.admin != nil {
            let n = max(1, min(4, options.connections > 0 ? 1 : 1))
            for _ in 0..<n { startAdminConnection() }
        }
        openMore()
        if options.rampUpNs > 0 { beginTraffic() }
    }

    /// All connections are open (or traffic starts with the ramp): start sending.
    func beginTraffic() {
        guard !trafficOn, !stopping else { return }
        trafficOn = true
        switch options.scenario {
        case .connect:
            break
        case .hold:
            let now = uv_hrtime()
            if options.intervalNs > 0 {
                for c in connections where c.isOpen { c.nextSendNs = now + rng.next() % options.intervalNs }
            }
        case .echo, .http, .fanout, .chat:
            if let ratePerSecond, ratePerSecond > 0 {
                rateStartNs = uv_hrtime()
                rateSent = 0
                let timer = LoopTimer(loop: loop) { [unowned self] in self.rateTick() }
                timer.start(everyMs: 1)
                rateTimer = timer
            } else if options.scenario == .fanout {
                for admin in adminConnections where admin.isOpen { fillPosts(admin) }
            } else {
                for c in connections where c.isOpen { fillWindow(c) }
            }
        }
        flushCork()
    }

    /// chat, at the end of the window: no more sends; receiving goes on.
    func stopTraffic() {
        trafficOn = false
        rateTimer?.close()
        rateTimer = nil
    }

    /// Counters since the last call, then zeroed.
    func snapshot() -> WorkerSnapshot {
        var out = stats
        out.open = openCount
        var inFlight = 0
        for c in connections { inFlight += c.ring.count }
        out.inFlight = inFlight
        stats.messages = 0
        stats.sent = 0
        stats.expected = 0
        stats.opened = 0
        if !stats.errors.isEmpty { stats.errors = [:] }
        stats.histogram.reset()
        return out
    }

    /// Stops traffic, closes every connection (WebSocket close 1000 first), then lets the loop end.
    func shutdown() {
        stopping = true
        trafficOn = false
        rateTimer?.close()
        rateTimer = nil
        sweepTimer?.close()
        sweepTimer = nil
        for c in connections + adminConnections where !c.isClosed {
            if c.isOpen && c.kind == .websocket {
                c.startCloseHandshake(graceNs: 0)
            }
            c.closeHandle()
        }
        flushCork()
        loop.closeMailbox()
    }

    // MARK: opening connections

    private func openMore() {
        guard !stopping else { return }
        if options.scenario == .connect {
            let now = uv_hrtime()
            if let ratePerSecond {
                connectTokens = min(connectTokens + Double(now - lastTokenNs) * ratePerSecond / 1e9, max(1, ratePerSecond / 10))
                lastTokenNs = now
            }
            while connections.count < connectionTarget {
                if ratePerSecond != nil {
                    guard connectTokens >= 1 else { break }
                    connectTokens -= 1
                }
                startConnection(initial: false)
            }
            return
        }
        var allowed = connectionTarget
        if options.rampUpNs > 0 {
            let elapsed = Double(uv_hrtime() - startNs)
            allowed = min(connectionTarget, Int(Double(connectionTarget) * elapsed / Double(options.rampUpNs)) + 1)
        }
        while initialStarted < allowed, pendingHandshakes < options.maxPendingHandshakes {
            initialStarted += 1
            startConnection(initial: true)
        }
    }

    private func startConnection(initial: Bool) {
        let conn = ClientConnection(worker: self, kind: options.target.isWebSocket ? .websocket : .http)
        conn.isInitial = initial
        conn.isPending = true
        pendingHandshakes += 1
        conn.slot = connections.count
        connections.append(conn)
        conn.ring.reserve(ringHint)
        if initial {
            // Numbers interleave over the loops: loop i's k-th connection is user i + threads × k.
            conn.userId = index + options.threads * initialCount
            initialCount += 1
        }
        let now = uv_hrtime()
        conn.startNs = now
        conn.deadlineNs = now + options.timeoutNs
        if let ctx = shared.tls, let tls = ClientTLS(context: ctx, host: options.target.host, verifyHost: !options.insecure) {
            conn.tls = tls
        }
        var source: SocketAddress?
        if !shared.sources.isEmpty {
            source = shared.sources[(sourceCursor &+ index) % shared.sources.count]
            sourceCursor &+= 1
        }
        let rc = conn.connect(to: shared.target, source: source)
        if rc != 0 { conn.fail(ClientConnection.connectErrorKind(rc)) }
    }

    private func startAdminConnection() {
        guard let admin = shared.admin else { return }
        let conn = ClientConnection(worker: self, kind: .http)
        conn.isAdmin = true
        conn.slot = -1
        adminConnections.append(conn)
        conn.ring.reserve(64)
        if let ctx = shared.adminTLS, let url = options.adminURL,
           let tls = ClientTLS(context: ctx, host: url.host, verifyHost: !options.insecure) {
            conn.tls = tls
        }
        let rc = conn.connect(to: admin, source: nil)
        if rc != 0 { conn.fail("admin_" + ClientConnection.connectErrorKind(rc)) }
    }

    private func settle(_ conn: ClientConnection) {
        if conn.isPending {
            conn.isPending = false
            pendingHandshakes -= 1
        }
        if conn.isInitial {
            conn.isInitial = false
            shared.unsettled.subtract(1, ordering: .relaxed)
        }
    }

    // MARK: connection events (from ClientConnection)

    func connectionOpened(_ conn: ClientConnection) {
        if conn.isAdmin {
            if trafficOn && ratePerSecond == nil { fillPosts(conn) }
            return
        }
        openCount += 1
        stats.opened += 1
        let now = uv_hrtime()
        switch options.scenario {
        case .connect:
            settle(conn)
            stats.messages += 1
            stats.histogram.record(now - conn.startNs)
            conn.startCloseHandshake(graceNs: 2_000_000_000)
        case .fanout:
            // Ask for our id; the connection is ready once the answer arrives.
            conn.messageText.removeAll(keepingCapacity: true)
            let whoami = Array(#"{"action":"whoami"}"#.utf8)
            whoami.withUnsafeBytes { conn.sendFrame(opcode: 1, payload: $0) }
        case .chat:
            // Join the room; the connection is ready once the backend confirms.
            conn.messageText.removeAll(keepingCapacity: true)
            let join = Array(#"{"action":"join","room":"r\#(conn.userId % options.rooms)"}"#.utf8)
            join.withUnsafeBytes { conn.sendFrame(opcode: 1, payload: $0) }
        case .hold:
            settle(conn)
            if trafficOn, options.intervalNs > 0 { conn.nextSendNs = now + rng.next() % options.intervalNs }
        case .echo, .http:
            settle(conn)
            if trafficOn && ratePerSecond == nil { fillWindow(conn) }
        }
        openMore()
    }

    func connectionFailed(_ conn: ClientConnection, kind: String) {
        settle(conn)
        if !stopping { stats.errors[kind, default: 0] += 1 }
    }

    func connectionLost(_ conn: ClientConnection, status: Int32) {
        guard !stopping else { return }
        let kind = status == UV_EOF.rawValue ? "dropped" : ClientConnection.connectErrorKind(status)
        stats.errors[conn.isAdmin ? "admin_" + kind : kind, default: 0] += 1
    }

    func serverClosed(_ conn: ClientConnection, code: UInt16) {
        guard !stopping else { return }
        stats.errors["closed_\(code)", default: 0] += 1
    }

    func connectionClosing(_ conn: ClientConnection) {
        if !conn.isAdmin { openCount -= 1 }
    }

    func connectionClosed(_ conn: ClientConnection) {
        settle(conn)
        if corked === conn { corked = nil; corkCount = 0 }
        if conn.isAdmin {
            if let i = adminConnections.firstIndex(where: { $0 === conn }) { adminConnections.remove(at: i) }
            if !stopping { startAdminConnection() }
            return
        }
        if conn.isReady, let i = ready.firstIndex(where: { $0 === conn }) { ready.remove(at: i) }
        let slot = conn.slot
        if slot >= 0, slot < connections.count, connections[slot] === conn {
            let last = connections.removeLast()
            if slot < connections.count {
                connections[slot] = last
                last.slot = slot
            }
        }
        conn.slot = -1
        if options.scenario == .connect { openMore() }
    }

    // MARK: messages

    func messageBegan(_ conn: ClientConnection) {
        if readsJSON { conn.messageText.removeAll(keepingCapacity: true) }
    }

    @inline(__always)
    func messagePayload(_ conn: ClientConnection, _ chunk: UnsafeRawBufferPointer) {
        if readsJSON {
            if conn.messageText.count + chunk.count <= 64 * 1024 { conn.messageText.append(contentsOf: chunk) }
            return
        }
        guard options.verify, !conn.messageBad else { return }
        let end = conn.messageOffset + chunk.count
        if end > options.size {
            conn.messageBad = true
            return
        }
        let expected = pattern + Int(conn.receivedCount % UInt64(patternPeriod)) + conn.messageOffset
        if memcmp(expected, chunk.baseAddress!, chunk.count) != 0 { conn.messageBad = true }
    }

    func messageEnded(_ conn: ClientConnection) {
        let now = uv_hrtime()
        if options.scenario == .fanout {
            fanoutMessage(conn, now: now)
            return
        }
        if options.scenario == .chat {
            chatMessage(conn, now: now)
            return
        }
        guard let sentAt = conn.ring.pop() else {
            if !stopping { stats.errors["unexpected_message", default: 0] += 1 }
            return
        }
        conn.receivedCount &+= 1
        if conn.messageBad || conn.messageOffset != options.size || conn.messageOpcode != dataOpcode {
            stats.errors["payload_mismatch", default: 0] += 1
        } else {
            stats.messages &+= 1
            stats.histogram.record(now &- sentAt)
        }
        if trafficOn, ratePerSecond == nil, options.scenario == .echo { sendEcho(conn, stamp: now) }
    }

    func responseReceived(_ conn: ClientConnection) {
        let now = uv_hrtime()
        let status = conn.responseStatus
        guard let sentAt = conn.ring.pop() else {
            if !stopping { stats.errors["unexpected_response", default: 0] += 1 }
            return
        }
        if conn.isAdmin {
            if !(200...299).contains(status) && !stopping { stats.errors["post_http_\(status)", default: 0] += 1 }
            if conn.responseClose { conn.closeHandle(); return }
            if trafficOn, ratePerSecond == nil { sendPost(conn, stamp: now) }
            return
        }
        if status >= 400 || status < 200 {
            stats.errors["http_\(status)", default: 0] += 1
        } else {
            stats.messages &+= 1
            stats.histogram.record(now &- sentAt)
        }
        if conn.responseClose {
            // The server ends keep-alive: open a fresh connection in its place.
            conn.closeHandle()
            if trafficOn && !stopping { startConnection(initial: false) }
            return
        }
        if trafficOn, ratePerSecond == nil { sendRequest(conn, stamp: now) }
    }

    // MARK: sending

    private func fillWindow(_ conn: ClientConnection) {
        let k = max(1, options.inflight)
        while conn.ring.count < k && conn.isOpen {
            if options.scenario == .http { sendRequest(conn, stamp: uv_hrtime()) } else { sendEcho(conn, stamp: uv_hrtime()) }
        }
    }

    @inline(__always)
    private func sendEcho(_ conn: ClientConnection, stamp: UInt64) {
        let offset = Int(conn.sentCount % UInt64(patternPeriod))
        conn.sentCount &+= 1
        conn.ring.push(stamp)
        stats.sent &+= 1
        conn.sendFrame(opcode: dataOpcode, payload: UnsafeRawBufferPointer(start: pattern + offset, count: options.size))
    }

    @inline(__always)
    private func sendRequest(_ conn: ClientConnection, stamp: UInt64) {
        conn.ring.push(stamp)
        stats.sent &+= 1
        write(conn, UnsafeRawBufferPointer(request))
    }

    private func nextOpen() -> ClientConnection? {
        let n = connections.count
        var tries = 0
        while tries < n {
            roundRobin = roundRobin &+ 1
            if roundRobin >= n { roundRobin = 0 }
            let c = connections[roundRobin]
            if c.isOpen { return c }
            tries += 1
        }
        return nil
    }

    /// Open loop: sends what the schedule says is due, each stamped with its intended send time,
    /// so a stalled server shows up as latency instead of silently lowering the rate (coordinated
    /// omission, Gil Tene; the same correction as wrk2).
    var rateActive: Bool { rateTimer != nil }

    func rateTick() {
        guard trafficOn, let ratePerSecond else { return }
        let now = uv_hrtime()
        let perNs = ratePerSecond / 1e9
        let due = UInt64(Double(now - rateStartNs) * perNs)
        while rateSent < due {
            let intended = rateStartNs + UInt64(Double(rateSent) / perNs)
            if options.scenario == .fanout {
                guard let admin = adminConnections.first(where: { $0.isOpen }), !ready.isEmpty else { break }
                sendPost(admin, stamp: intended)
            } else if options.scenario == .chat {
                guard !ready.isEmpty else { break }
                roundRobin = roundRobin &+ 1
                if roundRobin >= ready.count { roundRobin = 0 }
                sendChat(ready[roundRobin], stamp: intended)
            } else {
                guard let conn = nextOpen() else { break }
                if options.scenario == .http { sendRequest(conn, stamp: intended) } else { sendEcho(conn, stamp: intended) }
            }
            rateSent += 1
        }
        flushCork()
    }

    private func sweep() {
        openMore()
        sweepCount += 1
        guard sweepCount % 10 == 0 else { return }
        let now = uv_hrtime()
        var expired: [ClientConnection] = []
        for c in connections {
            if c.isOpen {
                if options.scenario == .hold, trafficOn, options.intervalNs > 0, c.nextSendNs <= now {
                    c.nextSendNs = now + options.intervalNs
                    sendEcho(c, stamp: now)
                }
            } else if !c.isClosed, now > c.deadlineNs {
                expired.append(c)
            }
        }
        flushCork()
        for c in expired {
            if c.closeSentByUs { c.closeHandle() } else { c.fail("timeout") }
        }
    }

    // MARK: fanout

    private func fanoutMessage(_ conn: ClientConnection, now: UInt64) {
        if conn.connectionId == nil {
            guard let id = Self.jsonString(conn.messageText, key: "connectionId") else {
                stats.errors["whoami_bad_answer", default: 0] += 1
                conn.closeHandle()
                return
            }
            conn.connectionId = id
            conn.idBytes = Array(id.utf8)
            conn.isReady = true
            ready.append(conn)
            settle(conn)
            if options.group != nil { joinGroup(conn) }
            return
        }
        guard let t = Self.jsonInteger(conn.messageText, key: "t") else {
            stats.errors["unexpected_message", default: 0] += 1
            return
        }
        stats.messages &+= 1
        if now > t { stats.histogram.record(now - t) }
    }

    private func joinGroup(_ conn: ClientConnection) {
        // Membership is set with a PUT on the first admin connection; its 2xx answer is not timed.
        guard let admin = adminConnections.first, let group = options.group else { return }
        let path = "\(adminPrefix)/@connections/\(conn.connectionId!)/groups/\(group)"
        var bytes = Array("PUT \(path) HTTP/1.1\r\n".utf8) + postHeaders
        if let signer { bytes += Array(Self.sigV4Lines(signer, method: "PUT", path: path, host: adminHost, body: []).utf8) }
        bytes += Array("Content-Length: 0\r\n\r\n".utf8)
        admin.ring.push(0)
        bytes.withUnsafeMutableBytes { write(admin, UnsafeRawBufferPointer($0)) }
        flushCork()
    }

    private func fillPosts(_ admin: ClientConnection) {
        let k = max(1, options.inflight)
        while admin.ring.count < k && admin.isOpen && !ready.isEmpty { sendPost(admin, stamp: uv_hrtime()) }
    }

    /// `POST /@connections/{id}` (or `/@groups/{group}`) with body `{"t":NS,"s":SEQ}`, written
    /// straight into the cork buffer.
    private func sendPost(_ admin: ClientConnection, stamp: UInt64) {
        guard !ready.isEmpty else { return }
        roundRobin = roundRobin &+ 1
        if roundRobin >= ready.count { roundRobin = 0 }
        let target = ready[roundRobin]
        postSeq &+= 1
        var body: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
        let bodyCount = withUnsafeMutableBytes(of: &body) { raw -> Int in
            var w = ByteWriter(raw.baseAddress!)
            w.append(#"{"t":"#)
            w.append(number: stamp)
            w.append(#","s":"#)
            w.append(number: postSeq)
            w.append("}")
            return w.count
        }
        var authLines = ""
        if let signer {
            // SigV4 signs the body (it carries the time), so each post is signed on its own; this
            // allocates, unlike the bearer and unauthenticated posts.
            let path = options.group.map { "\(adminPrefix)/@groups/\($0)" }
                ?? adminPrefix + "/@connections/" + String(decoding: target.idBytes, as: UTF8.self)
            let bodyBytes = withUnsafeBytes(of: &body) { Array($0[0..<bodyCount]) }
            authLines = Self.sigV4Lines(signer, method: "POST", path: path, host: adminHost, body: bodyBytes)
        }
        let maxSize = postPrefix.count + target.idBytes.count + 64 + postHeaders.count + authLines.utf8.count + bodyCount
        guard let dst = reserve(admin, maxSize) else { return }
        var w = ByteWriter(dst)
        w.append(postPrefix)
        if options.group == nil {
            w.append(target.idBytes)
            w.append(" HTTP/1.1\r\n")
        }
        w.append(postHeaders)
        if !authLines.isEmpty { authLines.withUTF8 { w.append(UnsafeRawBufferPointer($0)) } }
        w.append("Content-Length: ")
        w.append(number: UInt64(bodyCount))
        w.append("\r\n\r\n")
        withUnsafeBytes(of: &body) { w.append(UnsafeRawBufferPointer(rebasing: $0[0..<bodyCount])) }
        commit(w.count)
        admin.ring.push(stamp)
        stats.sent &+= 1
    }

    /// `X-Amz-Date` and `Authorization` header lines for one admin call.
    static func sigV4Lines(_ signer: SigV4Signer, method: String, path: String, host: String, body: [UInt8]) -> String {
        let signed = signer.sign(method: method, rawPath: path, host: host, body: body, epochSeconds: Int64(time(nil)))
        return signed.headers.map { "\($0.name): \($0.value)\r\n" }.joined()
    }

    // MARK: chat

    /// The backend's answer to the join (ready), or a room message: counts a delivery with its
    /// latency from the sender's intended send time, and lost messages as gaps in the sender's
    /// sequence numbers. The sender's own copy (group broadcasts include it) is not a delivery.
    private func chatMessage(_ conn: ClientConnection, now: UInt64) {
        let text = conn.messageText
        guard let user = Self.jsonInteger(text, key: "u"), let seq = Self.jsonInteger(text, key: "q"),
              let t = Self.jsonInteger(text, key: "t") else {
            if !conn.isReady, text.firstRange(of: Array(#""joined""#.utf8)) != nil {
                conn.isReady = true
                conn.lastSeq = [UInt32](repeating: 0, count: options.usersPerRoom)
                conn.chatPrefix = Array(#"{"action":"\#(options.route)","room":"r\#(conn.userId % options.rooms)","u":\#(conn.userId),"q":"#.utf8)
                ready.append(conn)
                settle(conn)
            } else if !stopping {
                stats.errors[conn.isReady ? "unexpected_message" : "join_bad_answer", default: 0] += 1
            }
            return
        }
        let rooms = UInt64(options.rooms)
        guard conn.isReady, user % rooms == UInt64(conn.userId % options.rooms), user / rooms < UInt64(conn.lastSeq.count) else {
            stats.errors["wrong_room", default: 0] += 1
            return
        }
        if user == UInt64(conn.userId) { return }
        let slot = Int(user / rooms)
        let last = UInt64(conn.lastSeq[slot])
        if seq <= last {
            stats.errors["duplicate_or_reordered", default: 0] += 1
            return
        }
        // With a ramp-up, traffic starts before every member joined: the first message seen
        // from each sender is the baseline.
        if seq > last + 1, last > 0 || options.rampUpNs == 0 {
            stats.errors["lost", default: 0] += Int(seq - last - 1)
        }
        conn.lastSeq[slot] = UInt32(truncatingIfNeeded: seq)
        stats.messages &+= 1
        if now > t { stats.histogram.record(now - t) }
    }

    /// `{"action":ROUTE,"room":"rN","u":USER,"q":SEQ,"t":NS,"data":"…size bytes…"}`, built in the
    /// scratch buffer and framed straight into the cork buffer.
    private func sendChat(_ conn: ClientConnection, stamp: UInt64) {
        conn.sentCount &+= 1
        var w = ByteWriter(chatScratch)
        w.append(conn.chatPrefix)
        w.append(number: conn.sentCount)
        w.append(#","t":"#)
        w.append(number: stamp)
        w.append(#","data":""#)
        w.append(UnsafeRawBufferPointer(start: pattern, count: options.size))
        w.append(#""}"#)
        stats.sent &+= 1
        stats.expected &+= options.usersPerRoom - 1
        conn.sendFrame(opcode: 1, payload: UnsafeRawBufferPointer(start: chatScratch, count: w.count))
    }

    static func jsonString(_ bytes: [UInt8], key: String) -> String? {
        let needle = Array("\"\(key)\"".utf8)
        guard let r = bytes.firstRange(of: needle) else { return nil }
        var i = r.upperBound
        while i < bytes.count, bytes[i] == 32 || bytes[i] == 58 { i += 1 }
        guard i < bytes.count, bytes[i] == 34 else { return nil }
        let start = i + 1
        guard let end = bytes[start...].firstIndex(of: 34) else { return nil }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    static func jsonInteger(_ bytes: [UInt8], key: String) -> UInt64? {
        // Hot for fanout: a hand scan for `"t":` rather than a JSON parser.
        let k = key.utf8.first!
        var i = 0
        let n = bytes.count
        while i + 3 < n {
            if bytes[i] == 34, bytes[i + 1] == k, bytes[i + 2] == 34, bytes[i + 3] == 58 {
                var j = i + 4
                var v: UInt64 = 0
                var any = false
                while j < n, bytes[j] >= 48, bytes[j] <= 57 { v = v &* 10 &+ UInt64(bytes[j] - 48); j += 1; any = true }
                return any ? v : nil
            }
            i += 1
        }
        return nil
    }

    // MARK: corked writes

    /// Room for `count` bytes for `conn` in the cork buffer, or nil when it can never fit.
    @inline(__always)
    func reserve(_ conn: ClientConnection, _ count: Int) -> UnsafeMutableRawPointer? {
        if corked !== conn {
            flushCork()
            corked = conn
        }
        if corkCount + count > Self.bufferSize {
            flushCork()
            corked = conn
            if count > Self.bufferSize { return nil }
        }
        return corkBuffer + corkCount
    }

    @inline(__always)
    func commit(_ count: Int) { corkCount += count }

    func write(_ conn: ClientConnection, _ bytes: UnsafeRawBufferPointer) {
        if let dst = reserve(conn, bytes.count) {
            if bytes.count > 0 { dst.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            commit(bytes.count)
        } else {
            conn.writePlain(bytes)
        }
    }

    /// Sends the corked bytes: one system call (or one TLS record batch) for all the frames
    /// produced for one connection in one read callback or timer tick.
    func flushCork() {
        guard let conn = corked else { return }
        corked = nil
        let n = corkCount
        corkCount = 0
        if n > 0 { conn.writePlain(UnsafeRawBufferPointer(start: corkBuffer, count: n)) }
    }
}

/// Appends bytes at a raw pointer; the caller has reserved enough room.
struct ByteWriter {
    let base: UnsafeMutableRawPointer
    var count = 0
    init(_ base: UnsafeMutableRawPointer) { self.base = base }

    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count > 0 { (base + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        count += bytes.count
    }

    @inline(__always)
    mutating func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

    @inline(__always)
    mutating func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func append(number: UInt64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var v = number
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[n] = UInt8(48 + v % 10)
                v /= 10
                n += 1
            } while v > 0
            for i in 0..<n { (base + count + i).storeBytes(of: d[n - 1 - i], as: UInt8.self) }
        }
        count += n
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> Substring {
        var s = Substring(self)
        while s.hasSuffix(suffix) { s = s.dropLast(suffix.count) }
        return s
    }
}
