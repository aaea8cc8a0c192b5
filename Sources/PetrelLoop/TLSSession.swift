import COpenSSL

/// Where a session's ciphertext goes (the TCP stream; a test's byte collector).
public protocol TLSOutput: AnyObject {
    /// Ciphertext to send, in order. The bytes are valid only during the call.
    func tlsSessionWrite(_ bytes: UnsafeRawBufferPointer)
    /// Room for `count` bytes of ciphertext, sealed in place and then passed to
    /// `tlsSessionCommit` (the record layer writes records straight into the output).
    func tlsSessionReserve(_ count: Int) -> UnsafeMutableRawPointer
    func tlsSessionCommit(_ count: Int)
}

/// The server side of one TLS connection, driven by bytes rather than a socket.
///
/// OpenSSL reads and writes through one custom BIO: reads take ciphertext straight from the
/// buffer handed to `feed` (no copy into a memory BIO), writes go straight to `output` (which
/// batches them per operation). So a session owns no byte buffers of its own: with
/// `SSL_MODE_RELEASE_BUFFERS` an idle TLS connection is the `SSL` object and little else, where
/// `BIO_s_mem` pairs would keep their high-water buffers for the connection's whole life.
///
/// Once a TLS 1.3 handshake is over, the `SSL` object itself goes too: the traffic secrets come
/// from OpenSSL's key-log callback, `TLS13RecordLayer` protects records from then on, and what
/// callers may still ask (ALPN, version, SNI name, client certificate) is kept. TLS 1.2
/// connections stay with OpenSSL throughout.
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

    /// Until a TLS 1.3 handshake ends (then `records`), or for the whole of a TLS 1.2 session.
    private var ssl: OpaquePointer?
    private(set) var records: TLS13RecordLayer?
    /// Held until the handshake ends: the SNI callback uses it.
    private var generation: TLSContextGeneration?
    public unowned(unsafe) var output: TLSOutput?
    fileprivate var input: UnsafeRawPointer?
    fileprivate var inputCount = 0
    public private(set) var isHandshakeComplete = false
    public private(set) var failureReason: String?
    private var sentCloseNotify = false
    /// The peer's close_notify came: nothing after it is read (as OpenSSL's SSL_read would).
    private var receivedCloseNotify = false
    /// During a TLS 1.3 handshake: the traffic secrets from the key log, and how many records
    /// OpenSSL sealed under the server's (tickets) — our first write sequence number.
    fileprivate var handshakeSecrets: HandshakeSecrets?
    /// A record split across reads (only then allocated), with `partialCount` bytes so far.
    private var partial: UnsafeMutableRawPointer?
    private var partialCount = 0
    /// What was negotiated, kept when `ssl` is freed.
    private var keptALPN: String?
    private var keptServerName: String?
    private var keptPeerCertificate: OpaquePointer?  // X509*, one reference

    init(generation: TLSContextGeneration) {
        guard let ssl = SSL_new(generation.defaultContext) else { fatalError("SSL_new failed: out of memory") }
        self.ssl = ssl
        self.generation = generation
        guard let bio = BIO_new(tlsBIOMethod) else { fatalError("BIO_new failed: out of memory") }
        BIO_set_data(bio, Unmanaged.passUnretained(self).toOpaque())
        BIO_set_init(bio, 1)
        SSL_set_bio(ssl, bio, bio)
        SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())
        SSL_set_accept_state(ssl)
    }

    /// A session past its handshake with the given TLS 1.3 traffic secrets and no `SSL` at all:
    /// both ends of a record-layer conversation for the fuzzer (Fuzz/FuzzTLSRecords), which
    /// swaps the secrets for the client end. `suite` is the IANA id (0x1301–0x1303).
    @_spi(Fuzzing) public init?(suite: UInt16, readSecret: [UInt8], writeSecret: [UInt8]) {
        guard let suite = TLS13RecordLayer.Suite(id: suite),
              let layer = readSecret.withUnsafeBytes({ read in
                  writeSecret.withUnsafeBytes { write in
                      TLS13RecordLayer(suite: suite, clientSecret: read, serverSecret: write, recordsAlreadyWritten: 0)
                  }
              })
        else { return nil }
        records = layer
        isHandshakeComplete = true
    }

    /// Sends a KeyUpdate now (as a peer may at any time), asking the other end for one too.
    @_spi(Fuzzing) public func sendKeyUpdate() -> Bool {
        guard let records, failureReason == nil, let output else { return false }
        let out = output.tlsSessionReserve(TLS13RecordLayer.sealedLength(5))
        guard let written = records.sealKeyUpdate(requestingPeerUpdate: true, into: out) else { return false }
        output.tlsSessionCommit(written)
        return true
    }

    deinit {
        if let ssl { SSL_free(ssl) }
        if let keptPeerCertificate { X509_free(keptPeerCertificate) }
        if let partial {
            OPENSSL_cleanse(partial, partialCount)
            partial.deallocate()
        }
        handshakeSecrets?.wipe()
    }

    /// Ciphertext in. Runs the handshake, then decrypts every complete record into `plaintext`
    /// and hands it to `deliver` (as few calls as the buffer allows; usually one per feed).
    /// `deliver` returns false to stop (the connection is closing). Output (handshake messages,
    /// alerts, tickets) goes to `output` as it is produced.
    /// `ciphertext` may be overwritten (records are opened in place).
    public func feed(_ ciphertext: UnsafeMutableRawBufferPointer, plaintext: UnsafeMutableRawBufferPointer,
                     deliver: (UnsafeMutableRawBufferPointer) -> Bool) -> FeedResult {
        if failureReason != nil { return .failed }
        if receivedCloseNotify { return .closed }
        if records != nil { return feedRecords(ciphertext, plaintext: plaintext, deliver: deliver) }
        guard let ssl else { return .failed }
        input = UnsafeRawPointer(ciphertext.baseAddress)
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
            if takeOverRecords() {
                // OpenSSL reads a record at a time: what follows the client's Finished is ours.
                let rest = UnsafeMutableRawBufferPointer(start: ciphertext.baseAddress.map { $0 + (ciphertext.count - inputCount) },
                                                         count: inputCount)
                return feedRecords(rest, plaintext: plaintext, deliver: deliver)
            }
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
        if let records { return seal(records, plaintext) }
        guard let ssl else { return false }
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
        if let records {
            sendAlert(records, 0)
        } else if let ssl {
            _ = SSL_shutdown(ssl)
            ERR_clear_error()
        }
    }

    private func fail(_ error: Int32) -> FeedResult {
        let detail = error == SSL_ERROR_SSL ? openSSLErrors() : "SSL error \(error)"
        failureReason = detail
        ERR_clear_error()
        generation = nil
        return .failed
    }

    // MARK: TLS 1.3 records without OpenSSL

    /// Right after a TLS 1.3 handshake: hands record protection to `TLS13RecordLayer` and frees
    /// the `SSL` object. False (OpenSSL keeps the session) for TLS 1.2, for a suite the layer does
    /// not do, or if the key log did not give both secrets.
    private func takeOverRecords() -> Bool {
        guard let ssl, let secrets = handshakeSecrets else { return false }
        defer {
            secrets.wipe()
            handshakeSecrets = nil
        }
        guard SSL_version(ssl) == TLS1_3_VERSION, let cipher = SSL_get_current_cipher(ssl),
              let suite = TLS13RecordLayer.Suite(id: UInt16(truncatingIfNeeded: SSL_CIPHER_get_id(cipher))),
              let layer = secrets.client.withUnsafeBytes({ client in
                  secrets.server.withUnsafeBytes { server in
                      TLS13RecordLayer(suite: suite, clientSecret: client, serverSecret: server,
                                       recordsAlreadyWritten: secrets.recordsWritten)
                  }
              })
        else { return false }
        keptALPN = negotiatedProtocol
        keptServerName = serverName
        keptPeerCertificate = SSL_get1_peer_certificate(ssl)
        records = layer
        SSL_free(ssl)
        self.ssl = nil
        return true
    }

    fileprivate func keyLogged(_ line: UnsafePointer<CChar>) {
        var secret: [UInt8] = []
        guard let isServer = TLS13KeySchedule.trafficSecret(fromKeyLogLine: line, into: &secret) else { return }
        let secrets = handshakeSecrets ?? HandshakeSecrets()
        handshakeSecrets = secrets
        if isServer {
            secrets.server = secret
            // OpenSSL logs the server's application secret once its last handshake record is out;
            // every record it writes from here on (tickets) used that key.
            secrets.countingRecords = true
        } else {
            secrets.client = secret
        }
    }

    private func feedRecords(_ input: UnsafeMutableRawBufferPointer, plaintext: UnsafeMutableRawBufferPointer,
                             deliver: (UnsafeMutableRawBufferPointer) -> Bool) -> FeedResult {
        guard let records else { return .failed }
        var filled = 0
        /// False: the handler stopped reading (the connection is closing).
        func flush() -> Bool {
            guard filled > 0 else { return true }
            defer { filled = 0 }
            return deliver(UnsafeMutableRawBufferPointer(start: plaintext.baseAddress, count: filled))
        }
        /// nil: go on with the next record.
        func handle(_ record: UnsafeMutableRawPointer, _ length: Int) -> FeedResult? {
            switch records.open(record, length: length) {
            case .data(let n):
                guard n > 0 else { return nil }
                let content = record + TLS13RecordLayer.headerLength
                if n > plaintext.count - filled {
                    guard flush() else { return .ok }
                    if n > plaintext.count {
                        return deliver(UnsafeMutableRawBufferPointer(start: content, count: n)) ? nil : .ok
                    }
                }
                (plaintext.baseAddress! + filled).copyMemory(from: content, byteCount: n)
                filled += n
                return nil
            case .nothing:
                if records.takeKeyUpdateRequest() {
                    guard sealKeyUpdate(records) else { return .failed }
                }
                return nil
            case .closeNotify:
                receivedCloseNotify = true
                return flush() ? .closed : .ok
            case .failure(let reason, let alert):
                guard flush() else { return .ok }
                if let alert { sendAlert(records, alert) }
                failureReason = reason
                return .failed
            }
        }

        let total = input.count
        var offset = 0
        while offset < total || partialCount >= TLS13RecordLayer.headerLength {
            if let stash = partial {
                // The rest of a record that began in an earlier read.
                let header = TLS13RecordLayer.headerLength
                if partialCount < header {
                    let n = min(header - partialCount, total - offset)
                    (stash + partialCount).copyMemory(from: input.baseAddress! + offset, byteCount: n)
                    partialCount += n
                    offset += n
                    if partialCount < header { break }
                }
                let length = header + Self.bodyLength(stash)
                guard length - header <= TLS13RecordLayer.maxCiphertext else { return overflow(records, flush) }
                let record: UnsafeMutableRawPointer
                if partialCount == header {
                    // Now that the length is known, room for exactly this record.
                    record = UnsafeMutableRawPointer.allocate(byteCount: length, alignment: 16)
                    record.copyMemory(from: stash, byteCount: header)
                    stash.deallocate()
                    partial = record
                } else {
                    record = stash
                }
                let n = min(length - partialCount, total - offset)
                if n > 0 { (record + partialCount).copyMemory(from: input.baseAddress! + offset, byteCount: n) }
                partialCount += n
                offset += n
                if partialCount < length { break }
                let result = handle(record, length)
                partial = nil
                partialCount = 0
                record.deallocate()
                if let result { return result }
                continue
            }
            let start = input.baseAddress! + offset
            let left = total - offset
            if left >= TLS13RecordLayer.headerLength {
                let body = Self.bodyLength(start)
                guard body <= TLS13RecordLayer.maxCiphertext else { return overflow(records, flush) }
                let length = TLS13RecordLayer.headerLength + body
                if left >= length {
                    offset += length
                    if let result = handle(start, length) { return result }
                    continue
                }
                partial = UnsafeMutableRawPointer.allocate(byteCount: length, alignment: 16)
            } else {
                partial = UnsafeMutableRawPointer.allocate(byteCount: TLS13RecordLayer.headerLength, alignment: 16)
            }
            partial!.copyMemory(from: start, byteCount: left)
            partialCount = left
            offset = total
        }
        _ = flush()
        return .ok
    }

    private static func bodyLength(_ header: UnsafeMutableRawPointer) -> Int {
        Int(header.load(fromByteOffset: 3, as: UInt8.self)) << 8 | Int(header.load(fromByteOffset: 4, as: UInt8.self))
    }

    private func overflow(_ records: TLS13RecordLayer, _ flush: () -> Bool) -> FeedResult {
        guard flush() else { return .ok }
        sendAlert(records, 22)
        failureReason = "record overflow"
        return .failed
    }

    private func seal(_ records: TLS13RecordLayer, _ plaintext: UnsafeRawBufferPointer) -> Bool {
        guard let output else { return true }
        var offset = 0
        while offset < plaintext.count {
            if records.writeKeyIsWornOut { guard sealKeyUpdate(records) else { return false } }
            let n = min(TLS13RecordLayer.maxPlaintext, plaintext.count - offset)
            let out = output.tlsSessionReserve(TLS13RecordLayer.sealedLength(n))
            guard let written = records.seal(23, UnsafeRawBufferPointer(rebasing: plaintext[offset..<(offset + n)]), into: out) else {
                failureReason = "record encryption failed: \(openSSLErrors())"
                return false
            }
            output.tlsSessionCommit(written)
            offset += n
        }
        return true
    }

    private func sealKeyUpdate(_ records: TLS13RecordLayer) -> Bool {
        guard let output else { return true }
        let out = output.tlsSessionReserve(TLS13RecordLayer.sealedLength(5))
        guard let written = records.sealKeyUpdate(requestingPeerUpdate: false, into: out) else {
            failureReason = "key update failed: \(openSSLErrors())"
            return false
        }
        output.tlsSessionCommit(written)
        return true
    }

    /// close_notify (0) as a warning, anything else fatal; best effort on the way out.
    private func sendAlert(_ records: TLS13RecordLayer, _ description: UInt8) {
        guard let output else { return }
        let alert: [UInt8] = [description == 0 ? 1 : 2, description]
        let out = output.tlsSessionReserve(TLS13RecordLayer.sealedLength(2))
        if let written = alert.withUnsafeBytes({ records.seal(21, $0, into: out) }) { output.tlsSessionCommit(written) }
    }

    // MARK: What was negotiated

    /// The ALPN protocol chosen (`http/1.1`), if the client offered it.
    public var negotiatedProtocol: String? {
        guard let ssl else { return keptALPN }
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// `TLSv1.2` or `TLSv1.3`.
    public var protocolVersion: String { ssl.map { String(cString: SSL_get_version($0)) } ?? "TLSv1.3" }

    /// The SNI name the client asked for.
    public var serverName: String? {
        guard let ssl else { return keptServerName }
        return SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name).map { String(cString: $0) }
    }

    /// The verified client certificate (mTLS), computed on each call from the certificate the
    /// session keeps anyway, so connections carry no copy of it.
    public var clientCertificate: ClientCertificateInfo? {
        guard isHandshakeComplete else { return nil }
        guard let ssl else { return keptPeerCertificate.map(ClientCertificateInfo.init) }
        guard let cert = SSL_get0_peer_certificate(ssl) else { return nil }
        return ClientCertificateInfo(cert)
    }
}

