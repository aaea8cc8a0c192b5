import COpenSSL
import Foundation
@testable import PetrelLoop

/// Test PKI made with OpenSSL's API: P-256 keys, a CA, leaves signed by it, a CRL.
enum TestPKI {
    struct Issued {
        let cert: OpaquePointer  // X509*
        let key: OpaquePointer   // EVP_PKEY*
        var certPEM: String { pem { PEM_write_bio_X509($0, cert) } }
        var keyPEM: String { pem { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) } }
        var fingerprint: String { TLSContextGeneration.fingerprint(cert) }
    }

    static func key() -> OpaquePointer {
        let ctx = EVP_PKEY_CTX_new_from_name(nil, "EC", nil)!
        defer { EVP_PKEY_CTX_free(ctx) }
        precondition(EVP_PKEY_keygen_init(ctx) == 1)
        precondition(EVP_PKEY_CTX_set_group_name(ctx, "P-256") == 1)
        var key: OpaquePointer?
        precondition(EVP_PKEY_generate(ctx, &key) == 1)
        return key!
    }

    /// `issuer` nil: self-signed (a CA). Times are seconds since 1970.
    static func issue(_ subject: [(String, String)], issuer: Issued? = nil, isCA: Bool = false,
                      serial: [UInt8] = [0x01], notBefore: Int = 1_700_000_000, notAfter: Int = 4_102_444_800,
                      dnsNames: [String] = []) -> Issued {
        let key = key()
        let x = X509_new()!
        X509_set_version(x, 2)
        let bn = BN_bin2bn(serial, Int32(serial.count), nil)
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))
        BN_free(bn)
        ASN1_TIME_set(X509_getm_notBefore(x), time_t(notBefore))
        ASN1_TIME_set(X509_getm_notAfter(x), time_t(notAfter))
        let name = X509_NAME_new()!
        for (field, value) in subject {
            X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, value, -1, -1, 0)
        }
        X509_set_subject_name(x, name)
        X509_set_issuer_name(x, issuer.map { X509_get_subject_name($0.cert) } ?? name)
        X509_NAME_free(name)
        X509_set_pubkey(x, key)
        var v3 = X509V3_CTX()
        X509V3_set_ctx(&v3, issuer?.cert ?? x, x, nil, nil, 0)
        var extensions: [(Int32, String)] = [(NID_basic_constraints, isCA ? "critical,CA:TRUE" : "CA:FALSE")]
        if isCA { extensions.append((NID_key_usage, "critical,keyCertSign,cRLSign")) }
        if !dnsNames.isEmpty { extensions.append((NID_subject_alt_name, dnsNames.map { "DNS:\($0)" }.joined(separator: ","))) }
        for (nid, value) in extensions {
            let ext = X509V3_EXT_nconf_nid(nil, &v3, nid, value)!
            X509_add_ext(x, ext, -1)
            X509_EXTENSION_free(ext)
        }
        precondition(X509_sign(x, issuer?.key ?? key, EVP_sha256()) > 0)
        return Issued(cert: x, key: key)
    }

    /// A CRL by `ca` revoking `serials`.
    static func crl(by ca: Issued, revoking serials: [[UInt8]]) -> String {
        let crl = X509_CRL_new()!
        defer { X509_CRL_free(crl) }
        X509_CRL_set_version(crl, 1)
        X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca.cert))
        let now = time(nil)
        let last = ASN1_TIME_set(nil, now - 60)
        let next = ASN1_TIME_set(nil, now + 86_400)
        X509_CRL_set1_lastUpdate(crl, last)
        X509_CRL_set1_nextUpdate(crl, next)
        for serial in serials {
            let revoked = X509_REVOKED_new()
            let bn = BN_bin2bn(serial, Int32(serial.count), nil)
            let integer = BN_to_ASN1_INTEGER(bn, nil)
            X509_REVOKED_set_serialNumber(revoked, integer)
            X509_REVOKED_set_revocationDate(revoked, last)
            X509_CRL_add0_revoked(crl, revoked)
            ASN1_INTEGER_free(integer)
            BN_free(bn)
        }
        ASN1_TIME_free(last)
        ASN1_TIME_free(next)
        X509_CRL_sort(crl)
        precondition(X509_CRL_sign(crl, ca.key, EVP_sha256()) > 0)
        return pem { PEM_write_bio_X509_CRL($0, crl) }
    }

    static func pem(_ write: (OpaquePointer) -> Int32) -> String {
        let bio = BIO_new(BIO_s_mem())!
        defer { BIO_free(bio) }
        precondition(write(bio) == 1)
        var data: UnsafeMutablePointer<CChar>?
        let n = petrel_BIO_get_mem_data(bio, &data)
        return String(decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self)
    }
}

