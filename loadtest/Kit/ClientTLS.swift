import COpenSSL

/// Client TLS over memory BIOs: ciphertext from the socket goes into `rbio`, ciphertext for the
/// socket comes out of `wbio`, so the socket stays a plain libuv stream (the same shape as the
/// gateway's server-side TLS).
final class ClientTLS {
    /// One context per run, shared by every loop (OpenSSL contexts are thread-safe once set up).
    final class Context: @unchecked Sendable {
        let ctx: OpaquePointer

        init?(insecure: Bool) {
            guard let ctx = SSL_CTX_new(TLS_client_method()) else { return nil }
            self.ctx = ctx
            // SSL_MODE_RELEASE_BUFFERS (0x10): idle connections give their record buffers back.
            SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, 0x10, nil)
            if insecure {
                SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
            } else {
                SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
                SSL_CTX_set_default_verify_paths(ctx)
            }
        }

        deinit { SSL_CTX_free(ctx) }
    }

    let ssl: OpaquePointer
    let rbio: OpaquePointer
    let wbio: OpaquePointer
    private(set) var handshakeDone = false

    init?(context: Context, host: String, verifyHost: Bool) {
        guard let ssl = SSL_new(context.ctx) else { return nil }
        self.ssl = ssl
        rbio = BIO_new(BIO_s_mem())
        wbio = BIO_new(BIO_s_mem())
        SSL_set_bio(ssl, rbio, wbio)
        SSL_set_connect_state(ssl)
        // SNI (SSL_set_tlsext_host_name is a macro): SSL_CTRL_SET_TLSEXT_HOSTNAME = 55, host_name = 0.
        let isIPLiteral = host.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" }
        if !isIPLiteral {
            _ = host.withCString { SSL_ctrl(ssl, 55, 0, UnsafeMutableRawPointer(mutating: $0)) }
        }
        if verifyHost { _ = SSL_set1_host(ssl, host) }
    }

    deinit { SSL_free(ssl) }  // frees both BIOs

    enum Step { case wantMore, done, failed(String) }

    /// Drives the handshake; call after connect and after each `feed`.
    func handshake() -> Step {
        if handshakeDone { return .done }
        let rc = SSL_do_handshake(ssl)
        if rc == 1 { handshakeDone = true; return .done }
        let err = SSL_get_error(ssl, rc)
        if err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE { return .wantMore }
        let verify = SSL_get_verify_result(ssl)
        ERR_clear_error()
        return .failed(verify != 0 /* X509_V_OK */ ? "tls_verify_failed" : "tls_handshake_failed")
    }

    /// Ciphertext from the socket.
    func feed(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let n = BIO_write(rbio, bytes.baseAddress! + offset, Int32(bytes.count - offset))
            if n <= 0 { break }
            offset += Int(n)
        }
    }

    /// Plaintext into `buffer`: >0 bytes read, 0 nothing more for now, -1 closed, -2 error.
    func read(into buffer: UnsafeMutableRawPointer, capacity: Int) -> Int {
        let n = SSL_read(ssl, buffer, Int32(capacity))
        if n > 0 { return Int(n) }
        let err = SSL_get_error(ssl, n)
        if err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE { return 0 }
        if err == SSL_ERROR_ZERO_RETURN { return -1 }
        ERR_clear_error()
        return -2
    }

    /// Plaintext to encrypt; the records wait in `wbio` until `drain`.
    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = SSL_write(ssl, bytes.baseAddress! + offset, Int32(min(bytes.count - offset, 1 << 30)))
            if n <= 0 { ERR_clear_error(); return false }
            offset += Int(n)
        }
        return true
    }

    /// Moves pending ciphertext out through `send`, using `scratch` as the bounce buffer.
    func drain(scratch: UnsafeMutableRawPointer, capacity: Int, _ send: (UnsafeRawBufferPointer) -> Void) {
        while BIO_ctrl_pending(wbio) > 0 {
            let n = BIO_read(wbio, scratch, Int32(capacity))
            if n <= 0 { break }
            send(UnsafeRawBufferPointer(start: scratch, count: Int(n)))
        }
    }
}
