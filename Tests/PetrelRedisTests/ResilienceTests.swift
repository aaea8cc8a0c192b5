import Dispatch
import PetrelLoop
import PetrelRedis
import Testing

@Suite("RedisClient outages, close and the loop")
struct ResilienceTests {
    @Test("redis-server killed: pending commands get .disconnected, then the client reconnects by itself")
    func killAndRestart() throws {
        let server = try RedisTestServer()
        defer { server.stop() }
        let inFlight = DispatchSemaphore(value: 0)
        let down = DispatchSemaphore(value: 0)
        struct Outcome {
            var states: [Bool] = []
            var pending: [Int: [RedisError?]] = [:]
            var connectedDuringFailure: [Bool] = []
            var whileDown: RedisError?
            var whileDownWasSynchronous = false
            var afterRestart: [RedisReply?] = []
        }
        let run = LoopRun<Outcome>.start { ctx in
            var outcome = Outcome()
            let client = RedisClient(loop: ctx.loop, endpoint: RedisEndpoint(url: server.url)!, commandTimeoutMs: 10_000)
            ctx.closeOnTeardown { client.close() }
            client.onStateChange = { up in
                outcome.states.append(up)
                switch outcome.states.count {
                case 1:
                    // Blocked server-side forever: still pending when the server dies.
                    for i in 0..<3 {
                        client.command("BLPOP", "never-\(i)", "0") { result in
                            outcome.pending[i, default: []].append(result.error)
                            outcome.connectedDuringFailure.append(client.isConnected)
                        }
                    }
                    ctx.after(150) { inFlight.signal() }
                case 2:
                    var returned = false
                    client.command("GET", "k") { result in
                        outcome.whileDown = result.error
                        outcome.whileDownWasSynchronous = !returned
                        down.signal()
                    }
                    returned = true
                case 3:
                    client.command("SET", "k", "v") { set in
                        client.command("GET", "k") { get in
                            outcome.afterRestart = [set.reply, get.reply]
                            ctx.finish(outcome)
                        }
                    }
                default:
                    break
                }
            }
            client.start()
        }
        try #require(inFlight.wait(timeout: .now() + 10) == .success)
        server.kill()
        try #require(down.wait(timeout: .now() + 10) == .success)
        try server.restart()
        run.wait(timeoutSeconds: 20)

        #expect(!run.timedOut)
        #expect(run.liveHandles == 0)
        let outcome = try #require(run.value)
        #expect(outcome.states == [true, false, true])
        for i in 0..<3 { #expect(outcome.pending[i] == [.disconnected]) }
        #expect(outcome.connectedDuringFailure == [false, false, false])
        #expect(outcome.whileDown == .disconnected)
        #expect(!outcome.whileDownWasSynchronous)
        #expect(outcome.afterRestart == [.status("OK"), .string(bytes("v"))])
    }

    @Test("a connection reset (RST) fails pending commands at once and reports the drop")
    func connectionReset() throws {
        let server = try ResettingServer()
        struct Outcome { var states: [Bool] = []; var error: RedisError?; var elapsed: Int64 = 0 }
        let run = LoopRun<Outcome>.run { ctx in
            var outcome = Outcome()
            let client = RedisClient(loop: ctx.loop, endpoint: RedisEndpoint(host: "127.0.0.1", port: server.port), commandTimeoutMs: 5_000)
            ctx.closeOnTeardown { client.close() }
            client.onStateChange = { up in
                outcome.states.append(up)
                guard up else { return }
                let sent = ctx.loop.nowMs
                client.command("PING") { result in
                    outcome.error = result.error
                    outcome.elapsed = ctx.loop.nowMs - sent
                    ctx.finish(outcome)
                }
            }
            client.start()
        }
        #expect(run.liveHandles == 0)
        let outcome = try #require(run.value)
        #expect(outcome.states == [true, false])
        #expect(outcome.error == .disconnected)
        #expect(outcome.elapsed < 1_000, "noticed after \(outcome.elapsed) ms")
    }

    @Test("while Redis is down the loop is never blocked: a 10 ms LoopTimer keeps its schedule")
    func neverBlocksTheLoop() throws {
        let port = try RedisTestServer.freePort()  // nothing listens there
        struct Outcome { var maxGapMs: Int64 = 0; var ticks = 0; var errors: [RedisError?] = []; var lastError: String? }
        let run = LoopRun<Outcome>.run { ctx in
            var outcome = Outcome()
            let client = RedisClient(loop: ctx.loop, endpoint: RedisEndpoint(host: "127.0.0.1", port: port))
            ctx.closeOnTeardown { client.close() }
            client.start()
            var last = ctx.loop.nowMs
            var ticker: LoopTimer?
            ticker = LoopTimer(loop: ctx.loop) {
                let now = ctx.loop.nowMs
                outcome.maxGapMs = max(outcome.maxGapMs, now - last)
                last = now
                outcome.ticks += 1
                client.command("PING") { outcome.errors.append($0.error) }
                if outcome.ticks == 150 {
                    ticker?.close()
                    ticker = nil
                    outcome.lastError = client.lastError
                    ctx.finish(outcome)
                }
            }
            ticker?.start(everyMs: 10)
        }
        #expect(run.liveHandles == 0)
        let outcome = try #require(run.value)
        #expect(outcome.ticks == 150)
        // A loop that waited out the reconnect backoff (100, 200, 400, 800 ms within these 1.5 s)
        // would stall ≥ 400 ms; a busy shared machine (or a sanitizer build) alone stalls up to ~150.
        #expect(outcome.maxGapMs < 350, "loop stalled for \(outcome.maxGapMs) ms")
        #expect(outcome.errors.count >= 140, "lastError: \(outcome.lastError ?? "nil")")
        #expect(outcome.errors.allSatisfy { $0 == .disconnected })
        #expect(outcome.lastError != nil)
    }

    @Test("a server that accepts but never answers: the handshake times out and commands fail")
    func handshakeTimeout() throws {
        let silent = try SilentListener()
        struct Outcome { var results: [RedisError?] = []; var elapsed: Int64 = 0; var connected = true; var lastError: String? }
        let run = LoopRun<Outcome>.run { ctx in
            var outcome = Outcome()
            let client = RedisClient(loop: ctx.loop, endpoint: RedisEndpoint(host: "127.0.0.1", port: silent.port), commandTimeoutMs: 200)
            ctx.closeOnTeardown { client.close() }
            client.start()
            let sent = ctx.loop.nowMs
            client.command("PING") { result in
                outcome.results.append(result.error)
                outcome.elapsed = ctx.loop.nowMs - sent
            }
            ctx.after(600) {
                outcome.connected = client.isConnected
                outcome.lastError = client.lastError
                ctx.finish(outcome)
            }
        }
        #expect(run.liveHandles == 0)
        let outcome = try #require(run.value)
        try #require(outcome.results.count == 1)
        #expect(outcome.results[0] == .disconnected || outcome.results[0] == .timeout)
        #expect(outcome.elapsed >= 190 && outcome.elapsed < 500, "failed after \(outcome.elapsed) ms")
        #expect(!outcome.connected)
        #expect(outcome.lastError?.contains("timed out") == true, "lastError: \(outcome.lastError ?? "nil")")
        _ = silent
    }

    @Test("close() with commands in flight completes each exactly once with .disconnected; no live handles")
    func closeInFlight() throws {
        let server = try RedisTestServer()
        defer { server.stop() }
        struct Outcome { var log: [Int: [RedisError?]] = [:]; var completedInsideClose = 0; var afterClose: RedisError? }
        let run = runWithClient(RedisEndpoint(url: server.url)!, commandTimeoutMs: 5_000, failure: Outcome()) { client, ctx in
            var outcome = Outcome()
            for i in 0..<5 {
                client.command("BLPOP", "never", "0") { outcome.log[i, default: []].append($0.error) }
            }
            client.command("DEBUG", "SLEEP", "0.2") { outcome.log[5, default: []].append($0.error) }
            // Close once they are on the wire; report a few turns later so a duplicate shows.
            ctx.after(100) {
                client.close()
                outcome.completedInsideClose = outcome.log.values.reduce(0) { $0 + $1.count }
                client.command("PING") { outcome.afterClose = $0.error }
                ctx.after(400) { ctx.finish(outcome) }
            }
        }
        #expect(run.liveHandles == 0)
        let outcome = try #require(run.value)
        #expect(outcome.completedInsideClose == 6)
        for i in 0..<6 { #expect(outcome.log[i] == [.disconnected]) }
        #expect(outcome.afterClose == .disconnected)
    }

    @Test("close() while waiting to reconnect, and before start(), leaves no live handles")
    func closeWhileDown() throws {
        let port = try RedisTestServer.freePort()
        let run = LoopRun<Bool>.run { ctx in
            let never = RedisClient(loop: ctx.loop, endpoint: RedisEndpoint(host: "127.0.0.1", port: port))
            never.close()
            let client = RedisClient(loop: ctx.loop, endpoint: RedisEndpoint(host: "127.0.0.1", port: port))
            let subscriber = RedisSubscriber(loop: ctx.loop, endpoint: RedisEndpoint(host: "127.0.0.1", port: port))
            client.start()
            subscriber.start(channels: ["c"]) { _, _ in }
            ctx.after(350) {
                client.close()
                subscriber.close()
                ctx.finish(true)
            }
        }
        #expect(run.liveHandles == 0)
        #expect(run.value == true)
    }
}
