import COpenSSL

/// Where a session's ciphertext goes (the TCP stream; a test's byte collector).
public protocol TLSOutput: AnyObject {
    /// Ciphertext to send, in order. The bytes are valid only during the call.
    func tlsSessionWrite(_ bytes: UnsafeRawBufferPointer)
}

/// The server side of one TLS connection, driven by bytes rather than a socket.
///
/// OpenSSL reads and writes through one custom BIO: reads take ciphertext straight from the
/// buffer handed to `feed` (no copy into a memory BIO), writes go straight to `output` (which
/// batches them per operation). So a session owns no byte buffers of its own: with
/// `SSL_MODE_RELEASE_BUFFERS` an idle TLS connection is the `SSL` object and little else, where
/// `BIO_s_mem` pairs would keep their high-water buffers for the connection's whole life.
///
/// Not thread-safe: one session lives on one loop.
public final class TLSSession {
    public enum FeedResult: Equatable {
        /// All input consumed; more is needed.
        case ok
        /// The peer sent close_notify.
        case closed
        /// Handshake failure (bad or missing client certificate, old protocol version, no
        /// common cipher, garbage) or a corrupt record; the reason is in `failureReason`.
        case failed
    }

    let ssl: OpaquePointer
    /// Held until the handshake ends: the SNI callback uses it.
    private var generation: TLSContextGeneration?
    public unowned(unsafe) var output: TLSOutput?
    fileprivate var input: UnsafeRawPointer?
    fileprivate var inputCount = 0
    public private(set) var isHandshakeComplete = false
    public private(set) var failureReason: String?
    private var sentCloseNotify = false

    init(generation: TLSContextGeneration) {
        guard let ssl = SSL_new(generation.defaultContext) else { fatalError("SSL_new failed: out of memory") }
        self.ssl = ssl
        self.generation = generation
        guard let bio = BIO_new(tlsBIOMethod) else { fatalError("BIO_new failed: out of memory") }
        BIO_set_data(bio, Unmanaged.passUnretained(self).toOpaque())
        BIO_set_init(bio, 1)
        SSL_set_bio(ssl, bio, bio)
        SSL_set_accept_state(ssl)
    }

    deinit {
        SSL_free(ssl)
    }

    /// Ciphertext in. Runs the handshake, then decrypts every complete record into `plaintext`
    /// and hands it to `deliver` (as few calls as the buffer allows; usually one per feed).
    /// `deliver` returns false to stop (the connection is closing). Output (handshake messages,
    /// alerts, tickets) goes to `output` as it is produced.
    public func feed(_ ciphertext: UnsafeRawBufferPointer, plaintext: UnsafeMutableRawBufferPointer,
                     deliver: (UnsafeMutableRawBufferPointer) -> Bool) -> FeedResult {
        if failureReason != nil { return .failed }
        input = ciphertext.baseAddress
        inputCount = ciphertext.count
        defer {
            input = nil
            inputCount = 0
        }
        if !isHandshakeComplete {
            let rc = SSL_do_handshake(ssl)
            if rc != 1 {
                let error = SSL_get_error(ssl, rc)
                if error == SSL_ERROR_WANT_READ { return .ok }
                return fail(error)
            }
            isHandshakeComplete = true
            generation = nil
        }
        guard let base = plaintext.baseAddress, plaintext.count > 0 else { return .ok }
        let capacity = min(plaintext.count, Int(Int32.max))
        var filled = 0
        while true {
            let n = SSL_read(ssl, base + filled, Int32(capacity - filled))
            if n > 0 {
                filled += Int(n)
                if filled == capacity {
                    guard deliver(UnsafeMutableRawBufferPointer(start: base, count: filled)) else { return .ok }
                    filled = 0
                }
                continue
            }
            let error = SSL_get_error(ssl, n)
            if filled > 0 {
                guard deliver(UnsafeMutableRawBufferPointer(start: base, count: filled)) else { return .ok }
                filled = 0
            }
            switch error {
            case SSL_ERROR_WANT_READ: return .ok
            case SSL_ERROR_ZERO_RETURN: return .closed
            default: return fail(error)
            }
        }
    }

    /// Plaintext out: encrypted into records (up to 16 KiB each) and written to `output`.
    /// False when nothing can be sent (handshake not done, or the session failed).
    @discardableResult
    public func encrypt(_ plaintext: UnsafeRawBufferPointer) -> Bool {
        guard plaintext.count > 0 else { return true }
        guard isHandshakeComplete, failureReason == nil, let base = plaintext.baseAddress else { return false }
        var offset = 0
        while offset < plaintext.count {
            let n = SSL_write(ssl, base + offset, Int32(clamping: plaintext.count - offset))
            if n <= 0 {
                _ = fail(SSL_get_error(ssl, n))
                return false
            }
            offset += Int(n)
        }
        return true
    }

    /// Sends close_notify once (after the handshake); the caller then shuts TCP down.
    public func sendCloseNotify() {
        guard isHandshakeComplete, failureReason == nil, !sentCloseNotify else { return }
        sentCloseNotify = true
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    private func fail(_ error: Int32) -> FeedResult {
        let detail = error == SSL_ERROR_SSL ? openSSLErrors() : "SSL error \(error)"
        failureReason = detail
        ERR_clear_error()
        generation = nil
        return .failed
    }

    // MARK: What was negotiated

    /// The ALPN protocol chosen (`http/1.1`), if the client offered it.
    public var negotiatedProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// `TLSv1.2` or `TLSv1.3`.
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The SNI name the client asked for.
    public var serverName: String? {
        SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name).map { String(cString: $0) }
    }

    /// The verified client certificate (mTLS), computed on each call from the certificate the
    /// session keeps anyway, so connections carry no copy of it.
    public var clientCertificate: ClientCertificateInfo? {
        guard isHandshakeComplete, let cert = SSL_get0_peer_certificate(ssl) else { return nil }
        return ClientCertificateInfo(cert)
    }
}

// MARK: The BIO between OpenSSL and the session

nonisolated(unsafe) private let tlsBIOMethod: OpaquePointer = {
    guard let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "petrel-tls") else {
        fatalError("BIO_meth_new failed")
    }
    _ = BIO_meth_set_write(method) { bio, data, length in
        guard let bio, let data, length > 0 else { return 0 }
        petrel_BIO_clear_retry_flags(bio)
        let session = Unmanaged<TLSSession>.fromOpaque(BIO_get_data(bio)!).takeUnretainedValue()
        session.output?.tlsSessionWrite(UnsafeRawBufferPointer(start: data, count: Int(length)))
        return length
    }
    _ = BIO_meth_set_read(method) { bio, out, length in
        guard let bio, let out, length > 0 else { return 0 }
        petrel_BIO_clear_retry_flags(bio)
        let session = Unmanaged<TLSSession>.fromOpaque(BIO_get_data(bio)!).takeUnretainedValue()
        guard session.inputCount > 0, let input = session.input else {
            petrel_BIO_set_retry_read(bio)
            return -1
        }
        let n = min(Int(length), session.inputCount)
        UnsafeMutableRawPointer(out).copyMemory(from: input, byteCount: n)
        session.input = input + n
        session.inputCount -= n
        return Int32(n)
    }
    _ = BIO_meth_set_ctrl(method) { _, command, _, _ in
        command == BIO_CTRL_FLUSH ? 1 : 0
    }
    return method
}()
