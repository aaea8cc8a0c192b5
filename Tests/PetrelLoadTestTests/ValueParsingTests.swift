import Testing
@testable import PetrelLoadTestKit

@Test func durations() {
    #expect(ValueParser.durationNs("500ms") == 500_000_000)
    #expect(ValueParser.durationNs("30s") == 30_000_000_000)
    #expect(ValueParser.durationNs("2m") == 120_000_000_000)
    #expect(ValueParser.durationNs("1h30m") == 5_400_000_000_000)
    #expect(ValueParser.durationNs("1.5") == 1_500_000_000)
    #expect(ValueParser.durationNs("250us") == 250_000)
    #expect(ValueParser.durationNs("ten") == nil)
    #expect(ValueParser.durationNs("5x") == nil)
}

@Test func sizesFractionsAndSourceAddresses() {
    #expect(ValueParser.size("16k") == 16384)
    #expect(ValueParser.size("32") == 32)
    #expect(ValueParser.size("1MiB") == 1 << 20)
    #expect(ValueParser.size("3q") == nil)
    #expect(ValueParser.fraction("1%") == 0.01)
    #expect(ValueParser.fraction("0.05") == 0.05)
    #expect(ValueParser.sourceAddresses("127.0.0.1-127.0.0.3") == ["127.0.0.1", "127.0.0.2", "127.0.0.3"])
    #expect(ValueParser.sourceAddresses("10.0.0.1,10.0.0.9") == ["10.0.0.1", "10.0.0.9"])
    #expect(ValueParser.sourceAddresses("127.0.0.9-127.0.0.1") == nil)
}

@Test func targetURLs() {
    let u = TargetURL("wss://example.com/prod?x=1")!
    #expect(u.scheme == "wss" && u.host == "example.com" && u.port == 443 && u.pathAndQuery == "/prod?x=1")
    #expect(u.hostHeader == "example.com")
    let v = TargetURL("ws://127.0.0.1:8080")!
    #expect(v.port == 8080 && v.pathAndQuery == "/" && v.hostHeader == "127.0.0.1:8080")
    let six = TargetURL("http://[::1]:9090/health")!
    #expect(six.host == "::1" && six.port == 9090 && six.hostHeader == "[::1]:9090")
    #expect(TargetURL("ftp://x/") == nil)
    #expect(TargetURL("ws://host:99999/") == nil)
}

@Test func timestampRingIsFIFOAcrossGrowth() {
    var ring = TimestampRing()
    for i in 0..<3 { ring.push(UInt64(i)) }
    #expect(ring.pop() == 0)
    for i in 3..<100 { ring.push(UInt64(i)) }
    var out: [UInt64] = []
    while let v = ring.pop() { out.append(v) }
    #expect(out == (1..<100).map { UInt64($0) })
    ring.free()
}
