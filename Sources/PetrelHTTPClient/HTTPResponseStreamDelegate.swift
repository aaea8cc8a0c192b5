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

extension HTTPResponseStreamDelegate {
    public func responseFlush() {}
}
