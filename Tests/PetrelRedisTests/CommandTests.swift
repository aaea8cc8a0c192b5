import PetrelLoop
import PetrelRedis
import Testing

/// Runs `body` once a client on `endpoint` is connected; finishes with `failure` if it never is.
func runWithClient<T>(
    _ endpoint: RedisEndpoint, commandTimeoutMs: Int64 = 1000, failure: T,
    _ body: @escaping (RedisClient, LoopContext<T>) -> Void
) -> LoopRun<T> {
    LoopRun<T>.run { ctx in
        let client = RedisClient(loop: ctx.loop, endpoint: endpoint, commandTimeoutMs: commandTimeoutMs)
        ctx.closeOnTeardown { client.close() }
        whenConnected(client, ctx, orFinishWith: failure) { body(client, ctx) }
        client.start()
    }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite("RedisClient replies")
struct CommandTests {
    @Test("SET/GET round trip keeps binary keys and values (0x00, 0xFF, CR LF)")
    func binaryRoundTrip() throws {
        let server = try RedisTestServer()
        defer { server.stop() }
        let key: [UInt8] = [0x6B, 0x00, 0x6B]
        let value: [UInt8] = [0x00, 0x01, 0x00, 0xFF, 0x0D, 0x0A, 0x00]
        let run = runWithClient(RedisEndpoint(url: server.url)!, failure: [Result<RedisReply, RedisError>]()) { client, ctx in
            client.command([bytes("SET"), key, value]) { set in
                client.command([bytes("GET"), key]) { get in
                    client.command([bytes("STRLEN"), key]) { len in ctx.finish([set, get, len]) }
                }
            }
        }
        #expect(run.liveHandles == 0)
        let results = try #require(run.value)
        try #require(results.count == 3)
        #expect(results[0].reply == .status("OK"))
        #expect(results[1].reply == .string(value))
        #expect(results[2].reply == .integer(Int64(value.count)))
    }

    @Test("INCR and INCRBY answer integers")
    func integerReplies() throws {
        let server = try RedisTestServer()
        defer { server.stop() }
        let run = runWithClient(RedisEndpoint(url: server.url)!, failure: [RedisReply?]()) { client, ctx in
            var replies: [RedisReply?] = []
            client.command("INCR", "counter") { replies.append($0.reply) }
            client.command("INCR", "counter") { replies.append($0.reply) }
            client.command("INCRBY", "counter", "-12") { replies.append($0.reply); ctx.finish(replies) }
        }
        #expect(run.liveHandles == 0)
        #expect(run.value == [.integer(1), .integer(2), .integer(-10)])
    }

    @Test("MGET and HGETALL answer arrays, with nil holes")
    func arrayReplies() throws {
        let server = try RedisTestServer()
        defer { server.stop() }
        let run = runWithClient(RedisEndpoint(url: server.url)!, failure: [RedisReply?]()) { client, ctx in
            var replies: [RedisReply?] = []
            client.command("MSET", "a", "1", "b", "2") { replies.append($0.reply) }
            client.command("MGET", "a", "missing", "b") { replies.append($0.reply) }
            client.command("HSET", "h", "f1", "v1", "f2", "v2") { replies.append($0.reply) }
            client.command("HGETALL", "h") { replies.append($0.reply) }
            client.command("HGETALL", "no-such-hash") { replies.append($0.reply); ctx.finish(replies) }
        }
        #expect(run.liveHandles == 0)
        let replies = try #require(run.value)
        try #require(replies.count == 5)
        #expect(replies[0] == .status("OK"))
        #expect(replies[1] == .array([.string(bytes("1")), .null, .string(bytes("2"))]))
        #expect(replies[2] == .integer(2))
        let flat = try #require(replies[3]?.array)
        var hash: [String: String] = [:]
        for pair in stride(from: 0, to: flat.count, by: 2) { hash[flat[pair].text!] = flat[pair + 1].text }
        #expect(hash == ["f1": "v1", "f2": "v2"])
        #expect(replies[4] == .array([]))
    }

    @Test("GET of a missing key answers null")
    func nullReply() throws {
        let server = try RedisTestServer()
        defer { server.stop() }
        let run = runWithClient(RedisEndpoint(url: server.url)!, failure: [RedisReply?]()) { client, ctx in
            var replies: [RedisReply?] = []
            client.command("GET", "missing") { replies.append($0.reply) }
            client.command("HGET", "missing", "field") { replies.append($0.reply); ctx.finish(replies) }
        }
        #expect(run.liveHandles == 0)
        #expect(run.value == [.null, .null])
    }

    @Test("an error reply fails with .server; an error inside EXEC's array stays a nested .error")
    func errorReplies() throws {
        let server = try RedisTestServer()
        defer { server.stop() }
        let run = runWithClient(RedisEndpoint(url: server.url)!, failure: [Result<RedisReply, RedisError>]()) { client, ctx in
            var results: [Result<RedisReply, RedisError>] = []
            client.command("SET", "s", "x") { results.append($0) }
            client.command("LPUSH", "s", "y") { results.append($0) }
            client.command("MULTI") { results.append($0) }
            client.command("SET", "t", "1") { results.append($0) }
            client.command("LPUSH", "t", "2") { results.append($0) }
            client.command("EXEC") { results.append($0) }
            client.command("PING") { results.append($0); ctx.finish(results) }
        }
        #expect(run.liveHandles == 0)
        let results = try #require(run.value)
        try #require(results.count == 7)
        guard case .failure(.server(let message)) = results[1] else {
            Issue.record("expected a server error, got \(results[1])")
            return
        }
        #expect(message.hasPrefix("WRONGTYPE"))
        #expect(results[3].reply == .status("QUEUED"))
        let exec = try #require(results[5].reply?.array)
        try #require(exec.count == 2)
        #expect(exec[0] == .status("OK"))
        guard case .error(let nested) = exec[1] else {
            Issue.record("expected a nested error, got \(exec[1])")
            return
        }
        #expect(nested.hasPrefix("WRONGTYPE"))
        #expect(results[6].reply == .status("PONG"))
    }

    @Test("1000 pipelined commands all complete, in send order")
    func pipelined() throws {
        let server = try RedisTestServer()
        defer { server.stop() }
        let count = 1000
        struct Outcome { var order: [Int]; var replies: [RedisReply?]; var list: RedisReply?; var pendingAfterSend = 0 }
        let empty = Outcome(order: [], replies: [], list: nil)
        let run = runWithClient(RedisEndpoint(url: server.url)!, failure: empty) { client, ctx in
            var outcome = empty
            for i in 0..<count {
                client.command("RPUSH", "list", String(i)) { result in
                    outcome.order.append(i)
                    outcome.replies.append(result.reply)
                }
            }
            outcome.pendingAfterSend = client.pendingCount
            client.command("LRANGE", "list", "0", "-1") { result in
                outcome.list = result.reply
                ctx.finish(outcome)
            }
        }
        #expect(run.liveHandles == 0)
        let outcome = try #require(run.value)
        #expect(outcome.pendingAfterSend == count)
        #expect(outcome.order == Array(0..<count))
        #expect(outcome.replies == (1...count).map { RedisReply.integer(Int64($0)) })
        #expect(outcome.list == .array((0..<count).map { .string(bytes(String($0))) }))
    }

    @Test("a slow command times out exactly once; its late reply is dropped and the link stays usable")
    func timeoutOnce() throws {
        let server = try RedisTestServer()
        defer { server.stop() }
        struct Outcome { var sleep: [(RedisError?, Int64)] = []; var ping: RedisReply?; var connected = false }
        let run = runWithClient(RedisEndpoint(url: server.url)!, commandTimeoutMs: 200, failure: Outcome()) { client, ctx in
            var outcome = Outcome()
            let sent = ctx.loop.nowMs
            client.command("DEBUG", "SLEEP", "1") { result in
                outcome.sleep.append((result.error, ctx.loop.nowMs - sent))
            }
            // Well after the server woke up and sent the late reply.
            ctx.after(1_500) {
                client.command("PING") { result in
                    outcome.ping = result.reply
                    outcome.connected = client.isConnected
                    ctx.finish(outcome)
                }
            }
        }
        #expect(run.liveHandles == 0)
        let outcome = try #require(run.value)
        try #require(outcome.sleep.count == 1)
        #expect(outcome.sleep[0].0 == .timeout)
        #expect(outcome.sleep[0].1 >= 190 && outcome.sleep[0].1 < 700, "timed out after \(outcome.sleep[0].1) ms")
        #expect(outcome.ping == .status("PONG"))
        #expect(outcome.connected)
    }

    @Test("SELECT db from the URL is applied to the connection")
    func selectsDatabase() throws {
        let server = try RedisTestServer()
        defer { server.stop() }
        let run = runWithClient(RedisEndpoint(url: server.url + "/3")!, failure: [RedisReply?]()) { client, ctx in
            let db0 = RedisClient(loop: ctx.loop, endpoint: RedisEndpoint(url: server.url + "/0")!)
            ctx.closeOnTeardown { db0.close() }
            client.command("SET", "where", "three") { _ in
                whenConnected(db0, ctx, orFinishWith: []) {
                    db0.command("GET", "where") { inZero in
                        client.command("GET", "where") { inThree in ctx.finish([inZero.reply, inThree.reply]) }
                    }
                }
                db0.start()
            }
        }
        #expect(run.liveHandles == 0)
        #expect(run.value == [.null, .string(bytes("three"))])
    }

    @Test("a host name is resolved off the loop; localhost reaches the IPv4-bound server")
    func resolvesHostName() throws {
        let server = try RedisTestServer()
        defer { server.stop() }
        let run = runWithClient(RedisEndpoint(url: "redis://localhost:\(server.port)")!, failure: RedisReply?.none) { client, ctx in
            client.command("PING") { ctx.finish($0.reply) }
        }
        #expect(run.liveHandles == 0)
        #expect(run.value == .status("PONG"))
    }

    @Test("AUTH with the URL's password; a wrong password never reports connected")
    func authenticates() throws {
        let server = try RedisTestServer(extraArguments: ["--requirepass", "s3cret"])
        defer { server.stop() }
        let good = runWithClient(RedisEndpoint(url: "redis://:s3cret@127.0.0.1:\(server.port)/1")!, failure: RedisReply?.none) { client, ctx in
            client.command("PING") { ctx.finish($0.reply) }
        }
        #expect(good.liveHandles == 0)
        #expect(good.value == .status("PONG"))

        struct Outcome { var states: [Bool] = []; var lastError: String?; var command: RedisError? }
        let bad = LoopRun<Outcome>.run { ctx in
            var outcome = Outcome()
            let client = RedisClient(loop: ctx.loop, endpoint: RedisEndpoint(url: "redis://:wrong@127.0.0.1:\(server.port)")!)
            ctx.closeOnTeardown { client.close() }
            client.onStateChange = { outcome.states.append($0) }
            client.start()
            ctx.after(700) {
                outcome.lastError = client.lastError
                client.command("PING") { result in
                    outcome.command = result.error
                    ctx.finish(outcome)
                }
            }
        }
        #expect(bad.liveHandles == 0)
        let outcome = try #require(bad.value)
        #expect(outcome.states.isEmpty)
        #expect(outcome.lastError?.contains("AUTH") == true, "lastError: \(outcome.lastError ?? "nil")")
        #expect(outcome.command == .disconnected)
    }
}
