import PetrelCodecs

/// W3C Trace Context (`traceparent`, `tracestate`): taken from the client's handshake or HTTP
/// request, or created from the loop's random id generator, then sent to every integration call
/// with a fresh span id as the parent, and written to the access log.
struct TraceContext: Equatable {
    var traceHigh: UInt64 = 0
    var traceLow: UInt64 = 0
    /// The span the gateway's work hangs under: the client's parent-id, or one we made.
    var spanId: UInt64 = 0
    var flags: UInt8 = 0

    var isValid: Bool { (traceHigh | traceLow) != 0 && spanId != 0 }

    /// `traceparent` as the W3C spec reads it: version 00 exactly 55 characters; a later
    /// version at least that long with a `-` after the flags; `ff` and all-zero ids invalid.
    static func parse(_ header: String) -> TraceContext? {
        let b = Array(header.utf8)
        guard b.count >= 55, b[2] == 0x2D, b[35] == 0x2D, b[52] == 0x2D else { return nil }
        guard let version = hex(b[0..<2]), version != 0xFF else { return nil }
        if version == 0 { guard b.count == 55 else { return nil } } else if b.count > 55 { guard b[55] == 0x2D else { return nil } }
        guard let high = hex(b[3..<19]), let low = hex(b[19..<35]), let span = hex(b[36..<52]), let flags = hex(b[53..<55]) else {
            return nil
        }
        let context = TraceContext(traceHigh: high, traceLow: low, spanId: span, flags: UInt8(flags))
        return context.isValid ? context : nil
    }

    /// Lower-case hex only (the spec forbids upper case).
    private static func hex(_ bytes: ArraySlice<UInt8>) -> UInt64? {
        var v: UInt64 = 0
        for c in bytes {
            switch c {
            case 0x30...0x39: v = v << 4 | UInt64(c - 0x30)
            case 0x61...0x66: v = v << 4 | UInt64(c - 0x61 + 10)
            default: return nil
            }
        }
        return v
    }

    static func hex16(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    var traceId: String { Self.hex16(traceHigh) + Self.hex16(traceLow) }

    /// `traceparent` with `span` as the parent-id (the caller's span).
    func header(span: UInt64) -> String {
        let f = String(flags, radix: 16)
        return "00-\(traceId)-\(Self.hex16(span))-\(f.count == 1 ? "0" + f : f)"
    }

    var header: String { header(span: spanId) }
}

/// The trace context a client sent on its handshake, kept for the connection's life. Only
/// connections whose client sent one pay for it (8 bytes otherwise); the others derive their
/// trace from the connection id (`Worker.traceContext(for:)`).
final class ClientTrace {
    let trace: TraceContext
    let state: String

    init(trace: TraceContext, state: String) {
        self.trace = trace
        self.state = state
    }
}

/// What an HTTP request (or handshake) carries for metrics, the access log and tracing. Lives in
/// `HTTPSession`, which a WebSocket drops at the upgrade, so open connections do not carry it.
struct ConnectionObservation {
    var trace = TraceContext()
    var traceState = ""
    var traceFromClient = false
    /// `METHOD path` of the current plain HTTP request, kept only while access logging is on.
    var requestLine = ""
    /// Monotonic ns when the current HTTP request (or handshake) was parsed; 0 without an access log.
    var startNs: UInt64 = 0
    /// Latency of the last asynchronous integration call (`$connect` on a handshake), µs; -1 none.
    var integrationUs: Int32 = -1
    /// The current request's route number (public HTTP) or management operation (admin).
    var route: Int32 = 0
    var kind: Kind = .none
    enum Kind: UInt8 { case none, http, upgrade, admin }
}
