import CLibUV
import Glibc

extension TCPStream {
    /// Opens an outbound connection to `address` (IPv4 or IPv6). The stream comes back at once,
    /// not reading, so its owner can set a handler and abandon the attempt with `close()`;
    /// `completion` runs later on the loop with 0 once connected, else a negative libuv code
    /// (`UV_ECANCELED` after such a close). Nil, with `failure` set, when libuv refuses the
    /// attempt outright (a bad address family, no descriptors left).
    public static func connect(loop: EventLoop, to address: UnsafePointer<sockaddr>, failure: inout Int32,
                               completion: @escaping (TCPStream, Int32) -> Void) -> TCPStream? {
        let handle = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init(loop.uv, handle)
        let stream = TCPStream(loop: loop, handle: handle)
        handle.pointee.data = Unmanaged.passRetained(stream).toOpaque()
        // libuv remembers both for the socket it creates in uv_tcp_connect.
        uv_tcp_nodelay(handle, 1)
        uv_tcp_keepalive(handle, 1, 60)
        let request = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
        request.pointee.data = Unmanaged.passRetained(PendingConnect(stream: stream, completion: completion)).toOpaque()
        let rc = uv_tcp_connect(request, handle, address, didConnect)
        guard rc == 0 else {
            Unmanaged<PendingConnect>.fromOpaque(request.pointee.data).release()
            request.deallocate()
            failure = rc
            stream.close()
            return nil
        }
        return stream
    }
}

/// What a `uv_connect_t` carries to its callback (retained until then).
private final class PendingConnect {
    let stream: TCPStream
    let completion: (TCPStream, Int32) -> Void

    init(stream: TCPStream, completion: @escaping (TCPStream, Int32) -> Void) {
        self.stream = stream
        self.completion = completion
    }
}

private func didConnect(_ request: UnsafeMutablePointer<uv_connect_t>?, _ status: Int32) {
    guard let request else { return }
    let pending = Unmanaged<PendingConnect>.fromOpaque(request.pointee.data).takeRetainedValue()
    request.deallocate()
    pending.completion(pending.stream, status)
}
