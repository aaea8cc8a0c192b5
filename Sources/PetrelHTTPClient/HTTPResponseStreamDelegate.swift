/// Receives a response piece by piece (`HTTPClient.stream`), so a proxy can forward a body of any
/// size while holding only what the next hop has not taken yet.
///
/// `responseHead` and `responseBody` run inside libcurl's callbacks: they may write to sockets
/// and set flags, but calls they make into the same `HTTPClient` (`cancel`, `resume`) are only
/// acted on once curl has returned. `responseEnd` runs outside curl, exactly once.
public protocol HTTPResponseStreamDelegate: AnyObject {
    /// The final response's status and headers (interim 1xx responses are skipped), before any
    /// body byte.
    func responseHead(status: Int, headers: [(String, String)])
    /// The next piece of the body. Returning false refuses it for now: the transfer pauses (curl
    /// stops reading the backend's socket, so TCP pushes back on the backend) and the same bytes
    /// are offered again after `HTTPClient.resume`.
    func responseBody(_ bytes: UnsafeRawBufferPointer) -> Bool
    /// The end: nil when the whole body was delivered, else why not (before or after the head;
    /// `.other("cancelled")` after `cancel`).
    func responseEnd(_ error: HTTPClientError?)
    /// curl has returned after delivering the head (and whatever body came with it): a delegate
    /// that held the head back, to send it together with the first body bytes, sends it now.
    func responseFlush()
}

/// Supplies a request body as it becomes available (`HTTPClient.stream(_:body:to:)`), so a proxy
/// forwards an upload of any size while holding only what the backend has not taken yet. Runs
/// inside libcurl's read callback: the same rules as `HTTPResponseStreamDelegate.responseBody`.
public protocol HTTPRequestBodySource: AnyObject {
    /// Copies the next body bytes into `buffer`.
    func requestBodyRead(into buffer: UnsafeMutableRawBufferPointer) -> HTTPRequestBodyRead
}

public enum HTTPRequestBodyRead: Equatable, Sendable {
    /// This many bytes were copied (more than zero).
    case bytes(Int)
    /// The body is complete.
    case end
    /// No byte is available yet: the upload pauses until `HTTPClient.resumeUpload`.
    case wait
    /// Give up: the transfer fails (the source knows why).
    case abort
}

extension HTTPResponseStreamDelegate {
    public func responseFlush() {}
}