// MARK: The handshake's traffic secrets

/// The two `*_TRAFFIC_SECRET_0` of a TLS 1.3 handshake, as OpenSSL's key log reports them (the
/// only public way OpenSSL 3.0 gives them out; they never leave the process), and the records
/// sealed under the server's before the record layer takes over.
final class HandshakeSecrets {
    var client: [UInt8] = []
    var server: [UInt8] = []
    var countingRecords = false
    private(set) var recordsWritten: UInt64 = 0
    private var headerFill = 0
    private var lengthHigh = 0
    private var bodyLeft = 0

    /// Walks the record headers of what OpenSSL writes (records may span writes).
    func countRecordsWritten(_ bytes: UnsafeRawBufferPointer) {
        guard countingRecords else { return }
        var i = 0
        while i < bytes.count {
            if bodyLeft > 0 {
                let n = min(bodyLeft, bytes.count - i)
                bodyLeft -= n
                i += n
                continue
            }
            let byte = Int(bytes[i])
            i += 1
            switch headerFill {
            case 3:
                lengthHigh = byte
                headerFill = 4
            case 4:
                bodyLeft = lengthHigh << 8 | byte
                headerFill = 0
                recordsWritten += 1
            default:
                headerFill += 1
            }
        }
    }

    func wipe() {
        OPENSSL_cleanse(&client, client.count)
        OPENSSL_cleanse(&server, server.count)
    }
}

/// `SSL_CTX_set_keylog_callback` target for every context of `TLSServerContext`.
func tlsKeyLogCallback(_ ssl: OpaquePointer?, _ line: UnsafePointer<CChar>?) {
    guard let ssl, let line, let data = SSL_get_ex_data(ssl, 0) else { return }
    Unmanaged<TLSSession>.fromOpaque(data).takeUnretainedValue().keyLogged(line)
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
        let bytes = UnsafeRawBufferPointer(start: data, count: Int(length))
        session.handshakeSecrets?.countRecordsWritten(bytes)
        session.output?.tlsSessionWrite(bytes)
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
