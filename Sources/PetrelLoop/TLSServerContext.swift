import COpenSSL
import Glibc
import Synchronization

/// One certificate chain and its key: the default certificate, or the one served for a server
/// name (SNI).
public struct TLSCertificateSource: Sendable, Equatable {
    /// `nil` for the default certificate; else a host name (`api.example.com`) or a wildcard
    /// (`*.example.com`, one label).
    public var serverName: String?
    /// Path to the PEM certificate chain, leaf first.
    public var certificatePath: String
    /// Path to the PEM private key, or the PEM text itself when it starts with `-----BEGIN`.
    public var privateKey: String
    /// The private key's file, nil when the key is given inline.
    public var privateKeyPath: String? { privateKey.hasPrefix("-----BEGIN") ? nil : privateKey }

    public init(serverName: String? = nil, certificatePath: String, privateKey: String) {
        self.serverName = serverName
        self.certificatePath = certificatePath
        self.privateKey = privateKey
    }
}

/// What a TLS listener serves: TLS 1.2 and 1.3 only, modern ciphers, ALPN `http/1.1`.
public struct TLSServerSettings: Sendable, Equatable {
    /// The first is the default (no SNI, or a name nobody else claims).
    public var certificates: [TLSCertificateSource]
    /// PEM CA bundle; when set, clients must present a certificate it verifies (mTLS).
    public var clientCAPath: String?
    /// PEM CRL file checked against client certificates (needs `clientCAPath`).
    public var crlPath: String?

    public init(certificates: [TLSCertificateSource], clientCAPath: String? = nil, crlPath: String? = nil) {
        self.certificates = certificates
        self.clientCAPath = clientCAPath
        self.crlPath = crlPath
    }
}

public struct TLSContextError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The TLS configuration of one listener, shared by every loop: `SSL_CTX` is safe to use from
/// several threads for `SSL_new`. `reload()` builds a new context from the same files and swaps
/// it in for new connections; existing connections keep the one they started with (each `SSL`
/// holds a reference on its `SSL_CTX`).
public final class TLSServerContext: Sendable {
    public let settings: TLSServerSettings
    private let current: Mutex<TLSContextGeneration>

    public init(settings: TLSServerSettings) throws(TLSContextError) {
        self.settings = settings
        current = Mutex(try TLSContextGeneration(settings))
    }

    /// Re-reads the certificate, key, CA and CRL files. On any error the running context stays
    /// and the error (naming the file) is thrown for the caller to log.
    public func reload() throws(TLSContextError) {
        let fresh = try TLSContextGeneration(settings)
        current.withLock { $0 = fresh }
    }

    /// A server-side session for one accepted connection, on the current context.
    public func makeSession() -> TLSSession {
        TLSSession(generation: current.withLock { $0 })
    }

    /// SHA-256 of the default certificate's DER, lowercase hex (logs, tests).
    public var defaultCertificateFingerprint: String {
        current.withLock { $0.defaultFingerprint }
    }

    // Mozilla's "intermediate" TLS 1.2 list: forward secrecy and AEAD only.
    static let tls12Ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
    static let tls13Suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
}

/// One build of a listener's contexts: the default `SSL_CTX` and one per extra SNI certificate,
/// all configured alike (the SNI callback moves a handshake to another context, and verification,
/// ALPN and protocol limits must hold whichever it lands on). Freed when the last session that
/// may still run a handshake on it lets go (`SSL_CTX` itself is reference counted by OpenSSL).
final class TLSContextGeneration: @unchecked Sendable {
    let defaultContext: OpaquePointer
    private let exact: [(name: String, context: OpaquePointer)]
    /// `*.example.com` stored as `.example.com`.
    private let wildcard: [(suffix: String, context: OpaquePointer)]
    let defaultFingerprint: String