/// A scratch directory for PEM files.
final class TempDir {
    let url: URL
    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-tls-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    @discardableResult
    func write(_ name: String, _ text: String) -> String {
        let path = url.appendingPathComponent(name).path
        try! text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// Collects a server session's ciphertext.
final class ByteSink: TLSOutput {
    var bytes: [UInt8] = []
    private let scratch = UnsafeMutableRawPointer.allocate(byteCount: 32 * 1024, alignment: 16)
    deinit { scratch.deallocate() }
    func tlsSessionWrite(_ data: UnsafeRawBufferPointer) { bytes.append(contentsOf: data) }
    func tlsSessionReserve(_ count: Int) -> UnsafeMutableRawPointer {
        precondition(count <= 32 * 1024)
        return scratch
    }
    func tlsSessionCommit(_ count: Int) { bytes.append(contentsOf: UnsafeRawBufferPointer(start: scratch, count: count)) }
    func take() -> [UInt8] {
        defer { bytes = [] }
        return bytes
    }
}

/// An OpenSSL client over two memory BIOs, no sockets.
final class TestClient {
    struct Options {
        var minVersion: Int32 = 0
        var maxVersion: Int32 = 0
        var ciphers: String?
        var alpn: [String] = []
        var serverName: String?
        var certificate: TestPKI.Issued?
        var trust: TestPKI.Issued?
    }

    let ctx: OpaquePointer
    let ssl: OpaquePointer
    let rbio: OpaquePointer
    let wbio: OpaquePointer

    init(_ options: Options = Options()) {
        ctx = SSL_CTX_new(TLS_client_method())!
        if options.minVersion != 0 { _ = petrel_SSL_CTX_set_min_proto_version(ctx, options.minVersion) }
        if options.maxVersion != 0 { _ = petrel_SSL_CTX_set_max_proto_version(ctx, options.maxVersion) }
        if let ciphers = options.ciphers { precondition(SSL_CTX_set_cipher_list(ctx, ciphers) == 1) }
        if let issued = options.certificate {
            precondition(SSL_CTX_use_certificate(ctx, issued.cert) == 1)
            precondition(SSL_CTX_use_PrivateKey(ctx, issued.key) == 1)
        }
        if let trust = options.trust {
            X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), trust.cert)
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        }
        ssl = SSL_new(ctx)!
        rbio = BIO_new(BIO_s_mem())!
        wbio = BIO_new(BIO_s_mem())!
        SSL_set_bio(ssl, rbio, wbio)
        SSL_set_connect_state(ssl)
        if !options.alpn.isEmpty {
            var wire: [UInt8] = []
            for p in options.alpn { wire.append(UInt8(p.utf8.count)); wire.append(contentsOf: p.utf8) }
            precondition(SSL_set_alpn_protos(ssl, wire, UInt32(wire.count)) == 0)
        }
        if let name = options.serverName { precondition(petrel_SSL_set_tlsext_host_name(ssl, name) == 1) }
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(ctx)
    }

    var handshakeDone: Bool { SSL_is_init_finished(ssl) == 1 }

    func takeOutput() -> [UInt8] {
        let n = Int(petrel_BIO_pending(wbio))
        guard n > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: n)
        let got = BIO_read(wbio, &out, Int32(n))
        return Array(out.prefix(Int(max(got, 0))))
    }

    func give(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        precondition(BIO_write(rbio, bytes, Int32(bytes.count)) == Int32(bytes.count))
    }

    /// Decrypts whatever has arrived; nil once the connection failed (alert).
    func read() -> [UInt8]? {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = SSL_read(ssl, &buffer, Int32(buffer.count))
            if n > 0 { out.append(contentsOf: buffer.prefix(Int(n))); continue }
            let error = SSL_get_error(ssl, n)
            ERR_clear_error()
            return error == SSL_ERROR_WANT_READ ? out : (out.isEmpty ? nil : out)
        }
    }

    func write(_ bytes: [UInt8]) {
        let n = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        precondition(n == Int32(bytes.count), "client SSL_write \(n)")
    }

    var alpn: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    var peerFingerprint: String {
        guard let cert = SSL_get1_peer_certificate(ssl) else { return "" }
        defer { X509_free(cert) }
        return TLSContextGeneration.fingerprint(cert)
    }

    var verifyResult: Int { SSL_get_verify_result(ssl) }
}

/// A server session and a test client wired back to back.
final class TLSPair {
    let server: TLSSession
    let sink = ByteSink()
    let client: TestClient
    /// Ciphertext reaches the server in pieces of this size (partial records).
    var fragment: Int
    let plaintext: UnsafeMutableRawBufferPointer
    var serverReceived: [UInt8] = []
    var deliveries = 0
    /// The server writes back what it reads.
    var echo = true
    private(set) var serverResult: TLSSession.FeedResult = .ok

    init(context: TLSServerContext, client: TestClient.Options = .init(), fragment: Int = 1 << 30, plaintextBuffer: Int = 4096) {
        server = context.makeSession()
        server.output = sink
        self.client = TestClient(client)
        self.fragment = fragment
        plaintext = UnsafeMutableRawBufferPointer.allocate(byteCount: plaintextBuffer, alignment: 16)
    }

    deinit { plaintext.deallocate() }

    /// Client bytes to the server; returns true when something moved.
    @discardableResult
    func clientToServer() -> Bool {
        let bytes = client.takeOutput()
        guard !bytes.isEmpty else { return false }
        var offset = 0
        while offset < bytes.count, serverResult == .ok {
            let end = min(bytes.count, offset + fragment)
            var piece = Array(bytes[offset..<end])
            serverResult = piece.withUnsafeMutableBytes { chunk in
                server.feed(chunk, plaintext: plaintext) { data in
                    deliveries += 1
                    serverReceived.append(contentsOf: data)
                    if echo { server.encrypt(UnsafeRawBufferPointer(data)) }
                    return true
                }
            }
            offset = end
        }
        return true
    }

    @discardableResult
    func serverToClient() -> Bool {
        let bytes = sink.take()
        client.give(bytes)
        return !bytes.isEmpty
    }

    /// Runs both sides until nothing moves. True when both finished the handshake.
    @discardableResult
    func handshake() -> Bool {
        for _ in 0..<20 {
            if !client.handshakeDone {
                let rc = SSL_do_handshake(client.ssl)
                if rc != 1 { ERR_clear_error() }
            }
            let sent = clientToServer()
            let received = serverToClient()
            let moved = sent || received
            if serverResult != .ok { return false }
            if !moved && client.handshakeDone { break }
        }
        // TLS 1.3: the client learns of a refused certificate only on its next read.
        _ = client.read()
        return server.isHandshakeComplete && client.handshakeDone && serverResult == .ok
    }
}
