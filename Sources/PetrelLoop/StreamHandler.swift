/// What a stream tells its owner. All calls come on the stream's loop.
public protocol StreamHandler: AnyObject {
    /// Bytes arrived. The buffer is the loop's shared read buffer: valid only during the call,
    /// and the handler may modify it in place (WebSocket unmasking does).
    func streamDidRead(_ stream: TCPStream, _ bytes: UnsafeMutableRawBufferPointer)
    /// The peer ended its side (`UV_EOF`) or the connection failed (another negative libuv code).
    func streamDidEnd(_ stream: TCPStream, status: Int32)
    /// Everything written so far has been handed to the kernel.
    func streamDidDrain(_ stream: TCPStream)
    /// The handle is closed; the stream is released after this returns.
    func streamDidClose(_ stream: TCPStream)
}
