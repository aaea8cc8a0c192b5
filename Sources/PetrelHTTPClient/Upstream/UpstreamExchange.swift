/// One streamed request through the upstream pool, from `HTTPClient.stream` to its delegate's
/// `responseEnd`. Owned by the pool's `exchanges` table while in flight; a connection points at
/// the exchange it carries and the exchange back at it.
final class UpstreamExchange {
    let id: HTTPRequestID
    let origin: UpstreamOrigin
    /// The serialized head, followed by the buffered body when there is one.
    let requestBytes: [UInt8]
    let bodySource: HTTPRequestBodySource?
    let chunkedUpload: Bool
    let isHEAD: Bool
    let delegate: HTTPResponseStreamDelegate
    /// Until the response head: everything (queueing, connecting, sending, waiting) must fit.
    let headDeadlineMs: Int64
    /// After the head: a body that brings nothing for this long (while not paused) is dropped.
    let stallLimitMs: Int64
    var lastProgressMs: Int64

    var connection: UpstreamConnection?
    var headDelivered = false
    /// The delegate refused body bytes: the backend is not read until `resume`.
    var paused = false
    /// Body bytes the delegate refused, offered again first on `resume`.
    var refusedBody: [UInt8] = []
    /// Bytes read from the backend after the refused ones, still to be decoded.
    var undecoded: [UInt8] = []
    /// The body source answered `.wait`: nothing more is asked until `resumeUpload`.
    var uploadPaused = false
    var uploadDone: Bool
    /// Bytes of the body went out, so a failed attempt cannot be replayed on another connection.
    var uploadStarted = false
    var chunksSent = false
    var finished = false
    /// Attempts on a kept-alive connection that turned out closed (at most one retry).
    var staleRetries = 0

    init(id: HTTPRequestID, origin: UpstreamOrigin, requestBytes: [UInt8], bodySource: HTTPRequestBodySource?,
         chunkedUpload: Bool, isHEAD: Bool, delegate: HTTPResponseStreamDelegate, nowMs: Int64, timeoutMs: Int64) {
        self.id = id
        self.origin = origin
        self.requestBytes = requestBytes
        self.bodySource = bodySource
        self.chunkedUpload = chunkedUpload
        self.isHEAD = isHEAD
        self.delegate = delegate
        headDeadlineMs = nowMs + max(1, timeoutMs)
        // curl's low-speed limit counted whole seconds; the same bound here.
        stallLimitMs = max(1, (timeoutMs + 999) / 1000) * 1000
        lastProgressMs = nowMs
        uploadDone = bodySource == nil
    }

    /// When this exchange times out if nothing happens before.
    var deadlineMs: Int64 {
        if !headDelivered { return headDeadlineMs }
        return paused ? .max : lastProgressMs + stallLimitMs
    }
}