    init(_ settings: TLSServerSettings) throws(TLSContextError) {
        guard let first = settings.certificates.first else { throw TLSContextError("no certificate configured") }
        if settings.crlPath != nil, settings.clientCAPath == nil {
            throw TLSContextError("crl: needs client_ca (a CRL applies to client certificates)")
        }
        // Everything is built into locals first, so a failure frees exactly what was made.
        let main = try Self.makeContext(first, settings)
        var exact: [(name: String, context: OpaquePointer)] = []
        var wildcard: [(suffix: String, context: OpaquePointer)] = []
        do throws(TLSContextError) {
            for source in settings.certificates.dropFirst() {
                guard let name = source.serverName?.lowercased(), !name.isEmpty else {
                    throw TLSContextError("certificate \(source.certificatePath): server_name is required for all but the first certificate")
                }
                let context = try Self.makeContext(source, settings)
                if name.hasPrefix("*.") {
                    wildcard.append((String(name.dropFirst()), context))
                } else {
                    exact.append((name, context))
                }
            }
        } catch {
            SSL_CTX_free(main)
            for entry in exact { SSL_CTX_free(entry.context) }
            for entry in wildcard { SSL_CTX_free(entry.context) }
            throw error
        }
        defaultContext = main
        self.exact = exact
        self.wildcard = wildcard
        defaultFingerprint = Self.fingerprint(SSL_CTX_get0_certificate(main))
        if !exact.isEmpty || !wildcard.isEmpty {
            // The generation outlives every handshake that can call back: sessions hold it
            // until their handshake ends.
            _ = petrel_SSL_CTX_set_servername_callback(main, selectContextForServerName)
            _ = petrel_SSL_CTX_set_servername_arg(main, Unmanaged.passUnretained(self).toOpaque())
        }
    }

    deinit { freeAll() }

    private func freeAll() {
        SSL_CTX_free(defaultContext)
        for entry in exact { SSL_CTX_free(entry.context) }
        for entry in wildcard { SSL_CTX_free(entry.context) }
    }

    /// The context for a client's SNI name; `nil` keeps the default.
    func context(forServerName raw: String) -> OpaquePointer? {
        let name = raw.lowercased()
        for entry in exact where entry.name == name { return entry.context }
        if let dot = name.firstIndex(of: ".") {
            let suffix = name[dot...]
            for entry in wildcard where entry.suffix == suffix { return entry.context }
        }
        return nil
    }

