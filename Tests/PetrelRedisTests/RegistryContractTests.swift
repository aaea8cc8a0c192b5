import PetrelCore
import PetrelLoop
import PetrelRedis
import Testing

/// One contract, two implementations: every guarantee `ConnectionRegistry` states is checked
/// against the in-memory registry and against Redis with the same steps and expectations.
enum RegistryUnderTest: String, CaseIterable, Sendable {
    case inMemory, redis
}

private func record(_ n: UInt32, node: String = "node-a") -> ConnectionRecord {
    ConnectionRecord(id: GatewayID(high: 0xABCD, low: n), node: node, connectedAtMs: 1_700_000_000_000 + Int64(n),
                     sourceIp: "10.0.0.\(n)", userAgent: "agent/\(n)", domainName: "example.test",
                     lastActiveAtMs: 1_700_000_000_000)
}

/// Runs `steps` on a loop against a fresh registry of `kind`; returns what they observed.
private func observe(_ kind: RegistryUnderTest,
                     _ steps: @escaping (any ConnectionRegistry, @escaping ([String]) -> Void) -> Void) throws -> [String] {
    var server: RedisTestServer?
    if kind == .redis { server = try RedisTestServer() }
    defer { server?.stop() }
    let run = LoopRun<[String]>.run { ctx in
        switch kind {
        case .inMemory:
            steps(InMemoryConnectionRegistry(clock: { 0 }), ctx.finish)
        case .redis:
            let client = RedisClient(loop: ctx.loop, endpoint: RedisEndpoint(url: server!.url)!)
            ctx.closeOnTeardown { client.close() }
            whenConnected(client, ctx, orFinishWith: ["never connected"]) {
                steps(RedisConnectionRegistry(client: client), ctx.finish)
            }
            client.start()
        }
    }
    #expect(run.liveHandles == 0)
    return try #require(run.value)
}

@Suite("ConnectionRegistry contract")
struct RegistryContractTests {
    @Test("a registered connection is found with every field", arguments: RegistryUnderTest.allCases)
    func registerThenLookup(_ kind: RegistryUnderTest) throws {
        let seen = try observe(kind) { registry, done in
            registry.register(record(1), ttlMs: 60_000) { ok in
                registry.lookup(record(1).id) { found in
                    done(["\(ok)", found == .found(record(1)) ? "found" : "\(found)"])
                }
            }
        }
        #expect(seen == ["true", "found"])
    }

    @Test("an unknown id is gone", arguments: RegistryUnderTest.allCases)
    func unknownIsGone(_ kind: RegistryUnderTest) throws {
        let seen = try observe(kind) { registry, done in
            registry.lookup(record(9).id) { done(["\($0)"]) }
        }
        #expect(seen == ["gone"])
    }

    @Test("unregister removes the record and its group memberships", arguments: RegistryUnderTest.allCases)
    func unregisterLeavesGroups(_ kind: RegistryUnderTest) throws {
        let seen = try observe(kind) { registry, done in
            registry.register(record(1), ttlMs: 60_000) { _ in
                registry.register(record(2), ttlMs: 60_000) { _ in
                    registry.join(record(1).id, group: "room") { j1 in
                        registry.join(record(2).id, group: "room") { j2 in
                            registry.unregister(record(1).id, node: "node-a") { _ in
                                registry.lookup(record(1).id) { found in
                                    registry.members(of: "room") { members in
                                        done(["\(j1)", "\(j2)", "\(found)", "\(members?.map(\.low) ?? [])"])
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(seen == ["true", "true", "gone", "[2]"])
    }

    @Test("joining a group needs a registered connection", arguments: RegistryUnderTest.allCases)
    func joinNeedsConnection(_ kind: RegistryUnderTest) throws {
        let seen = try observe(kind) { registry, done in
            registry.join(record(5).id, group: "room") { ok in
                registry.members(of: "room") { done(["\(ok)", "\($0?.count ?? -1)"]) }
            }
        }
        #expect(seen == ["false", "0"])
    }

    @Test("leave removes one membership only", arguments: RegistryUnderTest.allCases)
    func leaveOneGroup(_ kind: RegistryUnderTest) throws {
        let seen = try observe(kind) { registry, done in
            registry.register(record(1), ttlMs: 60_000) { _ in
                registry.join(record(1).id, group: "a") { _ in
                    registry.join(record(1).id, group: "b") { _ in
                        registry.leave(record(1).id, group: "a") { left in
                            registry.members(of: "a") { a in
                                registry.members(of: "b") { b in done(["\(left)", "\(a?.count ?? -1)", "\(b?.count ?? -1)"]) }
                            }
                        }
                    }
                }
            }
        }
        #expect(seen == ["true", "0", "1"])
    }

    @Test("only the owning node unregisters a record", arguments: RegistryUnderTest.allCases)
    func otherNodeCannotUnregister(_ kind: RegistryUnderTest) throws {
        let seen = try observe(kind) { registry, done in
            registry.register(record(1, node: "node-a"), ttlMs: 60_000) { _ in
                registry.unregister(record(1).id, node: "node-b") { _ in
                    registry.lookup(record(1).id) { found in
                        if case .found(let r) = found { done([r.node]) } else { done(["\(found)"]) }
                    }
                }
            }
        }
        #expect(seen == ["node-a"])
    }

    @Test("touch refreshes lastActiveAt", arguments: RegistryUnderTest.allCases)
    func touchRefreshes(_ kind: RegistryUnderTest) throws {
        let seen = try observe(kind) { registry, done in
            registry.register(record(1), ttlMs: 60_000) { _ in
                registry.touch([record(1).id], atMs: 1_800_000_000_000, ttlMs: 60_000)
                registry.lookup(record(1).id) { found in
                    if case .found(let r) = found { done(["\(r.lastActiveAtMs)"]) } else { done(["\(found)"]) }
                }
            }
        }
        #expect(seen == ["1800000000000"])
    }
}

@Test("the Redis registry answers unavailable, not gone, while Redis is down")
func redisDownIsUnavailable() throws {
    let server = try RedisTestServer()
    defer { server.stop() }
    let run = LoopRun<[String]>.run { ctx in
        let client = RedisClient(loop: ctx.loop, endpoint: RedisEndpoint(url: server.url)!, commandTimeoutMs: 300)
        ctx.closeOnTeardown { client.close() }
        let registry = RedisConnectionRegistry(client: client)
        whenConnected(client, ctx, orFinishWith: ["never connected"]) {
            server.kill()
            ctx.after(300) {
                registry.lookup(record(1).id) { found in
                    registry.members(of: "room") { members in ctx.finish(["\(found)", "\(members == nil)"]) }
                }
            }
        }
        client.start()
    }
    #expect(run.value == ["unavailable", "true"])
}
