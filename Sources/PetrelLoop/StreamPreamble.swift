/// Bytes a connection carries before its real protocol, such as a load balancer's PROXY protocol
/// header in front of the TLS ClientHello or the HTTP request. A stream whose `expectsPreamble` is
/// set hands raw bytes to its handler's `streamDidReadPreamble` (if the handler adopts this
/// protocol) until the handler says the preamble is over; the rest of that read, and every later
/// read, then go through TLS (if any) to `streamDidRead` as usual.
public protocol StreamPreambleHandler: AnyObject {
    /// Raw bytes from the socket (never decrypted). Valid only during the call.
    func streamDidReadPreamble(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) -> PreambleProgress
}

public enum PreambleProgress: Sendable, Equatable {
    /// Every byte belonged to the preamble, which is not over yet.
    case needMore
    /// The preamble ended after `consumed` bytes of this read; the rest is the connection's data.
    case done(consumed: Int)
    /// The preamble was refused; the handler has closed (or is closing) the stream.
    case failed
}

extension TCPStream {
    /// Offers a read to the preamble handler; returns where the connection's data starts in it
    /// (`count` when the preamble took everything or failed).
    func readPreamble(_ count: Int) -> Int {
        guard let preamble = handler as? StreamPreambleHandler else {
            expectsPreamble = false
            return 0
        }
        switch preamble.streamDidReadPreamble(self, UnsafeRawBufferPointer(start: loop.readBuffer.baseAddress, count: count)) {
        case .needMore:
            return count
        case .done(let consumed):
            expectsPreamble = false
            return min(max(consumed, 0), count)
        case .failed:
            expectsPreamble = false
            return count
        }
    }
}