    private static func makeContext(_ source: TLSCertificateSource, _ settings: TLSServerSettings) throws(TLSContextError) -> OpaquePointer {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSContextError("SSL_CTX_new: \(openSSLErrors())") }
        do throws(TLSContextError) {
            try configure(ctx, source, settings)
        } catch {
            SSL_CTX_free(ctx)
            ERR_clear_error()
            throw error
        }
        return ctx
    }

    private static func configure(_ ctx: OpaquePointer, _ source: TLSCertificateSource, _ settings: TLSServerSettings) throws(TLSContextError) {
        func check(_ ok: Bool, _ what: @autoclosure () -> String) throws(TLSContextError) {
            if !ok { throw TLSContextError("\(what()): \(openSSLErrors())") }
        }
        try check(petrel_SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1, "TLS 1.2 minimum")
        try check(petrel_SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) == 1, "TLS 1.3 maximum")
        _ = SSL_CTX_set_options(ctx, petrel_SSL_OP_NO_COMPRESSION | petrel_SSL_OP_NO_RENEGOTIATION
                                    | petrel_SSL_OP_CIPHER_SERVER_PREFERENCE)
        try check(SSL_CTX_set_cipher_list(ctx, TLSServerContext.tls12Ciphers) == 1, "cipher list")
        try check(SSL_CTX_set_ciphersuites(ctx, TLSServerContext.tls13Suites) == 1, "TLS 1.3 cipher suites")
        // Idle connections give their record buffers back (DESIGN: small idle connections).
        _ = petrel_SSL_CTX_set_mode(ctx, Int(SSL_MODE_RELEASE_BUFFERS))
        // Resumption by stateless tickets only: no shared session cache (no lock shared by the
        // loops, no memory growing with the number of clients).
        _ = petrel_SSL_CTX_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_OFF))
        _ = SSL_CTX_set_num_tickets(ctx, 1)
        _ = SSL_CTX_set_session_id_context(ctx, "petrel", 6)
        SSL_CTX_set_alpn_select_cb(ctx, selectALPN, nil)
        // TLS 1.3 sessions take their traffic secrets from here and free their SSL (TLSSession).
        SSL_CTX_set_keylog_callback(ctx, tlsKeyLogCallback)

        let certPath = source.certificatePath
        guard access(certPath, R_OK) == 0 else { throw TLSContextError("certificate \(certPath): \(String(cString: strerror(errno)))") }
        try check(SSL_CTX_use_certificate_chain_file(ctx, certPath) == 1, "certificate \(certPath)")
        if source.privateKeyPath == nil {
            let key: OpaquePointer? = source.privateKey.withCString { text in
                guard let bio = BIO_new_mem_buf(text, Int32(strlen(text))) else { return nil }
                defer { BIO_free(bio) }
                return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
            }
            guard let key else { throw TLSContextError("private_key (inline PEM): \(openSSLErrors())") }
            defer { EVP_PKEY_free(key) }
            try check(SSL_CTX_use_PrivateKey(ctx, key) == 1, "private_key (inline PEM)")
        } else {
            let keyPath = source.privateKey
            guard access(keyPath, R_OK) == 0 else { throw TLSContextError("private_key \(keyPath): \(String(cString: strerror(errno)))") }
            try check(SSL_CTX_use_PrivateKey_file(ctx, keyPath, SSL_FILETYPE_PEM) == 1, "private_key \(keyPath)")
        }
        try check(SSL_CTX_check_private_key(ctx) == 1, "private key does not match certificate \(certPath)")

        if let ca = settings.clientCAPath {
            guard access(ca, R_OK) == 0 else { throw TLSContextError("client_ca \(ca): \(String(cString: strerror(errno)))") }
            try check(SSL_CTX_load_verify_locations(ctx, ca, nil) == 1, "client_ca \(ca)")
            // The CA names go into the CertificateRequest so clients pick the right certificate.
            guard let names = SSL_load_client_CA_file(ca) else { throw TLSContextError("client_ca \(ca): no certificate in file: \(openSSLErrors())") }
            SSL_CTX_set_client_CA_list(ctx, names)
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
            SSL_CTX_set_verify_depth(ctx, 8)
            if let crl = settings.crlPath {
                guard access(crl, R_OK) == 0 else { throw TLSContextError("crl \(crl): \(String(cString: strerror(errno)))") }
                let store = SSL_CTX_get_cert_store(ctx)
                let lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file())
                try check(lookup != nil && X509_load_crl_file(lookup, crl, X509_FILETYPE_PEM) > 0, "crl \(crl)")
                try check(X509_STORE_set_flags(store, UInt(X509_V_FLAG_CRL_CHECK)) == 1, "crl \(crl)")
            }
        }
        ERR_clear_error()
    }

    static func fingerprint(_ cert: OpaquePointer?) -> String {
        guard let cert else { return "" }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(cert, EVP_sha256(), &digest, &length) == 1 else { return "" }
        return digest.prefix(Int(length)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

/// Drains this thread's OpenSSL error queue into one line.
func openSSLErrors() -> String {
    var parts: [String] = []
    var buffer = [CChar](repeating: 0, count: 256)
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        ERR_error_string_n(code, &buffer, buffer.count)
        parts.append(buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
    }
    return parts.isEmpty ? "unknown error" : parts.joined(separator: "; ")
}

/// ALPN: `http/1.1` when offered; otherwise no ALPN answer (the handshake goes on).
private func selectALPN(_ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                        _ outLength: UnsafeMutablePointer<UInt8>?, _ input: UnsafePointer<UInt8>?,
                        _ inputLength: UInt32, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let out, let outLength, let input else { return SSL_TLSEXT_ERR_NOACK }
    let wanted: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0x68, 0x74, 0x74, 0x70, 0x2F, 0x31, 0x2E, 0x31)
    var i = 0
    let end = Int(inputLength)
    while i < end {
        let length = Int(input[i])
        guard i + 1 + length <= end else { break }
        if length == 8 {
            let p = input + i + 1
            if p[0] == wanted.0, p[1] == wanted.1, p[2] == wanted.2, p[3] == wanted.3,
               p[4] == wanted.4, p[5] == wanted.5, p[6] == wanted.6, p[7] == wanted.7 {
                out.pointee = UnsafePointer(p)
                outLength.pointee = 8
                return SSL_TLSEXT_ERR_OK
            }
        }
        i += 1 + length
    }
    return SSL_TLSEXT_ERR_NOACK
}

/// SNI: moves the handshake to the context whose certificate names the requested host. An
/// unknown name keeps the default certificate (no alert), as most servers do.
private func selectContextForServerName(_ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?,
                                        _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let ssl, let arg, let raw = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) else { return SSL_TLSEXT_ERR_OK }
    let generation = Unmanaged<TLSContextGeneration>.fromOpaque(arg).takeUnretainedValue()
    if let context = generation.context(forServerName: String(cString: raw)) {
        _ = SSL_set_SSL_CTX(ssl, context)
    }
    return SSL_TLSEXT_ERR_OK
}
