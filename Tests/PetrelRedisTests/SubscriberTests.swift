import Dispatch
import PetrelLoop
import PetrelRedis
import Testing

@Suite("RedisSubscriber")
struct SubscriberTests {
    struct Message: Equatable {
        var channel: String
        var payload: [UInt8]
    }

    @Test("receives PUBLISHed messages on two channels, and again after a redis restart (resubscribed)")
    func receivesAndResubscribes() throws {
        let server = try RedisTestServer()
        defer { server.stop() }
        let firstRound = DispatchSemaphore(value: 0)
        struct Outcome {
            var messages: [Message] = []
            var subscriberStates: [Bool] = []
            var receivers: [RedisReply?] = []
        }
        let run = LoopRun<Outcome>.start { ctx in
            var outcome = Outcome()
            let endpoint = RedisEndpoint(url: server.url)!
            let publisher = RedisClient(loop: ctx.loop, endpoint: endpoint)
            let subscriber = RedisSubscriber(loop: ctx.loop, endpoint: endpoint)
            ctx.closeOnTeardown {
                publisher.close()
                subscriber.close()
            }
            var round = 0
            func publishRound() {
                guard publisher.isConnected, subscriber.isConnected, round < 2 else { return }
                round += 1
                publisher.command([bytes("PUBLISH"), bytes("alpha"), bytes("one-\(round)")]) { outcome.receivers.append($0.reply) }
                publisher.command([bytes("PUBLISH"), bytes("beta"), [0x00, 0xFF, UInt8(round)]]) { outcome.receivers.append($0.reply) }
                publisher.command("PUBLISH", "not-subscribed", "x") { outcome.receivers.append($0.reply) }
            }
            publisher.onStateChange = { _ in publishRound() }
            subscriber.onStateChange = { up in
                outcome.subscriberStates.append(up)
                publishRound()
            }
            subscriber.start(channels: ["alpha", "beta"]) { channel, payload in
                outcome.messages.append(Message(channel: channel, payload: payload))
                if outcome.messages.count == 2 { firstRound.signal() }
                if outcome.messages.count == 4 { ctx.finish(outcome) }
            }
            publisher.start()
        }
        try #require(firstRound.wait(timeout: .now() + 10) == .success)
        try server.restart()
        run.wait(timeoutSeconds: 20)

        #expect(!run.timedOut)
        #expect(run.liveHandles == 0)
        let outcome = try #require(run.value)
        #expect(outcome.messages == [
            Message(channel: "alpha", payload: bytes("one-1")),
            Message(channel: "beta", payload: [0x00, 0xFF, 1]),
            Message(channel: "alpha", payload: bytes("one-2")),
            Message(channel: "beta", payload: [0x00, 0xFF, 2]),
        ])
        #expect(outcome.subscriberStates == [true, false, true])
        #expect(outcome.receivers.prefix(3) == [.integer(1), .integer(1), .integer(0)])
    }
}
