import Testing
@testable import PetrelGateway

@Suite struct TraceContextTests {
    @Test func parsesVersion00AndWritesItBack() throws {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let context = try #require(TraceContext.parse(header))
        #expect(context.traceId == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(context.spanId == 0x00f0_67aa_0ba9_02b7)
        #expect(context.flags == 1)
        #expect(context.header == header)
        #expect(context.header(span: 0xab) == "00-4bf92f3577b34da6a3ce929d0e0e4736-00000000000000ab-01")
    }

    @Test func rejectsWhatTheSpecRejects() {
        let ok = "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        #expect(TraceContext.parse("ff-" + ok) == nil)                                 // version ff
        #expect(TraceContext.parse("00-" + ok + "-extra") == nil)                      // 00 is exactly 55
        #expect(TraceContext.parse("01-" + ok + "-extra") != nil)                      // later versions may extend
        #expect(TraceContext.parse("00-" + ok.uppercased()) == nil)                    // lower-case hex only
        #expect(TraceContext.parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01") == nil)
        #expect(TraceContext.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01") == nil)
        #expect(TraceContext.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7") == nil)
        #expect(TraceContext.parse("") == nil)
    }
}
