import PetrelCodecs
import Testing

/// Feeds reads to an `HTTPRequestParser` and collects every request, or the failure.
struct ParserHarness {
    var parser: HTTPRequestParser
    private(set) var requests: [HTTPRequest] = []
    private(set) var failure: HTTPParseError?

    init(maxHeaderBytes: Int = 8192, maxBodyBytes: Int = 1 << 20) {
        parser = HTTPRequestParser(maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes)
    }

    mutating func feed(_ read: [UInt8]) {
        guard failure == nil else { return }
        read.withUnsafeBytes { parser.feed($0) }
        while true {
            switch parser.next() {
            case .needMore: return
            case .request(let request): requests.append(request)
            case .failure(let error):
                failure = error
                return
            }
        }
    }

    /// Parses `requests` delivered as `mode` says.
    static func parse(
        _ requests: [String], mode: FeedMode, maxHeaderBytes: Int = 8192, maxBodyBytes: Int = 1 << 20
    ) -> ParserHarness {
        parse(requests.map { Array($0.utf8) }, mode: mode, maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes)
    }

    static func parse(
        _ requests: [[UInt8]], mode: FeedMode, maxHeaderBytes: Int = 8192, maxBodyBytes: Int = 1 << 20
    ) -> ParserHarness {
        var harness = ParserHarness(maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes)
        for read in mode.reads(of: requests) {
            harness.feed(read)
        }
        return harness
    }

    /// The failure status when parsing `request` under every feed mode must be the same; returns it.
    static func failureStatus(_ request: String, mode: FeedMode, maxHeaderBytes: Int = 8192, maxBodyBytes: Int = 1 << 20) -> Int? {
        parse([request], mode: mode, maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes).failure?.status
    }
}
