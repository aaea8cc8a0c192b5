import PetrelCodecs
import Testing

/// Inputs found by the fuzz targets in Fuzz/, each kept as the behaviour it pinned down.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    /// FuzzHTTPParser: a bare LF beyond `maxHeaderBytes` gave 400 when read whole but 431 when
    /// read in pieces (the limit fired before the LF arrived). The limit now wins in both.
    @Test("a bare LF past the header limit is 431 however the bytes arrive", arguments: FeedMode.allCases)
    func bareLineFeedPastHeaderLimit(mode: FeedMode) {
        let request = "c-WebSo&cket-Verion': 1:ch 3gun\u{7}ke\r0\r\n" + String(repeating: "x", count: 88) + "1d\n\nq"
        #expect(ParserHarness.failureStatus(request, mode: mode, maxHeaderBytes: 64, maxBodyBytes: 16) == 431)
    }

    /// Same ordering in the trailer section.
    @Test("a bare LF past the trailer limit is 431 however the bytes arrive", arguments: FeedMode.allCases)
    func bareLineFeedPastTrailerLimit(mode: FeedMode) {
        let request = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + String(repeating: "t", count: 80) + "\n"
        #expect(ParserHarness.failureStatus(request, mode: mode, maxHeaderBytes: 64) == 431)
    }
}
