import CLibUV
import Glibc

/// A listening socket on one loop. With `reusePort` every loop binds its own socket to the same
/// address and the kernel spreads new connections over them (DESIGN §1).
public final class TCPListener {
    let handle: UnsafeMutablePointer<uv_tcp_t>
    public unowned(unsafe) let loop: EventLoop
    private let onAccept: (TCPStream) -> Void
    /// When set, every accepted stream speaks TLS with a session from this context.
    private let tls: TLSServerContext?
    private var closed = false

    public enum BindError: Error, CustomStringConvertible {
        case badAddress(String)
        case failed(String, Int32)
        public var description: String {
            switch self {
            case .badAddress(let a): return "cannot parse listen address \(a)"
            case .failed(let what, let code): return "\(what): \(UVError.describe(code))"
            }
        }
    }

    /// Binds and listens. `port` 0 picks a free port; read it back with `boundPort`.
    public init(loop: EventLoop, host: String, port: Int, reusePort: Bool, backlog: Int32 = 4096,
                tls: TLSServerContext? = nil, onAccept: @escaping (TCPStream) -> Void) throws(BindError) {
        self.loop = loop
        self.onAccept = onAccept
        self.tls = tls
        var storage = sockaddr_storage()
        let family: Int32
        let parsed: Int32 = withUnsafeMutablePointer(to: &storage) { ptr in
            if host.contains(":") {
                return ptr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { uv_ip6_addr(host, Int32(port), $0) }
            }
            return ptr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { uv_ip4_addr(host, Int32(port), $0) }
        }
        guard parsed == 0 else { throw .badAddress("\(host):\(port)") }
        family = host.contains(":") ? AF_INET6 : AF_INET
        handle = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init_ex(loop.uv, handle, UInt32(family))
        handle.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        func fail(_ what: String, _ rc: Int32) -> BindError {
            uv_close(petrel_tcp_as_handle(handle)) { $0?.deallocate() }
            return .failed(what, rc)
        }
        if reusePort {
            var fd: uv_os_fd_t = -1
            uv_fileno(petrel_tcp_as_handle(handle), &fd)
            if petrel_set_reuseport(fd) != 0 { throw fail("SO_REUSEPORT", -errno) }
        }
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_bind(handle, $0, 0) }
        }
        if rc != 0 { throw fail("bind \(host):\(port)", rc) }
        let lrc = uv_listen(petrel_tcp_as_stream(handle), backlog, didAccept)
        if lrc != 0 { throw fail("listen \(host):\(port)", lrc) }
    }

    public var boundPort: Int {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getsockname(handle, $0, &length) }
        }
        return withUnsafeBytes(of: &storage) { raw in
            let family = Int32(raw.load(as: sockaddr.self).sa_family)
            let port = family == AF_INET6 ? raw.load(as: sockaddr_in6.self).sin6_port : raw.load(as: sockaddr_in.self).sin_port
            return Int(UInt16(bigEndian: port))
        }
    }

    /// Stops accepting; already accepted connections are unaffected. Connections the kernel has
    /// already completed for this socket are accepted first: closing a listening socket resets
    /// its whole accept queue, which during a `--takeover` (a second process on the same port
    /// with SO_REUSEPORT) would turn connections the kernel handed to this one into resets.
    public func close() {
        guard !closed else { return }
        closed = true
        var fd: uv_os_fd_t = -1
        if uv_fileno(petrel_tcp_as_handle(handle), &fd) == 0 {
            while true {
                let client = petrel_accept_pending(fd)
                if client < 0 {
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    break
                }
                adopt(client)
            }
        }
        uv_close(petrel_tcp_as_handle(handle)) { $0?.deallocate() }
    }

    /// A connection accepted outside libuv's callback (the queue drained by `close`).
    private func adopt(_ fd: Int32) {
        if !serveNewHandle({ uv_tcp_open($0, fd) }) { Glibc.close(fd) }
    }

    fileprivate func accept() {
        _ = serveNewHandle { uv_accept(petrel_tcp_as_stream(handle), petrel_tcp_as_stream($0)) }
    }

    /// A new client handle, filled by `attach` (accept, or open an accepted descriptor), then
    /// served; false when `attach` failed (the handle is released).
    private func serveNewHandle(_ attach: (UnsafeMutablePointer<uv_tcp_t>) -> Int32) -> Bool {
        let client = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init(loop.uv, client)
        guard attach(client) == 0 else {
            uv_close(petrel_tcp_as_handle(client)) { $0?.deallocate() }
            return false
        }
        serve(client)
        return true
    }

    private func serve(_ client: UnsafeMutablePointer<uv_tcp_t>) {
        uv_tcp_nodelay(client, 1)
        let stream = TCPStream(loop: loop, handle: client)
        client.pointee.data = Unmanaged.passRetained(stream).toOpaque()
        if let tls { stream.attachTLS(tls.makeSession()) }
        onAccept(stream)
    }
}

private func didAccept(_ server: UnsafeMutablePointer<uv_stream_t>?, _ status: Int32) {
    guard status == 0, let server else { return }
    let listener = Unmanaged<TCPListener>.fromOpaque(server.pointee.data).takeUnretainedValue()
    listener.accept()
}

/// True when something already accepts connections on host:port (a running Petrel, say).
public func addressAnswers(host: String, port: Int) -> Bool {
    guard port != 0 else { return false }
    let probeHost = (host == "0.0.0.0") ? "127.0.0.1" : (host == "::" ? "::1" : host)
    let family = probeHost.contains(":") ? AF_INET6 : AF_INET
    let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var storage = sockaddr_storage()
    let ok: Int32 = withUnsafeMutablePointer(to: &storage) { ptr in
        family == AF_INET6
            ? ptr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { uv_ip6_addr(probeHost, Int32(port), $0) }
            : ptr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { uv_ip4_addr(probeHost, Int32(port), $0) }
    }
    guard ok == 0 else { return false }
    let length = socklen_t(family == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
    return withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) == 0 }
    }
}
